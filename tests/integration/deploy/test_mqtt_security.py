"""MQTT over TLS and InfluxDB token auth: the settings that exist from the start, exercised for real."""

from __future__ import annotations

import asyncio
import gc
import http.server
import subprocess
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from ingest.mqtt import connect
from ingest.settings import InfluxSettings, MqttSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.points import Point
from tests.support.servers import free_port, start_mosquitto

pytestmark = pytest.mark.integration


def make_certs(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 (openssl CLI)."""
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.crt"

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=kinetic-test-ca",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_crt),
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_crt),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    return ca_crt, crt, key


# paho leaves the socket of a failed TLS handshake to the garbage collector (it is closed then, with a
# ResourceWarning); that is the library's, not a leak that grows.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_mqtt_over_tls_with_a_private_ca(tmp_path: Path) -> None:
    ca, crt, key = make_certs(tmp_path)
    port = free_port()
    broker = start_mosquitto(
        tmp_path / "broker",
        port=port,
        extra_config=f"cafile {ca}\ncertfile {crt}\nkeyfile {key}\n",
    )
    good = MqttSettings(host="127.0.0.1", port=port, tls=True, ca_file=ca)
    untrusted = MqttSettings(host="127.0.0.1", port=port, tls=True)  # system CAs do not know our CA

    async def scenario() -> bytes:
        with pytest.raises(Exception, match=r"(?i)certificate"):
            async with connect(untrusted, "tls-untrusted", max_attempts=1):
                pass
        async with connect(good, "tls-client") as client:
            await client.subscribe("tls/test", qos=1)
            await client.publish("tls/test", b"over tls", qos=1)
            async for message in client.messages:
                return bytes(message.payload)  # type: ignore[arg-type]
        raise AssertionError("no message")

    try:
        assert asyncio.run(scenario()) == b"over tls"
    finally:
        broker.stop()
        gc.collect()  # collect that socket here, under this test's warning filter


class _Capture(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Capture.seen.append((self.path, self.headers.get("Authorization"), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_influx_token_is_sent_as_the_v1_compatible_api_expects() -> None:
    """InfluxDB 2.x/3.x cannot run here; a loopback HTTP server records what the writer sends."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = InfluxV1Sink(
            InfluxSettings(
                url=f"http://127.0.0.1:{server.server_port}",
                database="kinetic",
                token="s3cret-token",
                create_database=False,
            )
        )
        asyncio.run(sink.prepare())  # create_database=false: nothing sent
        asyncio.run(sink.write([Point.make("m", {"wearer": "ann"}, {"v": 1.5}, 1000)]))
    finally:
        server.shutdown()
        server.server_close()
    (path, auth, body) = _Capture.seen[-1]
    assert len(_Capture.seen) == 1
    assert path == "/write?db=kinetic&precision=ms" and auth == "Token s3cret-token"
    assert body == b"m,wearer=ann v=1.5 1000\n"
