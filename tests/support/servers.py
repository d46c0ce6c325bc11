"""Real servers for tests: Mosquitto and influxd 1.x on free loopback ports with temporary data dirs.

A test that needs a server fails (never skips) when the server cannot start: a missing binary is a broken
set-up, and CI must say so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class ServerStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    start_cmd: list[str]
    websockets_port: int | None = None  # Mosquitto: MQTT over websockets (Sensor Logger speaks only that)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def restart(self, ready: Callable[[Server], bool], timeout_s: float = 20.0) -> None:
        """Stop and start again on the same port and data dir (a broker or database restart)."""
        self.stop()
        self.process = _spawn(self.start_cmd, self.log_path, "ab")
        _wait_ready(self, ready, timeout_s)


def _spawn(cmd: list[str], log_path: Path, mode: str) -> subprocess.Popen[bytes]:
    with log_path.open(mode) as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def _binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        raise ServerStartError(f"{name} is not installed (apt-get install {package}; scripts/test does this)")
    return path


def _wait_ready(server: Server, ready: Callable[[Server], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerStartError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        if ready(server):
            return
        time.sleep(0.05)
    server.kill()
    raise ServerStartError(f"{server.name} did not become ready in {timeout_s}s:\n{server.log_tail()}")


def _tcp_ready(server: Server) -> bool:
    try:
        with socket.create_connection((server.host, server.port), timeout=0.5):
            return True
    except OSError:
        return False


def mosquitto_ready(server: Server) -> bool:
    return _tcp_ready(server)


def start_mosquitto(
    base: Path, *, extra_config: str = "", port: int | None = None, autosave_interval_s: int = 1
) -> Server:
    """Mosquitto 2 on 127.0.0.1: anonymous by default, persistence on, and ``max_queued_messages`` raised -
    the default 1000 silently drops even QoS 1 messages when a subscriber lags (services.md). A websockets
    listener (``websockets_port``) beside the TCP one, as deploy/mosquitto/mosquitto.conf has: Sensor Logger
    publishes over websockets only, and Mosquitto 2.0.11 will not start with a websockets listener alone.

    ``autosave_interval_s``: how often the broker writes its whole store (retained messages, persistent sessions'
    queues) to disk when something changed; 1 for the tests, which stop and restart it; a deployment saves every 60
    (deploy/mosquitto/mosquitto.conf). Mosquitto routes nothing while it saves."""
    binary = _binary("mosquitto", "mosquitto")
    base.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    websockets_port = free_port()
    data = base / "data"
    data.mkdir(exist_ok=True)
    config = base / "mosquitto.conf"
    lines = [
        # the TCP listener last: listener options in extra_config (TLS files) are for it
        f"listener {websockets_port} 127.0.0.1",
        "protocol websockets",
        f"listener {port} 127.0.0.1",
        "allow_anonymous true" if "allow_anonymous" not in extra_config else "",
        "max_queued_messages 1000000",
        "set_tcp_nodelay true",  # as deploy/mosquitto has (a small packet waited for a delayed ACK: 40 ms)
        "max_inflight_messages 1000" if "max_inflight_messages" not in extra_config else "",
        "max_packet_size 2097152" if "max_packet_size" not in extra_config else "",  # as deploy/mosquitto has
        "persistence true",
        f"persistence_location {data}/",
        f"autosave_interval {autosave_interval_s}",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # otherwise mosquitto drops to 'mosquitto' and cannot use our temp dir
    config.write_text("\n".join(line for line in lines if line) + "\n" + extra_config)
    log_path = base / "mosquitto.log"
    cmd = [binary, "-c", str(config)]
    process = _spawn(cmd, log_path, "wb")
    server = Server("mosquitto", "127.0.0.1", port, process, log_path, data, cmd, websockets_port)
    _wait_ready(server, mosquitto_ready, 15)
    return server


def influxd_ready(server: Server) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/ping", timeout=0.5) as response:
            return bool(response.status == 204)
    except (urllib.error.URLError, OSError):
        return False


def start_influxd(base: Path, *, auth: bool = False) -> Server:
    """influxd 1.x on 127.0.0.1 (HTTP and RPC ports both moved off their defaults). With ``auth``, authentication
    is on: until the first admin user is created (InfluxQL, unauthenticated, as 1.x allows once) nothing else runs."""
    binary = _binary("influxd", "influxdb")
    base.mkdir(parents=True, exist_ok=True)
    port, rpc_port = free_port(), free_port()
    config = base / "influxdb.conf"
    config.write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{base}/meta"
[data]
  dir = "{base}/data"
  wal-dir = "{base}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = {"true" if auth else "false"}
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""
    )
    log_path = base / "influxd.log"
    cmd = [binary, "run", "-config", str(config)]
    process = _spawn(cmd, log_path, "wb")
    server = Server("influxd", "127.0.0.1", port, process, log_path, base, cmd)
    _wait_ready(server, influxd_ready, 30)
    return server


def victoria_ready(server: Server) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/health", timeout=0.5) as response:
            return bool(response.read().strip() == b"OK")
    except (urllib.error.URLError, OSError):
        return False


def start_victoria_metrics(base: Path) -> Server:
    """VictoriaMetrics on 127.0.0.1: it accepts influxdb-client's ``/api/v2/write`` (InfluxDB 2.x cannot run
    here), so the v2 write path is checked for real; points are read back through ``/api/v1/export``."""
    binary = _binary("victoria-metrics", "victoria-metrics")
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [
        binary,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={base / 'data'}",
        "-retentionPeriod=100y",
        "-search.latencyOffset=0s",
    ]
    log_path = base / "victoria-metrics.log"
    process = _spawn(cmd, log_path, "wb")
    server = Server("victoria-metrics", "127.0.0.1", port, process, log_path, base, cmd)
    _wait_ready(server, victoria_ready, 30)
    return server
