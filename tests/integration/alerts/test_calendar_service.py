"""Calendar feeds through the running alert service on a real Mosquitto (issue 17, items 1 and 4): the service built
from settings (``alerts.run.alert_service``) refreshes a wearer's feed from loopback HTTP in its own task; the feed
changes, goes down and returns something malformed, a second feed is unreachable all along, and the prompts follow
the last good copy: held in each meeting, the hip-opening sequence as each one ends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from alerts.run import alert_service
from alerts.settings import AlertsSettings
from ingest.mqtt import connect, serve
from ingest.settings import MqttSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import PromptV1, encode
from kinetic.settings import KineticSettings
from tests.support.pipeline import sync, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

HIP = "hip-opening-sequence"
# the day began 4 h ago (host clock): its frames are in the past, as a collector's are, and its meetings lie in the
# span a refresh computes (a day back, two ahead)
START = (datetime.now(UTC) - timedelta(hours=4)).replace(second=0, microsecond=0)


def feed(*meetings: tuple[int, int]) -> bytes:
    """Meetings as (start, end) in minutes after START."""
    events = "".join(
        "BEGIN:VEVENT\r\n"
        f"UID:m{n}\r\n"
        f"DTSTART:{START + timedelta(minutes=a):%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{START + timedelta(minutes=b):%Y%m%dT%H%M%SZ}\r\n"
        "END:VEVENT\r\n"
        for n, (a, b) in enumerate(meetings)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n".encode()


@sync
async def test_prompts_follow_a_feed_that_changes_goes_down_and_turns_malformed(
    tmp_path: Path, mosquitto: Server, unique: str
) -> None:
    served = {"status": 200, "body": feed((20, 60)), "etag": '"v1"'}

    async def ics(request: web.Request) -> web.Response:
        if served["status"] != 200:
            return web.Response(status=int(served["status"]))  # type: ignore[call-overload]
        if request.headers.get("If-None-Match") == served["etag"]:
            return web.Response(status=304)
        return web.Response(body=served["body"], headers={"ETag": str(served["etag"])})  # type: ignore[arg-type]

    app = web.Application()
    app.router.add_get("/private-abc123/basic.ics", ics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/private-abc123/basic.ics"  # type: ignore[union-attr]

    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=f"kinetic-{unique}")
    settings = KineticSettings(
        mqtt=mqtt,
        alerts=AlertsSettings(
            state_dir=tmp_path / "state",
            calendar_feeds={"ann": [url, "http://127.0.0.1:9/never.ics"]},  # type: ignore[list-item]
            send_expired_prompts=True,  # the day began hours ago
        ),
    )
    prompts: list[PromptV1] = []
    stop = asyncio.Event()
    try:
        async with alert_service(settings) as service, asyncio.TaskGroup() as group:
            assert service.calendars is not None
            service.on_prompt = prompts.append
            calendars = service.calendars
            group.create_task(serve(service.run, mqtt, f"{unique}-alerts", stop, manual_ack=service.manual_ack))
            await until(service.ready.is_set, 20, "the alert service")
            await until(lambda: calendars.rounds >= 1, 20, "the first refresh (the service's calendars task)")

            day = parse_scenario(
                f"start: {START.isoformat()}\nwearers:\n  - wearer: ann\n    placement: thigh\n    segments: "
                "[sit 65m, walk 10m, sit 55m, walk 5m, sit 50m, walk 5m]\n"
            )
            batches = list(batches_for(day, day.wearers[0], 10))
            sent = 0

            async def play_until(minute: int) -> None:
                nonlocal sent
                end_ms = (START + timedelta(minutes=minute)).timestamp() * 1000
                async with connect(mqtt, f"{unique}-sensor") as client:
                    while sent < len(batches) and batches[sent].frames[0].t_ms < end_ms:
                        await client.publish(service.topics.features("ann", "ann-thigh"), encode(batches[sent]), qos=1)
                        sent += 1
                await until(lambda: service.engine.counters.batches >= sent, 60, f"{sent} batches processed")

            # v1: a meeting 20-60 min: the 30-min prompt is held, the hip-opening sequence goes out at its end
            await play_until(75)
            assert [(p.created - START, p.exercise) for p in prompts] == [(timedelta(minutes=60), HIP)]

            # the feed changes (v2): the next meetings are 85-125 and 145-180 (the bout from 75 min would be
            # prompted at 105 without them)
            served.update(body=feed((20, 60), (85, 125), (145, 180)), etag='"v2"')
            await calendars.refresh_all()
            await play_until(135)
            assert [p.created - START for p in prompts[1:]] == [timedelta(minutes=125)] and prompts[1].exercise == HIP

            # the feed goes down, then sends a maintenance page: the last good copy (v2) still holds the 145 meeting
            served.update(status=503)
            await calendars.refresh_all()
            served.update(status=200, body=b"<html>maintenance</html>", etag='"v3"')
            await calendars.refresh_all()
            await play_until(200)
            assert [p.created - START for p in prompts[2:]] == [timedelta(minutes=180)]
            assert len({p.id for p in prompts}) == len(prompts) == 3  # never a doubled prompt

            # every failed refresh counted by kind: the unreachable feed each round, the 503, the malformed page
            rounds = calendars.rounds
            assert calendars.problem_kinds == {"unreachable": rounds, "refused": 1, "malformed": 1}
            assert calendars.problems == rounds + 2
            stop.set()
    finally:
        stop.set()
        await runner.cleanup()
    # the last good copy is on disk, owner-only, named without the secret address
    (copy,) = [p for p in (tmp_path / "state" / "calendars").iterdir() if p.suffix == ".json"]
    assert "abc123" not in copy.name and copy.stat().st_mode & 0o077 == 0

    # a restart with the feed gone: the meetings are known from the kept copy before the first message is handled
    known = [(b.start_ms, b.end_ms) for b in service.engine.busy["ann"]]
    stop = asyncio.Event()
    async with alert_service(settings) as again, asyncio.TaskGroup() as group:
        group.create_task(serve(again.run, mqtt, f"{unique}-alerts", stop, manual_ack=again.manual_ack))
        await until(again.ready.is_set, 20, "the restarted alert service")
        assert again.calendars is not None and again.calendars.loaded
        assert [(b.start_ms, b.end_ms) for b in again.engine.busy["ann"]] == known and len(known) == 3
        stop.set()
