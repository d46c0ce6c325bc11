"""No secret reaches a log (issue 20, item 5): the services run at DEBUG with every secret setting given (the MQTT
and InfluxDB passwords, the ntfy token, the webhook and callback secrets, a phone's push token), a day is simulated,
a phone pushes with its token and with a wrong one, a calendar feed's secret address is unreachable; then no log of
any service, nor `kinetic config`, holds a secret."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import Proc, env_for
from tests.support.sensorlogger import fixture_readings, messages
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration

SECRETS = {
    "KINETIC_MQTT__PASSWORD": "mqtt-secret-7f3a9c1e55",
    "KINETIC_INFLUX__PASSWORD": "influx-secret-2b8d4e6f01",
    "KINETIC_ALERTS__NTFY_TOKEN": "ntfy-secret-9a1c3e5g77",
    "KINETIC_ALERTS__WEBHOOK_SECRET": "webhook-secret-4d6f8h0j22",
    "KINETIC_ALERTS__CALLBACK_SECRET": "callback-secret-6k8m0p2r44",
}
PHONE_TOKEN = "phone-secret-1q3s5u7w99xyz"
# a calendar feed's secret address (issue 17): unreachable, so the alert service logs a problem with it
CALENDAR_SECRET = "calendar-secret-3h5j7k9m11"
DAY = """\
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: ann
    placement: thigh
    segments: [walk 1m, sit 32m, walk 1m]
"""


def test_no_secret_in_any_log(
    mosquitto: Server, influxd: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    port = free_port()
    config = tmp_path / "phones.toml"
    config.write_text(f'[[phone.phones]]\nwearer = "bob"\nplatform = "android"\ntoken = "{PHONE_TOKEN}"\n')
    env = (
        env_for(mosquitto.port, influxd.url, unique, tmp_path)
        | SECRETS
        | {
            "KINETIC_LOG_LEVEL": "DEBUG",
            "KINETIC_MQTT__USERNAME": "kinetic",  # the test broker takes any credentials
            "KINETIC_INFLUX__USERNAME": "kinetic",  # influxd without authentication ignores them
            "KINETIC_CONFIG": str(config),
            "KINETIC_PHONE__HTTP_PORT": str(port),
            "KINETIC_ALERTS__CALLBACK_PORT": str(free_port()),
            "KINETIC_ALERTS__CALENDAR_FEEDS": f'{{"ann": ["http://127.0.0.1:9/{CALENDAR_SECRET}/basic.ics"]}}',
        }
    )
    services = {name: Proc([name], env, tmp_path / f"{name}.log") for name in ("bridge", "alerts", "phone")}
    procs += services.values()
    services["bridge"].wait_for("subscribed under")
    services["alerts"].wait_for("watching")
    services["phone"].wait_for("push endpoint on")

    def kinetic(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kinetic", *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    (tmp_path / "day.yaml").write_text(DAY)
    outputs = [kinetic("simulate", str(tmp_path / "day.yaml"), "--speed", "0"), kinetic("config")]
    assert outputs[0].returncode == 0, outputs[0].stderr
    services["alerts"].wait_for("prompt ann-sitting-")
    readings = fixture_readings("android")
    shift = time.time_ns() - readings[0]["time"]
    body = messages([{**r, "time": r["time"] + shift} for r in readings[:300]])[0]
    for token, status in ((PHONE_TOKEN, 200), (PHONE_TOKEN[:-1], 401), (f"{PHONE_TOKEN}'%0A", 401)):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/sensorlogger/bob?token={token}", data=body)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == status
        except urllib.error.HTTPError as exc:
            assert exc.code == status
    for proc in services.values():
        assert proc.terminate() == 0, proc.text()[-2000:]

    logs = {name: proc.text() for name, proc in services.items()}
    logs |= {f"kinetic {o.args[3]}": o.stdout + o.stderr for o in outputs}
    assert "DEBUG" in logs["bridge"] and "ann" in logs["alerts"]  # they did log, at DEBUG
    assert "calendar ann-" in logs["alerts"]  # the feed's problem was logged, under its digest
    for secret in [*SECRETS.values(), PHONE_TOKEN, PHONE_TOKEN[:-1], CALENDAR_SECRET]:
        leaked = [name for name, text in logs.items() if secret in text]
        assert not leaked, f"{secret} appears in the log of {leaked}"
