"""The real ``kinetic phone`` streams an exercise session (issue 19, item 2) on real Mosquitto: Sensor Logger-shaped
pushes before, during and after a wearer's session; only the samples of the session (from its start to its end) of
the trunk phone come out as ``SessionSamplesV1`` chunks, closed by a final chunk; a phone in a trouser pocket
(``thigh``) streams nothing."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.prompts.sessions import session_command
from ingest.mqtt import connect
from ingest.settings import MqttSettings
from ingest.wire import SessionSamplesV1, Topics, encode
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, until
from tests.support.processes import Proc, env_for
from tests.support.sensorlogger import fixture_readings, messages
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration

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
