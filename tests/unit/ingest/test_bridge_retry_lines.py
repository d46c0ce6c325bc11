"""The bridge waiting for its database says so once, then at most a line every 30 s, then that it is back (issue 13,
case 6: a loop that waits must neither be silent nor bury the one line that says what is wrong)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ingest import bridge as bridge_module
from ingest.backoff import Endpoint
from ingest.bridge import Bridge
from ingest.errors import SinkUnavailable
from ingest.settings import BridgeSettings
from ingest.store.embedded import EmbeddedSink
from ingest.store.spool import Spool
from ingest.wire import Topics


class DownFor(EmbeddedSink):
    """The embedded store, unreachable for its first ``failures`` writes."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    async def write_lines(self, body: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise SinkUnavailable("connection refused")
        await super().write_lines(body)


class NoPublisher:
    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        raise AssertionError("nothing is dead-lettered here")


def test_two_hundred_failed_writes_make_two_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bridge_module, "backoff_delay_s", lambda attempt, cap_s: 0.001)  # 200 attempts in < 1 s
    sink = DownFor(tmp_path / "k.sqlite", failures=200)
    store = Endpoint("embedded store", str(tmp_path / "k.sqlite"), "KINETIC_STORE__EMBEDDED_PATH")
    bridge = Bridge(
        topics=Topics("kinetic"),
        sink=sink,
        spool=Spool(tmp_path / "spool.sqlite", 10_000_000),
        settings=BridgeSettings(spool_path=tmp_path / "spool.sqlite"),
        store=store,
    )
    body = b'["features", "s", 1767603600000, {"wearer": "ann"}, {"enmo_mg": 1.0}]\n'

    async def write() -> bool:
        try:
            return await bridge._write_isolating(NoPublisher(), body)  # type: ignore[arg-type]
        finally:
            await sink.aclose()

    with caplog.at_level(logging.INFO, logger="ingest.bridge"):
        assert asyncio.run(write()) is True
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert bridge.counters.write_retries == 200
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"bridge: waiting for embedded store at {tmp_path / 'k.sqlite'} (set by ")
    assert "connection refused; the spool holds" in lines[0] and "a line every 30 s at most" in lines[0]
    assert lines[1].startswith(f"bridge: embedded store at {tmp_path / 'k.sqlite'} reached after 201 attempts")
