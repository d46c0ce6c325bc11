"""The ``kinetic`` services as real processes (``python -m kinetic ...``) for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kinetic", *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not seen; output:\n{self.text()}")

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)


def run_kinetic(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m kinetic <args>`` to its end, its output captured as text (the caller checks the return code)."""
    return subprocess.run(
        [sys.executable, "-m", "kinetic", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def env_for(mosquitto_port: int, influx_url: str, unique: str, spool_dir: Path) -> dict[str, str]:
    return {
        "KINETIC_BRIDGE__SPOOL_PATH": str(spool_dir / f"{unique}-spool.sqlite"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KINETIC_MQTT__HOST": "127.0.0.1",
        "KINETIC_MQTT__PORT": str(mosquitto_port),
        "KINETIC_MQTT__TOPIC_ROOT": unique,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": unique,
        "KINETIC_INFLUX__URL": influx_url,
        "KINETIC_INFLUX__DATABASE": unique,
        "KINETIC_LOG_LEVEL": "INFO",
        "XDG_DATA_HOME": str(spool_dir / f"{unique}-data"),  # never the real user's data directory
        "KINETIC_ALERTS__STATE_DIR": str(spool_dir / f"{unique}-alerts"),
        # the tests replay dated scenarios (days before this host's clock) as if they were now
        "KINETIC_ALERTS__SEND_EXPIRED_PROMPTS": "true",
        # the senders' store-and-forward queues (default: the user's data directory) beside the spool
        "KINETIC_COLLECTOR__QUEUE_PATH": str(spool_dir / f"{unique}-collector-queue.sqlite"),
        "KINETIC_PHONE__QUEUE_PATH": str(spool_dir / f"{unique}-phone-queue.sqlite"),
    }
