"""`kinetic alerts` started a second time with the same settings (by hand beside the systemd unit, or a container
restarted while the old one is still up). Both connect as `<prefix>-alerts`: the broker drops the older connection
for the newer one, which reconnects at once, and so on: each process logs 'connection lost ... reconnecting' and
'watching ...' several times a second for as long as both run, neither keeps its subscription, and both read and
write the same state file. Right: the second says in one line that one is already running (the state file or the
client id is in use) and exits non-zero; or, at least, the first is not disturbed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration


def test_a_second_alert_service_does_not_start_a_reconnection_fight(
    mosquitto: Server, unique: str, tmp_path: Path
) -> None:
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)
    first = Proc(["alerts"], env, tmp_path / "first.log")
    second: Proc | None = None
    try:
        first.wait_for("watching")
        second = Proc(["alerts"], env, tmp_path / "second.log")
        deadline = time.monotonic() + 10  # a window to observe, not a speed requirement
        while time.monotonic() < deadline and second.process.poll() is None:
            time.sleep(0.2)
        refused = second.process.poll() not in (None, 0)
        losses = first.text().count("connection lost")
        assert refused or losses <= 1, f"first lost its connection {losses} times in 10 s:\n{first.text()[-600:]}"
        if refused:
            assert second.text().count("\n") == 1 and "Traceback" not in second.text(), second.text()
    finally:
        if second is not None:
            second.terminate()
        first.terminate()
