"""An exercise session end to end over the Bumble virtual radio and real Mosquitto (issue 19): an emulated DIY trunk
sensor plays a modelled sit-to-stand set over real GATT; the real collector hears ``session_start`` on the wearer's
command topic, streams the raw samples on the session topic while the session runs and closes the stream at
``session_end``; the alert service (built as ``kinetic alerts`` builds it) verifies the set and publishes the
outcome."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from alerts.prompts.sessions import session_command
from alerts.run import alert_service
from ingest.ble.bumble_backend import VirtualRadio
from ingest.ble.collector import Collector
from ingest.ble.emulators.kinetic_diy import KineticDiyEmulator
from ingest.ble.emulators.notify import realtime
from ingest.mqtt import connect, serve
from ingest.settings import CollectorSettings, WearableConfig
from ingest.store.spool import Spool
from ingest.wire import EventV1, Topics, encode
from tests.support import exercise_models as em
from tests.support.pipeline import broker_settings, recording, sync, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

# the scenario clock runs this much faster than the wall clock; the DIY profile stamps a notification's samples at
# its reception, so a delay of the host shows in the samples' times multiplied by this (under load, at 4 two
# notifications delayed into one burst overlap and a set can read as 4 rises)
SPEED = 2.0
RATE_HZ = 52
PER_PACKET = 13


@sync
async def test_a_sit_to_stand_session_over_the_virtual_radio(mosquitto: Server, tmp_path: Path) -> None:
    unique = f"sr{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    settings = broker_settings(
        mosquitto,
        unique,
        alerts={"state_dir": None},
    )
    rng = np.random.default_rng(5)
    body, truth = em.sit_to_stand_set(3, 2.5, 2.5, 1.0, rng, lead_s=3.0, rate_hz=RATE_HZ)
    _, acc = em.sensor(body, np.eye(3), rng, rate_hz=RATE_HZ, jitter=False)
    samples = [(float(x), float(y), float(z)) for x, y, z in acc]

    radio = VirtualRadio()
    await radio.start()
    address = "F3:00:00:19:00:01"
    emulator = KineticDiyEmulator(radio.peripheral("trunk", address), RATE_HZ, PER_PACKET)
    await emulator.start("Kinetic trunk")
    wearable = WearableConfig(
        wearer="ann", device="ann-trunk", profile="kinetic-diy", placement="trunk", address=address
    )
    start_s = (datetime.now(UTC) - timedelta(minutes=10)).timestamp()
    epoch = [time.time()]

    def scenario_s() -> float:
        return start_s + (time.time() - epoch[0]) * SPEED

    collector = Collector(
        CollectorSettings(wearables=[wearable], batch_s=5, scan_timeout_s=5),
        topics,
        Spool(tmp_path / "queue.sqlite", 64_000_000),
        scanner_kwargs=radio.scanner_kwargs(),
        client_kwargs=radio.client_kwargs(),
        clock=scenario_s,
    )
    stop = asyncio.Event()
    async with (
        alert_service(settings) as service,
        recording(settings, [topics.all_events(), topics.all_sessions()], f"{unique}-rec") as rec,
    ):
        alerts = asyncio.create_task(serve(service.run, settings.mqtt, f"{unique}-alerts", stop))
        ble = asyncio.create_task(collector.run(stop))
        forward = asyncio.create_task(serve(collector.forward, settings.mqtt, f"{unique}-collector", stop))
        await until(lambda: service.ready.is_set() and all(collector.connected.values()), 30, "services and radio")
        async with connect(settings.mqtt, f"{unique}-pub") as client:
            epoch[0] = time.time()
            at = datetime.fromtimestamp(scenario_s(), tz=UTC)
            start = session_command("start", "ann", at, source="test", exercise="controlled-sit-to-stand")
            await client.publish(topics.commands("ann"), encode(start), qos=1)
            await until(lambda: "ann-trunk" in collector.session_streams, 20, "the collector streaming")
            pace = realtime(SPEED)
            for i in range(0, len(samples), PER_PACKET):
                await emulator.send(samples[i : i + PER_PACKET], (i + PER_PACKET) / RATE_HZ, pace)
            # end the session once every sample is in the collector's stream (under load the last notifications
            # arrive late: ended before them, the stream's close would come seconds after its last sample, which
            # the alert service rightly reads as a sensor lost)
            await until(lambda: collector.counters.samples >= len(samples), 30, "every sample in the stream")
            end = session_command(
                "end", "ann", datetime.fromtimestamp(scenario_s(), tz=UTC), source="test", effort=3, pain=0
            )
            await client.publish(topics.commands("ann"), encode(end), qos=1)

        def outcomes() -> list[EventV1]:
            events = [EventV1.model_validate_json(p) for p in rec.on("/events")]
            return [e for e in events if e.kind == "session_outcome"]

        await until(lambda: len(outcomes()) == 1, 30, "the session's outcome")
        stop.set()
        await asyncio.gather(alerts, ble, forward)

    (outcome,) = outcomes()
    m = outcome.metrics or {}
    assert outcome.session == start.session and outcome.outcome == "done", (outcome.reason, m)
    assert m["reps"] == 3 and m["verified"] == 1 and m["pain"] == 0
    assert abs(m["rise_s"] - truth[0][2]) < 0.6, m
    chunks = rec.on("/session")
    assert len(chunks) >= 3 and b'"last":true' in chunks[-1]
    assert collector.session_streams == {}
