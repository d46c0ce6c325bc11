"""``kinetic demo``: the whole pipeline on embedded defaults, no servers needed.

An in-process MQTT broker (amqtt), the embedded SQLite store, the real bridge and alert service, and the
simulator driving several virtual wearers through a workday at accelerated time. Prompts appear live;
a per-wearer summary is computed from what the bridge stored. Like ``kinetic.cli``, this module is part of the
composition root: it builds the real adapters and wires ingest and alerts together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from alerts.engine import AlertEngine, engine_from_settings
from alerts.prompts.calendar import Busy, busy_intervals
from alerts.service import AlertService
from ingest.bridge import Bridge
from ingest.embedded_broker import embedded_broker
from ingest.mqtt import connect, serve
from ingest.settings import MqttSettings
from ingest.simulate.scenario import Scenario, calendar_ics
from ingest.simulate.service import Progress, simulate
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.store.spool import open_spool
from ingest.wire import EventV1, PromptV1, Topics, encode
from kinetic.settings import KineticSettings

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class WearerSummary:
    wearer: str
    stored_s: int = 0  # seconds of the day stored (frames)
    sitting_min: float = 0.0
    sitting_bouts: int = 0
    bouts_30min_plus: int = 0
    longest_bout_min: float = 0.0
    breaks: int = 0
    prompts: list[dict[str, str]] = field(default_factory=list)


@dataclass
class DemoSummary:
    scenario_start: str
    scenario_hours: float
    wall_s: float
    frames: int
    batches: int
    dead_letters: int
    wearers: list[WearerSummary]
    db_path: str = ""
    stopped_early: bool = False  # SIGINT or SIGTERM before the day was played: what was stored until then
    stored_until: str | None = None  # the end of the last minute stored (the scenario's clock), None: nothing stored

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def on_wearers_clock(scenario: Scenario, zone: ZoneInfo) -> Scenario:
    """``scenario`` moved to the same date and time of day on the clock of ``zone`` (the built-in workday's 09:00
    stays 09:00 for a newcomer anywhere: the Today page, the report and the demo's lines show it there). Everything
    else in a scenario is relative to its start."""
    local = scenario.start.replace(tzinfo=None)
    return replace(scenario, start=local.replace(tzinfo=zone))


async def run_demo(
    scenario: Scenario,
    settings: KineticSettings,
    *,
    db_path: Path,
    speed: float,
    on_prompt: Callable[[PromptV1], None] | None = None,
    on_event: Callable[[EventV1], None] | None = None,
    progress: Progress | None = None,
    ble: bool = False,
    on_url: Callable[[str], None] | None = None,
    on_day_played: Callable[[], None] | None = None,
) -> DemoSummary:
    """Play ``scenario`` through the whole pipeline and summarise what was stored. With ``on_url``, ``kinetic
    serve``'s app runs beside it (``settings.web``) and gets its URL; once the day is played (``on_day_played``),
    it stays up, broker and all, until SIGINT or SIGTERM. A SIGINT or SIGTERM while the day plays stops it there:
    the simulator stops, what the bridge received is stored, the bouts still open are ended, and the summary
    (``stopped_early``) says what the store holds. A second signal during that stop is not caught."""
    loop = asyncio.get_running_loop()
    wall0 = loop.time()
    topics = Topics(settings.mqtt.topic_root)
    spool_path = db_path.with_name(db_path.stem + "-spool.sqlite")
    _drop_stale_spool(db_path, spool_path)
    sink = EmbeddedSink(db_path)
    # the scripted day runs on its own clock: a button pressed while it plays is judged at the wearer's latest second
    # (one pressed before the wearer's first frame waits for it in the engine's memory only: not in the state file)
    engine = engine_from_settings(settings.alerts.model_copy(update={"commands_on_data_clock": True}))
    engine.busy.update(scenario_busy(scenario))
    spool = open_spool(settings.bridge, spool_path)
    # the demo plays a scripted day at accelerated time: its dates may lie ahead of this host's clock, or behind it
    # (its prompts are shown as if the day were now, not refused as expired)
    bridge = Bridge(topics=topics, sink=sink, spool=spool, settings=settings.bridge, max_ahead_ms=None)
    alerts = AlertService(
        topics=topics, engine=engine, on_prompt=on_prompt, on_event=on_event, max_ahead_ms=None, send_expired=True
    )
    stop = asyncio.Event()
    signalled = asyncio.Event()  # SIGINT or SIGTERM: the day stops where it is (or, with on_url, the demo ends)
    stopped_early = False
    try:
        async with embedded_broker() as port, _signals(signalled):
            mqtt = settings.mqtt.model_copy(
                update={
                    "host": "127.0.0.1",
                    "port": port,
                    "username": None,
                    "password": None,
                    "tls": False,
                    "ca_file": None,
                    "cert_file": None,
                    "key_file": None,
                }
            )
            async with asyncio.TaskGroup() as group:
                group.create_task(serve(bridge.run, mqtt, "kinetic-demo-bridge", stop, manual_ack=True), name="bridge")
                group.create_task(serve(alerts.run, mqtt, "kinetic-demo-alerts", stop), name="alerts")
                await asyncio.wait_for(asyncio.gather(bridge.ready.wait(), alerts.ready.wait()), 30)
                web_queries = None
                if on_url is not None:
                    from dashboards.web.service import run_web  # noqa: PLC0415 - the ASGI stack only with --serve

                    web_queries = EmbeddedQueries(db_path)
                    web_ready = asyncio.Event()

                    def listening(url: str) -> None:
                        web_ready.set()
                        on_url(url)

                    web_settings = settings.model_copy(update={"mqtt": mqtt})
                    group.create_task(
                        run_web(web_settings, stop, on_listening=listening, queries=web_queries, max_ahead_ms=None),
                        name="web",
                    )
                    await asyncio.wait_for(web_ready.wait(), 30)

                async def play() -> tuple[int, int]:
                    """The day through the simulator (or the BLE path); (frames, batches) published."""
                    if ble:
                        # the edge path: emulated BLE sensors on the virtual radio, read by the real collector
                        from ingest.ble.simulate_ble import simulate_ble  # noqa: PLC0415 - Bumble only in this mode

                        sim = await simulate_ble(
                            scenario,
                            mqtt=mqtt,
                            topics=topics,
                            speed=speed,
                            queue_path=db_path.with_name(db_path.stem + "-ble-queue.sqlite"),
                            batch_s=settings.simulate.batch_s,
                        )
                        return sim.counters.frames, sim.counters.batches_queued
                    result = await simulate(
                        scenario,
                        mqtt=mqtt,
                        topics=topics,
                        speed=speed,
                        batch_s=settings.simulate.batch_s,
                        progress=progress,
                    )
                    return result.frames, result.batches

                played = await _unless_signalled(play(), signalled)
                if played is None:  # stopped while playing: store what arrived, end the open bouts there
                    stopped_early = True
                    await _wait_quiet(bridge)
                    frames, batches = 0, bridge.counters.messages  # frames: counted in the store (_summarise)
                else:
                    frames, batches = played
                    # Let the alert service see every batch, then end the bouts still open at the end of data.
                    await _unless_signalled(_wait_seen(engine, batches), signalled)
                await _close_open_bouts(engine, alerts, mqtt, topics)
                await _wait_quiet(bridge)
                if on_url is not None and not stopped_early:
                    if on_day_played is not None:
                        on_day_played()
                    await signalled.wait()
                stop.set()
            if web_queries is not None:
                web_queries.close()
        return await _summarise(
            scenario,
            db_path,
            frames,
            batches,
            bridge.dead_letters.count + alerts.dead_letters.count,
            loop.time() - wall0,
            stopped_early=stopped_early,
        )
    finally:
        spool.close()
        await sink.aclose()


def _drop_stale_spool(db_path: Path, spool_path: Path) -> None:
    """Remove the spool a demo left beside a database that is gone (``db_path`` does not exist). The spool belongs
    to its database: its rollup state says which minutes were folded into *that* store, so a replay of the same day
    into a new one would be taken as repeats and store no minute rollups; its unsent lines were the old store's copy
    of a scripted day."""
    if db_path.exists():
        return
    for path in (spool_path, *(spool_path.with_name(spool_path.name + end) for end in ("-wal", "-shm"))):
        if path.exists():
            _LOGGER.info("demo: the database is new: %s, left by the one removed, goes too", path)
            path.unlink()


def scenario_busy(scenario: Scenario) -> dict[str, list[Busy]]:
    """Each wearer's scripted meetings (docs/scenarios.md) as the alert service reads a calendar feed: the feed
    ``calendar_ics`` makes of them, read by ``busy_intervals`` over the scenario's day. The live service's calendar
    refresher follows the host's clock and would not see a scripted day's meetings."""
    start = scenario.start
    end = start + timedelta(seconds=scenario.duration_s, days=1)
    busy: dict[str, list[Busy]] = {}
    for script in scenario.wearers:
        if script.calendar:
            found = busy_intervals(calendar_ics(scenario, script), start - timedelta(days=1), end, ZoneInfo("UTC"))
            busy[script.wearer] = sorted({*busy.get(script.wearer, []), *found}, key=lambda b: b.start_ms)
    return busy


STALL_S = 30.0  # the alert service taking no batch for this long while some are missing: go on, and say so


async def _wait_seen(engine: AlertEngine, batches: int) -> None:
    """Wait until the alert service has taken every published batch; never forever (a lost message would
    otherwise hang the demo): after ``STALL_S`` without progress it says how many it saw and goes on."""
    counters = engine.counters
    seen, since = counters.batches, asyncio.get_running_loop().time()
    while counters.batches < batches:
        await asyncio.sleep(0.02)
        now = asyncio.get_running_loop().time()
        if counters.batches != seen:
            seen, since = counters.batches, now
        elif now - since > STALL_S:
            _LOGGER.warning("demo: the alert service took %d of %d batches; summarising what arrived", seen, batches)
            return


@contextlib.asynccontextmanager
async def _signals(signalled: asyncio.Event) -> AsyncIterator[None]:
    """SIGINT and SIGTERM set ``signalled`` while inside; the first one also gives them back to Python, so that a
    second Ctrl-C during the stop interrupts as usual."""
    loop = asyncio.get_running_loop()
    sigs = (signal.SIGINT, signal.SIGTERM)

    def caught() -> None:
        signalled.set()
        for sig in sigs:
            loop.remove_signal_handler(sig)

    for sig in sigs:
        loop.add_signal_handler(sig, caught)
    try:
        yield
    finally:
        for sig in sigs:
            loop.remove_signal_handler(sig)


async def _unless_signalled(work: Coroutine[Any, Any, T], signalled: asyncio.Event) -> T | None:
    """``work``'s result, or None when ``signalled`` is set first (``work`` is then cancelled and waited for)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(signalled.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    return None if task.cancelled() else task.result()


async def _close_open_bouts(engine: AlertEngine, alerts: AlertService, mqtt: MqttSettings, topics: Topics) -> None:
    async with connect(mqtt, "kinetic-demo-close") as client:
        for wearer in list(engine.wearers):
            for event in engine.close(wearer):
                await client.publish(topics.events(event.wearer), encode(event), qos=1)
                alerts.events_published += 1


async def _wait_quiet(bridge: Bridge, quiet_s: float = 0.3) -> None:
    """Wait until the bridge has received nothing new for ``quiet_s`` and has written everything."""
    seen = -1
    while seen != bridge.counters.messages:
        seen = bridge.counters.messages
        await asyncio.sleep(quiet_s)
        await bridge.drain()


async def _summarise(
    scenario: Scenario,
    db_path: Path,
    frames: int,
    batches: int,
    dead: int,
    wall_s: float,
    *,
    stopped_early: bool = False,
) -> DemoSummary:
    """The per-wearer summary, from what the bridge stored, through the same query layer reports use. ``frames``:
    published; a day stopped early counts the stored ones instead."""
    queries = EmbeddedQueries(db_path)
    start, end = scenario.start_ms, scenario.start_ms + (scenario.duration_s + 3600) * 1000
    wearers: list[WearerSummary] = []
    until_ms: int | None = None
    try:
        for wearer in dict.fromkeys(w.wearer for w in scenario.wearers):
            summary = WearerSummary(wearer)
            stored = [m for m in await queries.minutes(wearer, start, end) if m.frames]
            summary.stored_s = sum(m.frames for m in stored)
            if stored:
                until_ms = max(until_ms or 0, stored[-1].t_ms + 60_000)
            for bout in await queries.sitting_bouts(wearer, start, end):
                minutes = bout.duration_s / 60
                summary.sitting_bouts += 1
                summary.sitting_min += minutes
                summary.bouts_30min_plus += minutes >= 30
                summary.longest_bout_min = max(summary.longest_bout_min, minutes)
            # breaks (sit-to-upright transitions) are counted in the hourly summaries
            summary.breaks = round(sum(h.get("breaks", 0.0) for h in await queries.hours(wearer, start, end)))
            for prompt in await queries.prompts(wearer, start, end):
                created = datetime.fromtimestamp(prompt.t_ms / 1000, scenario.start.tzinfo)
                summary.prompts.append(
                    {
                        "created": created.isoformat(),
                        "exercise": prompt.exercise,
                        "id": prompt.id,
                        "trigger": prompt.trigger,
                    }
                )
            summary.sitting_min = round(summary.sitting_min, 1)
            summary.longest_bout_min = round(summary.longest_bout_min, 1)
            wearers.append(summary)
    finally:
        queries.close()
    until = None if until_ms is None else datetime.fromtimestamp(until_ms / 1000, scenario.start.tzinfo).isoformat()
    return DemoSummary(
        scenario_start=scenario.start.isoformat(),
        scenario_hours=round(scenario.duration_s / 3600, 2),
        wall_s=round(wall_s, 1),
        frames=sum(w.stored_s for w in wearers) if stopped_early else frames,
        batches=batches,
        dead_letters=dead,
        wearers=wearers,
        db_path=str(db_path),
        stopped_early=stopped_early,
        stored_until=until,
    )
