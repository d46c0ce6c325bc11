"""The Home Assistant service and times ahead of its host's clock (issue 13, "a frame from the future"): a status,
event or prompt stamped a day ahead must not become a wearer's clock, or everything of today is forgotten."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from dashboards.homeassistant.entities import HaTopics
from dashboards.homeassistant.service import HomeAssistantService
from dashboards.homeassistant.states import StateTracker
from ingest.wire import DeviceStatusV1, EventV1, PromptV1, Topics, encode
from tests.support.publisher import PublishedMessages

# The host's clock: Monday 2026-12-07 10:30 UTC; everything good in the test is before it.
NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
DAY_AHEAD = NOW + timedelta(days=1)


def service() -> HomeAssistantService:
    return HomeAssistantService(
        topics=Topics("kinetic"),
        ha=HaTopics("kinetic"),
        tracker=StateTracker(HaTopics("kinetic"), min_interval_ms=0),
        max_ahead_ms=300_000,
        clock=NOW.timestamp,
    )


def summary(hour: datetime, sitting_s: float) -> bytes:
    return encode(EventV1(kind="summary", wearer="ann", t=hour, metrics={"sitting_s": sitting_s, "breaks": 1.0}))


def ahead_messages() -> list[tuple[str, bytes]]:
    status = DeviceStatusV1(
        wearer="ann", device="ann-thigh", state="online", t_ms=int(DAY_AHEAD.timestamp() * 1000), battery_pct=80
    )
    event = EventV1(kind="prompt_sent", wearer="ann", t=DAY_AHEAD)
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
    return [
        ("kinetic/v1/ann/ann-thigh/status", encode(status)),
        ("kinetic/v1/ann/events", encode(event)),
        ("kinetic/v1/ann/prompts", encode(prompt)),
    ]


@pytest.mark.parametrize(("topic", "payload"), ahead_messages(), ids=["status", "event", "prompt"])
def test_a_message_stamped_a_day_ahead_does_not_erase_today(topic: str, payload: bytes) -> None:
    """Before: `sitting_today` went from 30.0 to 0.0 and stayed 0 for the rest of the day (every later summary of
    today was pruned as 'before today'); the message was not dead-lettered (the bridge dead-letters the status)."""
    ha, out = service(), PublishedMessages()
    state = "kinetic/ha/ann/sitting_today"

    async def run() -> None:
        await ha.handle(out, "kinetic/v1/ann/events", summary(datetime(2026, 12, 7, 8, tzinfo=UTC), 1800.0))
        assert out.last(state) == "30.0"
        await ha.handle(out, topic, payload)
        await ha.handle(out, "kinetic/v1/ann/events", summary(datetime(2026, 12, 7, 9, tzinfo=UTC), 600.0))

    asyncio.run(run())
    assert out.last(state) == "40.0"
    letters = [json.loads(p) for t, p in out.sent if t == "kinetic/v1/_deadletter/homeassistant"]
    assert [letter["topic"] for letter in letters] == [topic]
