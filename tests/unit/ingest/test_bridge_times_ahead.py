"""The bridge refuses a frame or a status a day ahead of its host's clock; an event or a prompt a day ahead is stored
(issue 13, "a timestamp outside a plausible window is refused at the edge of every service")."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.bridge import Bridge
from ingest.settings import BridgeSettings
from ingest.store.embedded import EmbeddedSink
from ingest.store.spool import Spool
from ingest.wire import EventV1, PromptV1, Topics, encode
from tests.support.publisher import PublishedMessages

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
DAY_AHEAD = NOW + timedelta(days=1)


def ahead() -> list[tuple[str, bytes]]:
    summary = EventV1(kind="summary", wearer="ann", t=DAY_AHEAD, metrics={"sitting_s": 3600.0})
    prompt = PromptV1(
        id="ann-sitting-x",
        wearer="ann",
        trigger="sitting",
        exercise="stand-and-reach",
        title="Stand",
        text="Stand up",
        created=DAY_AHEAD,
        expires=DAY_AHEAD + timedelta(minutes=15),
    )
    return [("kinetic/v1/ann/events", encode(summary)), ("kinetic/v1/ann/prompts", encode(prompt))]


@pytest.mark.parametrize(("topic", "payload"), ahead(), ids=["summary event", "prompt"])
def test_an_event_or_prompt_a_day_ahead_is_dead_lettered_not_stored(tmp_path: Path, topic: str, payload: bytes) -> None:
    """Before: stored (a summary_1h point 24 h ahead: tomorrow's dashboard and report start with an hour of sitting)."""
    sink = EmbeddedSink(tmp_path / "k.sqlite")
    bridge = Bridge(
        topics=Topics("kinetic"),
        sink=sink,
        spool=Spool(tmp_path / "spool.sqlite", 10_000_000),
        settings=BridgeSettings(spool_path=tmp_path / "spool.sqlite"),
    )
    out = PublishedMessages()

    async def run() -> tuple[bytes, int]:
        try:
            return await bridge._points_of(out, topic, payload, int(NOW.timestamp() * 1000))
        finally:
            await sink.aclose()

    body, count = asyncio.run(run())
    assert count == 0, body
    assert [json.loads(p)["topic"] for t, p in out.sent if t == "kinetic/v1/_deadletter/bridge"] == [topic]
