"""Every listener of Kinetic on a port already in use (issue 16 task 5): one line naming the address and the
settings that choose it, exit 2, no traceback. ``kinetic serve``, ``kinetic demo --serve`` (its web app starts
inside the demo's task group), the alert service's callback server and ``kinetic phone``'s push endpoint."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.phone.tokens import TokenStore
from ingest.store.embedded import EmbeddedSink
from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "port_setting", "named"),
    [
        (["serve"], "KINETIC_WEB__PORT", "KINETIC_WEB__PORT / KINETIC_WEB__HOST"),
        (["demo", "--serve", "--speed", "0"], "KINETIC_WEB__PORT", "KINETIC_WEB__PORT / KINETIC_WEB__HOST"),
        (["alerts"], "KINETIC_ALERTS__CALLBACK_PORT", "KINETIC_ALERTS__CALLBACK_PORT / KINETIC_ALERTS__CALLBACK_HOST"),
        (["phone"], "KINETIC_PHONE__HTTP_PORT", "KINETIC_PHONE__HTTP_PORT / KINETIC_PHONE__HTTP_HOST"),
    ],
    ids=["serve", "demo-serve", "alerts-callbacks", "phone-push"],
)
def test_a_listener_on_a_taken_port_says_so_in_one_line_and_exits_2(
    mosquitto: Server, unique: str, tmp_path: Path, taken: int, args: list[str], port_setting: str, named: str
) -> None:
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)
    env |= {
        port_setting: str(taken),
        "KINETIC_STORE__KIND": "embedded",
        "KINETIC_STORE__EMBEDDED_PATH": str(tmp_path / "k.sqlite"),
        "KINETIC_ALERTS__CALLBACK_SECRET": "a-callback-secret-of-32-characters!",
        "KINETIC_PHONE__TOKENS_PATH": str(tmp_path / "tokens.json"),
        "KINETIC_AUDIT__PATH": str(tmp_path / "audit.sqlite"),
    }
    TokenStore(tmp_path / "tokens.json").add("w1", "w1-phone", "android")
    asyncio.run(EmbeddedSink(tmp_path / "k.sqlite").aclose())
    proc = Proc(args, env, tmp_path / "out.log")
    try:
        assert proc.process.wait(timeout=120) == 2, proc.text()
    finally:
        proc.terminate()
    text = proc.text()
    assert "Traceback" not in text, text
    [line] = [line for line in text.splitlines() if line.startswith("kinetic: error:")]
    assert line == (
        f"kinetic: error: cannot listen on 127.0.0.1:{taken} (Address already in use): choose another {named}"
    ), text
