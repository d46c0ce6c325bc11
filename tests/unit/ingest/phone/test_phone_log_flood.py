"""`kinetic phone` logs every message it dead-letters (``PhoneService._dead_letter``): a phone whose app sends
something else than its documented message every second, or a device publishing on sensor-logger/<someone not
configured>, writes a warning line per message for as long as it goes on. The other services log one line per kind
of reason at most every 30 s (ingest.mqtt.DeadLetters; docs/wire.md "Size"). Issue 13: a flood of logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingest.phone.service import PhoneService
from ingest.settings import PhoneConfig, PhoneSettings
from ingest.store.spool import Spool
from ingest.wire import Topics


def test_a_phone_repeating_a_bad_message_gets_one_line_per_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = PhoneSettings(
        phones=[PhoneConfig(wearer="ann", platform="android", token="a-token-of-twenty-chars")],  # type: ignore[arg-type]
        queue_path=tmp_path / "q.sqlite",
    )
    service = PhoneService(settings, Topics("kinetic"), Spool(tmp_path / "q.sqlite", 10**8))
    with caplog.at_level(logging.WARNING):
        for _ in range(300):  # five minutes of a push every second
            assert service.take("ann", b'{"not": "sensor logger"}', "http:/sensorlogger/ann").problem is not None
    assert service.counters.bad_messages == 300
    assert len(caplog.records) <= 2, f"{len(caplog.records)} lines: {caplog.records[-1].getMessage()}"
