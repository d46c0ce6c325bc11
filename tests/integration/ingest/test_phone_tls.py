"""The phone push endpoint over HTTPS with a throw-away CA (issue 20, item 5): a phone that trusts the CA pushes, a
client that does not trust it is refused at the handshake, plain HTTP gets no answer, a wrong key file is one line."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import pytest

from ingest.errors import ConfigError
from ingest.phone.service import PhoneService
from ingest.settings import PhoneConfig, PhoneSettings
from ingest.store.spool import Spool
from ingest.wire import Topics
from tests.integration.deploy.test_mqtt_security import make_certs
from tests.support.tls import untrusted_and_plain

pytestmark = pytest.mark.integration
TOKEN = "ann-token-0123456789abcdef"
PUSH = b'{"messageId": 0, "sessionId": "session-1", "deviceId": "phone-1", "payload": []}'


def service(tmp_path: Path, cert: Path, key: Path) -> PhoneService:
    settings = PhoneSettings(
        phones=[PhoneConfig(wearer="ann", platform="android", token=TOKEN)],  # type: ignore[arg-type]
        http_port=0,
        queue_path=tmp_path / "q.sqlite",
        tls_cert=cert,
        tls_key=key,
    )
    return PhoneService(settings, Topics("kinetic"), Spool(tmp_path / "q.sqlite", 10**8))


def test_the_push_endpoint_speaks_https_with_the_configured_certificate(tmp_path: Path) -> None:
    ca, cert, key = make_certs(tmp_path)
    phone = service(tmp_path, cert, key)

    async def scenario() -> tuple[int, str, str, str]:
        trusted = ssl.create_default_context(cafile=str(ca))
        async with phone.http_server() as port, aiohttp.ClientSession() as session:
            url = f"https://127.0.0.1:{port}/sensorlogger/ann"
            async with session.post(url, params={"token": TOKEN}, data=PUSH, ssl=trusted) as answer:
                status, text = answer.status, await answer.text()
            untrusted, plain = await untrusted_and_plain(session, "GET", f"127.0.0.1:{port}/healthz")
        return status, text, untrusted, plain

    status, text, untrusted, plain = asyncio.run(scenario())
    assert (status, text) == (200, "ok\n")  # a push with no readings yet: taken, over TLS
    assert untrusted == "certificate refused"
    assert plain == "no HTTP answer"


def test_a_key_that_is_not_the_certificates_is_one_line_naming_the_settings(tmp_path: Path) -> None:
    _, cert, _ = make_certs(tmp_path)
    wrong = tmp_path / "wrong.key"
    wrong.write_text("not a key\n")
    phone = service(tmp_path, cert, wrong)

    async def start() -> None:
        async with phone.http_server():
            pass

    with pytest.raises(ConfigError, match="KINETIC_PHONE__TLS_CERT / KINETIC_PHONE__TLS_KEY: cannot load"):
        asyncio.run(start())


def test_a_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        PhoneSettings(tls_cert=Path("server.crt"))
