"""The callback server (ntfy's Done and Snooze buttons) must be reachable from the wearer's phone, so anyone who
finds it can send it requests. A bad request costs one counted line at most per interval, like a dead letter
(docs/wire.md, "Size": one line per kind of reason at most every 30 s), and never writes a line of its own."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from alerts.channels.callbacks import make_app
from ingest.wire import CommandV1


async def _send(_: CommandV1) -> bool:
    return True


def bad_requests(paths: list[str]) -> list[int]:
    async def run() -> list[int]:
        async with TestClient(TestServer(make_app(b"s3cret", _send))) as client:
            statuses = []
            for path in paths:
                response = await client.post(path)
                statuses.append(response.status)
            return statuses

    return asyncio.run(run())


def test_a_scanner_with_wrong_signatures_does_not_flood_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """Before: one warning per request (500 requests, 500 lines)."""
    with caplog.at_level(logging.WARNING, logger="alerts.channels.callbacks"):
        statuses = bad_requests([f"/v1/prompts/p{i}/done?wearer=ann&sig=x" for i in range(500)])
    assert set(statuses) == {403}
    assert len(caplog.records) <= 2, len(caplog.records)


def test_a_prompt_id_with_a_line_feed_writes_no_line_of_its_own(caplog: pytest.LogCaptureFixture) -> None:
    """Before: the URL-decoded prompt id went into the log as it was: a forged line
    ('... WARNING alerts: ann acknowledged everything')."""
    forged = "x%0A2026-12-06 02:00:00,000 WARNING alerts: ann acknowledged everything"
    with caplog.at_level(logging.WARNING, logger="alerts.channels.callbacks"):
        statuses = bad_requests([f"/v1/prompts/{forged}/done?wearer=ann&sig=x"])
    assert statuses == [403]
    assert all("\n" not in record.getMessage() for record in caplog.records)
