"""The alert service's callback server over HTTPS with a throw-away CA (issue 20, item 5), as ``kinetic alerts`` wires
it on a real Mosquitto: a Done button pressed by a client that trusts the CA is taken (the ack command reaches the
broker); a client that does not trust it is refused at the handshake; plain HTTP gets no answer; a key that is not the
certificate's stops ``kinetic alerts`` with one line naming the settings (exit 2); with TLS on, a callback URL that is
not https:// is refused."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from alerts.channels.http import callback_signature
from alerts.run import run_alerts
from alerts.settings import AlertsSettings
from ingest.settings import MqttSettings
from ingest.wire import CommandV1, Topics
from kinetic.settings import KineticSettings
from tests.integration.deploy.test_mqtt_security import make_certs
from tests.support.pipeline import recording, sync, until
from tests.support.processes import run_kinetic
from tests.support.servers import Server, free_port
from tests.support.tls import CERTIFICATE_REFUSED, NO_HTTP_ANSWER, untrusted_and_plain

pytestmark = pytest.mark.integration
SECRET = "s3cret-for-the-buttons"


@sync
async def test_a_done_button_over_https_is_taken_and_an_untrusted_client_is_refused(
    mosquitto: Server, unique: str, tmp_path: Path
) -> None:
    ca, cert, key = make_certs(tmp_path)
    port = free_port()
    settings = KineticSettings(
        mqtt=MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        alerts=AlertsSettings(
            state_dir=tmp_path / "state",
            callback_url=f"https://127.0.0.1:{port}",
            callback_port=port,
            callback_secret=SECRET,  # type: ignore[arg-type]
            callback_tls_cert=cert,
            callback_tls_key=key,
        ),
    )
    topics = Topics(unique)
    query = urlencode({"wearer": "ann", "sig": callback_signature(SECRET.encode(), "ann", "ann-sitting-1", "done")})
    done = f"127.0.0.1:{port}/v1/prompts/ann-sitting-1/done?{query}"
    stop = asyncio.Event()
    service = asyncio.create_task(run_alerts(settings, stop))
    trusted = ssl.create_default_context(cafile=str(ca))
    async with (
        recording(settings, [topics.all_commands()], f"{unique}-rec") as rec,
        aiohttp.ClientSession() as http,
    ):
        await until(lambda: _listening(port), 20, "the callback server")
        untrusted, plain = await untrusted_and_plain(http, "POST", done)
        async with http.post(f"https://{done}", ssl=trusted) as answer:
            status, text = answer.status, await answer.text()
        await until(lambda: len(rec.on("/commands")) >= 1, 20, "the ack command")
    stop.set()
    await asyncio.wait_for(service, 20)
    assert (untrusted, plain) == (CERTIFICATE_REFUSED, NO_HTTP_ANSWER)
    assert (status, text) == (202, "done: noted\n")
    [command] = [CommandV1.model_validate_json(p) for p in rec.on("/commands")]  # the refused presses sent nothing
    assert (command.kind, command.wearer, command.prompt_id, command.source) == ("ack", "ann", "ann-sitting-1", "ntfy")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_key_that_is_not_the_certificates_stops_kinetic_alerts_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    _, cert, _ = make_certs(tmp_path / "one")
    _, _, other_key = make_certs(tmp_path / "two")
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "KINETIC_ALERTS__STATE_DIR": str(tmp_path / "state"),
        "KINETIC_ALERTS__CALLBACK_SECRET": SECRET,
        "KINETIC_ALERTS__CALLBACK_TLS_CERT": str(cert),
        "KINETIC_ALERTS__CALLBACK_TLS_KEY": str(other_key),
        "KINETIC_MQTT__PORT": str(free_port()),  # nothing listens: the certificate is checked before connecting
    }
    run = run_kinetic(["alerts"], environ, timeout_s=60)
    assert run.returncode == 2, run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(
        "kinetic: error: settings KINETIC_ALERTS__CALLBACK_TLS_CERT / KINETIC_ALERTS__CALLBACK_TLS_KEY: "
        f"cannot load {cert} with {other_key}"
    ), line


def test_with_tls_the_callback_url_must_be_https() -> None:
    with pytest.raises(ValueError, match="must start with https://"):
        AlertsSettings(
            callback_url="http://kinetic.example.org:8642",
            callback_tls_cert=Path("server.crt"),
            callback_tls_key=Path("server.key"),
        )
    with pytest.raises(ValueError, match="CALLBACK_TLS_CERT and KINETIC_ALERTS__CALLBACK_TLS_KEY go together"):
        AlertsSettings(callback_tls_cert=Path("server.crt"))
