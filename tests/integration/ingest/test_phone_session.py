"""The real ``kinetic phone`` streams an exercise session (issue 19, item 2) on real Mosquitto: Sensor Logger-shaped
pushes before, during and after a wearer's session; only the samples of the session (from its start to its end) of
the trunk phone come out as ``SessionSamplesV1`` chunks, closed by a final chunk; a phone in a trouser pocket
(``thigh``) streams nothing; and a set from a phone's stream verified end to end by the alert service."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alerts.prompts.sessions import session_command
from alerts.run import alert_service
from ingest.mqtt import connect, serve
from ingest.phone.sensorlogger import STANDARD_GRAVITY_MS2
from ingest.settings import MqttSettings
from ingest.wire import EventV1, SessionSamplesV1, Topics, encode
from kinetic.settings import KineticSettings
from tests.support import exercise_models as em
from tests.support.pipeline import broker_settings, recording, until
from tests.support.processes import Proc, env_for
from tests.support.sensorlogger import fixture_readings, messages
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration

EXERCISE = "controlled-sit-to-stand"
TOKENS = {"ann": "ann-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef"}


def retimed(readings: list[dict[str, Any]], first_ms: int, seconds: float) -> list[dict[str, Any]]:
    """``seconds`` of readings, the first at ``first_ms`` (epoch ms)."""
    start = readings[0]["time"]
    part = [r for r in readings if r["time"] < start + seconds * 1e9]
    return [{**r, "time": r["time"] - start + first_ms * 1_000_000} for r in part]


def test_a_trunk_phone_streams_the_session_and_nothing_outside_it(
    mosquitto: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    port = free_port()
    config = tmp_path / "phones.toml"
    config.write_text(
        "".join(
            f'[[phone.phones]]\nwearer = "{w}"\nplatform = "android"\nplacement = "{p}"\ntoken = "{TOKENS[w]}"\n'
            for w, p in (("ann", "trunk"), ("bob", "thigh"))
        )
    )
    env = env_for(mosquitto.port, "http://127.0.0.1:1", unique, tmp_path) | {
        "KINETIC_CONFIG": str(config),
        "KINETIC_PHONE__HTTP_PORT": str(port),
    }
    topics = Topics(unique)
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    readings = fixture_readings("android")
    ids = {"ann": 0, "bob": 0}

    def push(wearer: str, part: list[dict[str, Any]]) -> None:
        for body in messages(part, first_id=ids[wearer]):
            ids[wearer] += 1
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/sensorlogger/{wearer}?token={TOKENS[wearer]}", data=body, method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200

    async def scenario() -> tuple[list[SessionSamplesV1], list[bytes], str | None, list[int]]:
        async with recording(KineticSettings(mqtt=mqtt), [f"{unique}/v1/#"], "phone-session-recorder") as recorder:
            phone = Proc(["phone"], env, tmp_path / "phone.log")
            procs.append(phone)
            phone.wait_for("push endpoint on")
            now_ms = round(time.time() * 1000)
            for wearer in ("ann", "bob"):  # before the session: 3 s, the newest a second ago
                await asyncio.to_thread(push, wearer, retimed(readings, now_ms - 4000, 3))
            async with connect(mqtt, f"{unique}-commands") as client:
                at = datetime.now(UTC)
                start_ms = round(at.timestamp() * 1000)
                for wearer in ("ann", "bob"):
                    start = session_command("start", wearer, at, source="test", exercise="controlled-sit-to-stand")
                    await client.publish(topics.commands(wearer), encode(start), qos=1)
                await asyncio.to_thread(phone.wait_for, "phone bob: session_start")
                # during it: 4 s from a second before the start (that second is not the session's)
                during = retimed(readings[len(readings) // 3 :], start_ms - 1000, 4)
                for wearer in ("ann", "bob"):
                    await asyncio.to_thread(push, wearer, during)
                end_at = datetime.fromtimestamp(max(time.time(), start_ms / 1000 + 3.5), UTC)
                for wearer in ("ann", "bob"):
                    end = session_command("end", wearer, end_at, source="test", session=start.session)
                    await client.publish(topics.commands(wearer), encode(end), qos=1)
                await asyncio.to_thread(phone.wait_for, "phone bob: session_end")
            # after it: 2 s more
            after_ms = max(round(time.time() * 1000), start_ms + 3500)
            await asyncio.to_thread(push, "ann", retimed(readings[2 * len(readings) // 3 :], after_ms, 2))
            assert await asyncio.to_thread(phone.terminate) == 0  # the queue sent before it stops

            def offline() -> bool:
                return any(b'"offline"' in p for t, p in recorder.messages if t == topics.status("ann", "ann-phone"))

            await until(offline, 20, "ann's phone offline")
            chunks = [SessionSamplesV1.model_validate_json(p) for p in recorder.on("/ann/ann-phone/session")]
            in_session = [
                r["time"] // 1_000_000
                for r in during
                if r["name"] == "totalacceleration" and r["time"] // 1_000_000 >= start_ms
            ]
            return chunks, recorder.on("/bob/bob-phone/session"), start.session, in_session

    chunks, bobs, session, in_session = asyncio.run(scenario())
    assert bobs == []  # a phone in a trouser pocket streams nothing
    assert chunks and chunks[-1].last and [c.seq for c in chunks] == list(range(len(chunks)))
    assert {c.session for c in chunks} == {session}
    times = [c.t0_ms + dt for c in chunks for dt in c.dt_ms]
    assert times == in_session  # every sample of the session, none before its start nor after its end
    assert all(len(c.acc_mg) == len(c.dt_ms) for c in chunks)
    json.dumps([c.model_dump(mode="json") for c in chunks])  # the stream is the wire contract's


def test_a_sit_to_stand_set_from_a_phones_stream_is_verified_end_to_end(
    mosquitto: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    """A modelled sit-to-stand set (tests/support/exercise_models.py: 3 repetitions) pushed live as Sensor Logger's
    total acceleration by a trunk phone to the real ``kinetic phone``; the alert service (built as ``kinetic alerts``
    builds it) verifies the set from the phone's session stream."""
    port = free_port()
    config = tmp_path / "phones.toml"
    config.write_text(
        f'[[phone.phones]]\nwearer = "ann"\nplatform = "android"\nplacement = "trunk"\ntoken = "{TOKENS["ann"]}"\n'
    )
    env = env_for(mosquitto.port, "http://127.0.0.1:1", unique, tmp_path) | {
        "KINETIC_CONFIG": str(config),
        "KINETIC_PHONE__HTTP_PORT": str(port),
    }
    topics = Topics(unique)
    settings = broker_settings(
        mosquitto,
        unique,
        alerts={"state_dir": None},
    )
    rng = np.random.default_rng(19)
    body, truth = em.sit_to_stand_set(3, 1.5, 1.5, 0.5, rng, stand_s=0.5, lead_s=3.0, rate_hz=50)
    _, acc = em.sensor(body, np.eye(3), rng, rate_hz=50, jitter=False)

    async def scenario() -> list[EventV1]:
        stop = asyncio.Event()
        async with (
            alert_service(settings) as service,
            recording(settings, [topics.all_events()], f"{unique}-rec") as recorder,
        ):
            alerts = asyncio.create_task(serve(service.run, settings.mqtt, f"{unique}-alerts", stop))
            phone = Proc(["phone"], env, tmp_path / "phone.log")
            procs.append(phone)
            phone.wait_for("push endpoint on")
            await until(service.ready.is_set, 30, "the alert service")
            async with connect(settings.mqtt, f"{unique}-commands") as client:
                start = session_command("start", "ann", datetime.now(UTC), source="test", exercise=EXERCISE)
                await client.publish(topics.commands("ann"), encode(start), qos=1)
                await asyncio.to_thread(phone.wait_for, "phone ann: session_start")
                first_ns = (round(start.at.timestamp() * 1000) + 100) * 1_000_000
                readings = [
                    {
                        "name": "totalacceleration",
                        "time": first_ns + i * 20_000_000,  # 50 Hz
                        "values": {k: float(v) * STANDARD_GRAVITY_MS2 for k, v in zip("xyz", row, strict=True)},
                    }
                    for i, row in enumerate(acc)
                ]
                for body_bytes in messages(readings):  # as the app pushes: a message a second, live
                    newest_ns = max(r["time"] for r in json.loads(body_bytes)["payload"])
                    await asyncio.sleep(max(0.0, newest_ns / 1e9 - time.time()))
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{port}/sensorlogger/ann?token={TOKENS['ann']}",
                        data=body_bytes,
                        method="POST",
                    )
                    with await asyncio.to_thread(urllib.request.urlopen, request, timeout=10) as answer:
                        assert answer.status == 200
                end = session_command("end", "ann", datetime.now(UTC), source="test", effort=3, pain=1)
                await client.publish(topics.commands("ann"), encode(end), qos=1)

            def outcomes() -> list[EventV1]:
                events = [EventV1.model_validate_json(p) for p in recorder.on("/events")]
                return [e for e in events if e.kind == "session_outcome"]

            await until(lambda: len(outcomes()) == 1, 40, "the session's outcome")
            stop.set()
            await alerts
            assert await asyncio.to_thread(phone.terminate) == 0
            return outcomes()

    (outcome,) = asyncio.run(scenario())
    m = outcome.metrics or {}
    assert outcome.outcome == "done", (outcome.reason, m)
    assert m["reps"] == 3 and m["verified"] == 1 and m["pain"] == 1, m
    assert abs(m["rise_s"] - truth[0][2]) < 0.6, m
