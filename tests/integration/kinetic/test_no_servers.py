"""``kinetic`` run as a new user would, before the broker or the database is up (issue 13, case 6).

A command that needs a server gives up after a few attempts with one line: the server, what was tried, the error
and the setting to check. A service says once what it waits for, keeps trying with backoff (a line at most every
30 s, ingest/backoff.py; the policy's own tests are in tests/unit/ingest/test_backoff.py), says when the server is
reached, and stops at once on SIGTERM while it waits.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import Proc, env_for
from tests.support.servers import free_port, start_mosquitto

pytestmark = pytest.mark.integration

MQTT_SETTINGS = "KINETIC_MQTT__HOST / KINETIC_MQTT__PORT"

SCENARIO = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: ann
    placement: thigh
    segments: [walk 1m, sit 2m]
"""


def kinetic(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kinetic", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ["prompts", "pause", "ann", "--for", "45"],
        ["calibrate", "ann"],
        ["prompts", "done", "ann", "ann-sitting-1"],
        ["prompts", "policy", "ann", "snooze_min=5"],
    ],
    ids=["pause", "calibrate", "done", "policy"],
)
def test_a_command_without_its_broker_fails_in_one_line(args: list[str], tmp_path: Path, unique: str) -> None:
    port = free_port()  # nobody listens there
    out = kinetic(args, env_for(port, "http://127.0.0.1:9", unique, tmp_path))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert re.fullmatch(
        rf"kinetic: error: MQTT broker at 127\.0\.0\.1:{port} unreachable after 3 attempts \(.*refused.*\): "
        rf"check {re.escape(MQTT_SETTINGS)}\n",
        out.stderr,
    ), out.stderr


@pytest.mark.parametrize(
    "args",
    [["report", "weekly", "--wearer", "ann", "--week", "2026-W48"], ["data", "export", "ann"]],
    ids=["report-weekly", "data-export"],
)
def test_a_query_without_its_database_fails_in_one_line(args: list[str], tmp_path: Path, unique: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    out = kinetic([*args, "--out", str(tmp_path / "out")], env_for(free_port(), url, unique, tmp_path))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert re.fullmatch(
        rf"kinetic: error: InfluxDB at {re.escape(url)} unreachable \(.*refused.*\): check KINETIC_INFLUX__URL\n",
        out.stderr,
    ), out.stderr


@pytest.mark.parametrize("service", ["alerts", "bridge", "simulate"])
def test_a_service_says_what_it_waits_for_once_then_that_the_broker_is_reached(
    service: str, tmp_path: Path, unique: str, procs: list[Proc]
) -> None:
    port = free_port()
    env = env_for(port, "http://127.0.0.1:9", unique, tmp_path)
    env["KINETIC_STORE__KIND"] = "embedded"  # the bridge's store is there: this test is about the broker
    env["KINETIC_STORE__EMBEDDED_PATH"] = str(tmp_path / "kinetic.sqlite")
    scenario = tmp_path / "day.yaml"
    scenario.write_text(SCENARIO)
    args = ["simulate", str(scenario), "--speed", "0"] if service == "simulate" else [service]
    proc = Proc(args, env, tmp_path / f"{service}.log")
    procs.append(proc)

    proc.wait_for(f"waiting for MQTT broker at 127.0.0.1:{port} (set by {MQTT_SETTINGS}): ")
    # backoff starts below a second: at least three attempts fail in the next 4 s (0.5 + 1 + 2 s at most) ...
    time.sleep(4)
    broker = start_mosquitto(tmp_path / "late-broker", port=port)
    try:
        proc.wait_for(f"MQTT broker at 127.0.0.1:{port} reached after", timeout_s=60)
        if service == "simulate":
            assert proc.process.wait(60) == 0
            assert "published 180 frames" in proc.text()
        else:
            proc.wait_for({"alerts": "watching", "bridge": "subscribed under"}[service])  # and it works
            assert proc.terminate() == 0
    finally:
        broker.stop()
    text = proc.text()
    assert "Traceback" not in text
    # ... and all of them were said in one line, not one per attempt
    (attempts,) = re.findall(rf"MQTT broker at 127\.0\.0\.1:{port} reached after (\d+) attempts", text)
    assert int(attempts) >= 4
    assert text.count(f"127.0.0.1:{port}") == 2, text  # the waiting line and the reached line


def test_the_bridge_names_the_database_it_waits_for_and_stops_at_once(
    tmp_path: Path, unique: str, procs: list[Proc]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    bridge = Proc(["bridge"], env_for(free_port(), url, unique, tmp_path), tmp_path / "bridge.log")
    procs.append(bridge)
    bridge.wait_for(f"bridge: waiting for InfluxDB at {url} (set by KINETIC_INFLUX__URL): ")
    started = time.monotonic()
    assert bridge.terminate() == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in bridge.text()


def test_sigterm_stops_a_service_waiting_for_its_broker(tmp_path: Path, unique: str, procs: list[Proc]) -> None:
    port = free_port()
    alerts = Proc(["alerts"], env_for(port, "http://127.0.0.1:9", unique, tmp_path), tmp_path / "alerts.log")
    procs.append(alerts)
    alerts.wait_for(f"waiting for MQTT broker at 127.0.0.1:{port}")
    time.sleep(3)  # into the longer backoff sleeps
    started = time.monotonic()
    assert alerts.terminate() == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in alerts.text()
