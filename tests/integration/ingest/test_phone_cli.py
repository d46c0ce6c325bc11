"""``kinetic phone`` and ``kinetic simulate --replay EXPORT`` as real processes against real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.settings import MqttSettings
from ingest.wire import DeviceStatusV1, FeatureBatchV1, Topics
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, until
from tests.support.processes import Proc, env_for
from tests.support.sensorlogger import FIXTURES, fixture_readings, messages
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration

TOKEN = "ann-token-0123456789abcdef"


def test_kinetic_phone_takes_live_pushes_and_sends_the_last_seconds_when_stopped(
    mosquitto: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    port = free_port()
    config = tmp_path / "phones.toml"
    config.write_text(f'[[phone.phones]]\nwearer = "ann"\nplatform = "android"\ntoken = "{TOKEN}"\n')
    env = env_for(mosquitto.port, "http://127.0.0.1:1", unique, tmp_path) | {
        "KINETIC_CONFIG": str(config),
        "KINETIC_PHONE__HTTP_PORT": str(port),
        "KINETIC_PHONE__QUEUE_PATH": str(tmp_path / "phone-queue.sqlite"),
    }
    topics = Topics(unique)
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    # 4 s of the pocket excerpt, re-timed to happen now, pushed as the app does: one message a second
    readings = fixture_readings("android")
    excerpt = [r for r in readings if r["time"] < readings[0]["time"] + 4 * 10**9]
    # starting 100 ms into a whole second: the first and the last second hold >= 3 samples (a second with fewer
    # makes no frame, by design: SecondAggregator.min_samples), so every sample is in a frame (a start in the last
    # 63 ms of a second lost the first second's 1-2 samples: CI, once)
    shift = (time.time_ns() // 10**9 + 1) * 10**9 + 100_000_000 - excerpt[0]["time"]
    retimed = [{**r, "time": r["time"] + shift} for r in excerpt]
    bodies = messages(retimed)

    async def scenario() -> list[FeatureBatchV1]:
        async with recording(KineticSettings(mqtt=mqtt), [f"{unique}/v1/#"], "phone-cli-recorder") as recorder:
            phone = Proc(["phone"], env, tmp_path / "phone.log")
            procs.append(phone)
            phone.wait_for("push endpoint on")
            for body in bodies:
                newest_ns = max(r["time"] for r in json.loads(body)["payload"])
                await asyncio.sleep(max(0.0, newest_ns / 1e9 - time.time()))
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/sensorlogger/ann?token={TOKEN}", data=body, method="POST"
                )
                answer = await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
                assert answer.status == 200
            assert await asyncio.to_thread(phone.terminate) == 0  # SIGTERM: held seconds flushed and sent
            status_topic = topics.status("ann", "ann-phone")

            def offline() -> bool:
                return any(
                    DeviceStatusV1.model_validate_json(p).state == "offline"
                    for t, p in recorder.messages
                    if t == status_topic
                )

            await until(offline, 10, "ann's phone offline")
            return [
                FeatureBatchV1.model_validate_json(p)
                for t, p in recorder.messages
                if t == topics.features("ann", "ann-phone")
            ]

    batches = asyncio.run(scenario())
    frames = [f for b in batches for f in b.frames]
    assert len(frames) in (4, 5)  # 4 s of samples over 4 or 5 whole seconds
    assert abs(frames[0].t_ms - (excerpt[0]["time"] + shift) // 10**6) <= 1000  # the phone's clock, not remapped
    assert sum(f.n for f in frames) == sum(1 for r in excerpt if r["name"] == "totalacceleration")


def test_simulate_replays_a_sensor_logger_export(mosquitto: Server, unique: str, tmp_path: Path) -> None:
    env = env_for(mosquitto.port, "http://127.0.0.1:1", unique, tmp_path)
    for export, frames in (("pocket-android.zip", 43), ("pocket-ios.json", 13)):
        run = subprocess.run(
            [sys.executable, "-m", "kinetic", "simulate", "--replay", str(FIXTURES / export), "--speed", "0"],
            env=env,
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert f"published {frames} frames" in run.stderr
    wrist = subprocess.run(
        [
            sys.executable,
            "-m",
            "kinetic",
            "simulate",
            "--replay",
            str(FIXTURES / "pocket-ios.json"),
            "--placement",
            "wrist",
        ],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert wrist.returncode == 2 and "not the wrist" in wrist.stderr
