"""The `kinetic` services as real processes: clean shutdown on SIGTERM, the full path (start-up without the
servers: test_no_servers.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration

SCENARIO = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: cli
    placement: thigh
    segments: [walk 1m, sit 32m, walk 1m]
"""


def influxql(url: str, db: str, q: str) -> dict:  # type: ignore[type-arg]
    query = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"})
    with urllib.request.urlopen(f"{url}/query?{query}", timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_bridge_alerts_and_simulate_as_processes(
    mosquitto: Server, influxd: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    env = env_for(mosquitto.port, influxd.url, unique, tmp_path)
    bridge = Proc(["bridge"], env, tmp_path / "bridge.log")
    alerts = Proc(["alerts"], env, tmp_path / "alerts.log")
    procs += [bridge, alerts]
    bridge.wait_for("subscribed under")
    alerts.wait_for("watching")
    scenario = tmp_path / "day.yaml"
    scenario.write_text(SCENARIO)
    sim = subprocess.run(
        [sys.executable, "-m", "kinetic", "simulate", str(scenario), "--speed", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sim.returncode == 0, sim.stderr
    assert "published 2040 frames" in sim.stderr

    deadline = time.monotonic() + 30
    rows: list = []  # type: ignore[type-arg]
    while time.monotonic() < deadline and not rows:
        result = influxql(influxd.url, unique, "SELECT * FROM prompts")
        rows = result["results"][0].get("series", [{}])[0].get("values", [])
        time.sleep(0.2)
    assert len(rows) == 1
    alerts.wait_for("prompt cli-sitting-")
    # SIGTERM: both flush and exit cleanly
    assert alerts.terminate() == 0 and bridge.terminate() == 0
    for p in (bridge, alerts):
        assert "Traceback" not in p.text()
    frames = influxql(influxd.url, unique, "SELECT count(incl_deg) FROM features")
    assert frames["results"][0]["series"][0]["values"][0][1] == 34 * 60
    status = influxql(influxd.url, unique, "SELECT last(state) FROM device_status")
    assert status["results"][0]["series"][0]["values"][0][1] == "offline"


def test_kinetic_calibrate_publishes_a_command(mosquitto: Server, tmp_path: Path, unique: str) -> None:
    import asyncio

    from ingest.settings import MqttSettings
    from ingest.wire import CommandV1, Topics
    from kinetic.settings import KineticSettings
    from tests.support.pipeline import recording, until

    settings = KineticSettings(mqtt=MqttSettings(port=mosquitto.port, topic_root=unique))
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)

    async def run() -> list[bytes]:
        async with recording(settings, [Topics(unique).all_commands()], f"{unique}-rec") as rec:
            out = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "kinetic", "calibrate", "ann", "--device", "ann-chest"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert out.returncode == 0, out.stderr
            await until(lambda: bool(rec.messages), 10, "the command")
            return [p for _, p in rec.messages]

    (payload,) = asyncio.run(run())
    command = CommandV1.model_validate_json(payload)
    assert command.kind == "calibrate" and command.wearer == "ann" and command.device == "ann-chest"
