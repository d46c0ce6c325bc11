"""An exercise session end to end through real Mosquitto (issue 19): ``kinetic session``'s commands, a session
stream sent chunk by chunk as a collector or the emulator sends it, the alert service (built as ``kinetic alerts``
builds it, with a prescriptions file) verifying it, and the ``session_outcome`` event it publishes. Bad input on
the way: a stream for no session, a sensor lost mid-session, an exercise not prescribed."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from asyncio.subprocess import PIPE
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from alerts.prompts.sessions import session_command
from alerts.run import alert_service
from ingest.mqtt import connect, serve
from ingest.session_stream import SessionStreamer
from ingest.wire import CommandV1, EventV1, Topics, encode
from kinetic.settings import KineticSettings
from tests.support import exercise_models as em
from tests.support.pipeline import Recorder, broker_settings, recording, sync, until
from tests.support.servers import Server
from tests.support.synthetic import rotation

pytestmark = pytest.mark.integration

PRESCRIPTIONS = """
wearers:
  ann:
    - exercise: controlled-sit-to-stand
      sets: 1
      reps: 4
      tempo: {down_s: 3, pause_s: 1, up_s: 3}
      per_day: 2
"""


def session_settings(mosquitto: Server, unique: str, tmp_path: Path, state_dir: Path | None) -> KineticSettings:
    """Settings on ``mosquitto`` under the topic root ``unique``, with PRESCRIPTIONS written in ``tmp_path``."""
    (tmp_path / "prescriptions.yaml").write_text(PRESCRIPTIONS)
    prescriptions = tmp_path / "prescriptions.yaml"
    return broker_settings(mosquitto, unique, alerts={"state_dir": state_dir, "prescriptions_file": prescriptions})


def session_outcomes(rec: Recorder) -> list[EventV1]:
    """The session_outcome events recorded so far."""
    return [e for e in (EventV1.model_validate_json(p) for p in rec.on("/events")) if e.kind == "session_outcome"]


@sync
async def test_a_session_is_verified_through_the_broker(mosquitto: Server, tmp_path: Path) -> None:
    unique = f"ss{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    settings = session_settings(mosquitto, unique, tmp_path, state_dir=None)
    start_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    rng = np.random.default_rng(2)
    body, _ = em.sit_to_stand_set(4, 3.0, 3.0, 1.0, rng)
    t_ms, acc = em.sensor(body, rotation(30, 140, 60), rng)
    t_ms = t_ms - em.T0_MS + round(start_at.timestamp() * 1000) + 2_000

    async with alert_service(settings) as service, recording(settings, [topics.all_events()], f"{unique}-rec") as rec:
        stop = asyncio.Event()
        runner = asyncio.create_task(serve(service.run, settings.mqtt, f"{unique}-alerts", stop))
        await until(service.ready.is_set, 20, "the alert service")
        async with connect(settings.mqtt, f"{unique}-pub") as client:

            async def send(command: CommandV1) -> None:
                await client.publish(topics.commands("ann"), encode(command), qos=1)

            # a stream for no running session: refused, counted
            stray = SessionStreamer("ann", "chest", "nothing-running").chunks(t_ms[:100], acc[:100])
            await client.publish(topics.session("ann", "chest"), encode(stray[0]), qos=1)
            # an exercise not prescribed to ann: refused with the reason
            await send(session_command("start", "ann", start_at, source="test", exercise="hip-opening-sequence"))
            await until(lambda: service.dead_letters.count >= 2, 20, "the two refusals")

            # the full set: started, streamed, ended with effort and pain
            start = session_command("start", "ann", start_at, source="test", exercise="controlled-sit-to-stand")
            await send(start)
            # sent live: samples as they come (full chunks go out), the end, then the stream's close
            streamer = SessionStreamer("ann", "chest", start.session or "")
            for i in range(0, len(t_ms), 13):  # a BLE notification's worth at a time
                for chunk in streamer.add(t_ms[i : i + 13], acc[i : i + 13]):
                    await client.publish(topics.session("ann", "chest"), encode(chunk), qos=1)
            ended_at = datetime.fromtimestamp((int(t_ms[-1]) + 500) / 1000, tz=UTC)
            await send(session_command("end", "ann", ended_at, source="test", session=start.session, effort=5, pain=2))
            for chunk in streamer.close(int(t_ms[-1]) + 500):  # after the end: the service waits for it
                await client.publish(topics.session("ann", "chest"), encode(chunk), qos=1)

            # a second session whose sensor is lost half way
            second_at = ended_at + timedelta(seconds=30)
            second = session_command("start", "ann", second_at, source="test", exercise="controlled-sit-to-stand")
            await send(second)
            shift = round((second_at - start_at).total_seconds() * 1000)
            half = len(t_ms) // 2
            lost = SessionStreamer("ann", "chest", second.session or "")
            sensor_lost = lost.chunks(t_ms[:half] + shift, acc[:half])
            # the collector is still there when the session ends, 30 s after its sensor went quiet: it closes
            sensor_lost += lost.close(int(t_ms[half - 1]) + shift + 30_000)
            for chunk in sensor_lost:
                await client.publish(topics.session("ann", "chest"), encode(chunk), qos=1)
            await send(
                session_command(
                    "end", "ann", second_at + timedelta(seconds=60), source="test", session=second.session, pain=3
                )
            )

        await until(lambda: len(session_outcomes(rec)) == 2, 30, "two session outcomes")
        stop.set()
        await runner

    full, lost_outcome = session_outcomes(rec)
    assert full.session == start.session and full.outcome == "done" and full.reason is None
    m = full.metrics or {}
    assert m["reps"] == 4 and m["reps_prescribed"] == 4 and m["within_tempo"] == 8
    assert m["effort"] == 5 and m["pain"] == 2 and m["chunks_lost"] == 0 and m["samples"] == len(t_ms)
    assert lost_outcome.session == second.session and lost_outcome.outcome == "partial"
    assert lost_outcome.reason is not None and "sensor lost for 30 s" in lost_outcome.reason
    assert service.sessions is not None
    assert service.sessions.refused == {"stream without a session": 1, "not prescribed": 1}
    assert service.sessions.running == {}


@sync
async def test_a_session_running_when_the_alert_service_restarts_is_concluded_partial(
    mosquitto: Server, tmp_path: Path
) -> None:
    """The alert service (with its state directory, as deployed) stopped and started again mid-session: the
    session is taken up, the rest of its stream gathered, and its outcome says the samples before the restart were
    lost (before: the end was refused as "not running" and no outcome recorded the session)."""
    unique = f"sr{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    settings = session_settings(mosquitto, unique, tmp_path, state_dir=tmp_path / "state")
    start_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    rng = np.random.default_rng(4)
    body, _ = em.sit_to_stand_set(4, 3.0, 3.0, 1.0, rng)
    t_ms, acc = em.sensor(body, rotation(30, 140, 60), rng)
    t_ms = t_ms - em.T0_MS + round(start_at.timestamp() * 1000) + 2_000
    start = session_command("start", "ann", start_at, source="test", exercise="controlled-sit-to-stand")
    streamer = SessionStreamer("ann", "chest", start.session or "")
    chunks = streamer.chunks(t_ms, acc)
    half = len(chunks) // 2

    async with recording(settings, [topics.all_events()], f"{unique}-rec") as rec:
        async with alert_service(settings) as service:
            stop = asyncio.Event()
            runner = asyncio.create_task(serve(service.run, settings.mqtt, f"{unique}-alerts", stop))
            await until(service.ready.is_set, 20, "the alert service")
            async with connect(settings.mqtt, f"{unique}-pub") as client:
                await client.publish(topics.commands("ann"), encode(start), qos=1)
                for chunk in chunks[:half]:
                    await client.publish(topics.session("ann", "chest"), encode(chunk), qos=1)
            sessions = service.sessions
            assert sessions is not None
            first_half = sum(len(c.dt_ms) for c in chunks[:half])

            def gathered() -> int:
                running = sessions.running.get("ann")
                return 0 if running is None else len(running.samples)

            await until(lambda: gathered() == first_half, 20, "the first half of the stream")
            stop.set()
            await runner

        async with alert_service(settings) as again:  # the restart
            assert again.sessions is not None and again.sessions.running["ann"].session == start.session
            stop = asyncio.Event()
            runner = asyncio.create_task(serve(again.run, settings.mqtt, f"{unique}-alerts", stop))
            await until(again.ready.is_set, 20, "the restarted alert service")
            async with connect(settings.mqtt, f"{unique}-pub2") as client:
                for chunk in chunks[half:]:
                    await client.publish(topics.session("ann", "chest"), encode(chunk), qos=1)
                ended_at = datetime.fromtimestamp((int(t_ms[-1]) + 500) / 1000, tz=UTC)
                end = session_command("end", "ann", ended_at, source="test", session=start.session, pain=1)
                await client.publish(topics.commands("ann"), encode(end), qos=1)
                for chunk in streamer.close(int(t_ms[-1]) + 500):
                    await client.publish(topics.session("ann", "chest"), encode(chunk), qos=1)
            await until(lambda: len(session_outcomes(rec)) == 1, 30, "the session outcome")
            stop.set()
            await runner

    (outcome,) = session_outcomes(rec)
    assert (outcome.session, outcome.outcome) == (start.session, "partial")
    assert outcome.reason is not None and "restarted during the session" in outcome.reason
    m = outcome.metrics or {}
    assert m["reps_prescribed"] == 4 and m["pain"] == 1 and m["samples"] == len(t_ms) - first_half
    assert m["chunks_lost"] == half  # the chunks before the restart, which the restarted service never had
    assert again.dead_letters.count == 0 and again.sessions.running == {}


@sync
async def test_the_cli_starts_and_ends_a_session_the_service_concludes(mosquitto: Server, tmp_path: Path) -> None:
    """``kinetic session start`` / ``end`` as processes: ``end`` without an id ends the wearer's running session (one
    started from a prompt's Start button has an id the wearer never sees), the alert service publishes its outcome (no
    sensor streamed: partial, saying so); an effort out of 0-10 is one line, exit 2, and nothing is sent."""
    unique = f"sc{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    settings = session_settings(mosquitto, unique, tmp_path, state_dir=None)
    env = {
        **os.environ,
        "KINETIC_MQTT__PORT": str(mosquitto.port),
        "KINETIC_MQTT__TOPIC_ROOT": unique,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": unique,
    }

    async def kinetic(*args: str) -> tuple[int, str, str]:
        done = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kinetic", "session", *args, env=env, stdout=PIPE, stderr=PIPE
        )
        out, err = await done.communicate()
        return done.returncode or 0, out.decode(), err.decode()

    async with alert_service(settings) as service, recording(settings, [topics.all_events()], f"{unique}-rec") as rec:
        stop = asyncio.Event()
        runner = asyncio.create_task(serve(service.run, settings.mqtt, f"{unique}-alerts", stop))
        await until(service.ready.is_set, 20, "the alert service")
        code, session, _ = await kinetic("start", "ann", "controlled-sit-to-stand")
        assert code == 0 and session.strip().endswith("-controlled-sit-to-stand")
        await until(lambda: service.sessions is not None and "ann" in service.sessions.running, 20, "the start")
        code, _, err = await kinetic("end", "ann", session.strip(), "--effort", "11")
        assert code == 2 and len(err.strip().splitlines()) == 1 and "effort" in err
        code, printed, err = await kinetic("end", "ann", "--effort", "4", "--pain", "2")  # no id: the running one
        assert code == 0 and printed == "" and "their running session" in err, err

        await until(lambda: len(session_outcomes(rec)) == 1, 30, "the session outcome")
        stop.set()
        await runner
    (outcome,) = session_outcomes(rec)
    assert (outcome.session, outcome.exercise, outcome.outcome) == (
        session.strip(),
        "controlled-sit-to-stand",
        "partial",
    )
    assert "no session stream" in (outcome.reason or "")
    assert (outcome.metrics or {})["effort"] == 4 and (outcome.metrics or {})["pain"] == 2
