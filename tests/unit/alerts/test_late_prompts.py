"""A backlog that arrives hours late (a collector replaying its queue after a Wi-Fi outage, a phone's export) is
decided in event time; the prompts it makes expired hours before they were decided. Sent now, the wearer's watch and
phone buzz 'you have been sitting for 30 minutes' hours later, while they may be walking (docs/prompts.md: a prompt
expires ``prompt_ttl_min`` after it was made)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.service import AlertService
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import Topics, encode
from tests.support.publisher import PublishedMessages

DAY = parse_scenario(
    "start: 2026-01-05T09:00:00+00:00\n"
    "wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [walk 2m, sit 40m, walk 2m]\n"
)


def prompts_published(hours_late: float) -> list[dict[str, object]]:
    topics = Topics("kinetic")
    service = AlertService(topics=topics, engine=AlertEngine(EngineConfig(), load_catalog()))
    end = DAY.start + timedelta(minutes=44)
    now_ms = round((end + timedelta(hours=hours_late)).timestamp() * 1000)
    out = PublishedMessages()

    async def run() -> None:
        for batch in batches_for(DAY, DAY.wearers[0], 10):
            await service.handle(out, topics.features("ann", batch.device), encode(batch), now_ms)
        await service.flush()

    asyncio.run(run())
    return [json.loads(p) for t, p in out.sent if t == topics.prompts("ann")]


def test_the_day_live_prompts_once() -> None:
    assert len(prompts_published(hours_late=0)) == 1


def test_a_backlog_three_hours_late_sends_no_expired_prompt() -> None:
    """Before: the prompt of 09:32 (expires 09:47) was published on kinetic/v1/ann/prompts at 12:44 as new, and the
    collector shows every prompt it receives on the watch."""
    assert prompts_published(hours_late=3) == []


def test_the_expired_prompt_is_an_event_with_the_reason_and_has_no_outcome() -> None:
    topics = Topics("kinetic")
    service = AlertService(topics=topics, engine=AlertEngine(EngineConfig(), load_catalog()))
    now_ms = round((DAY.start + timedelta(hours=3, minutes=44)).timestamp() * 1000)
    out = PublishedMessages()

    async def run() -> None:
        for batch in batches_for(DAY, DAY.wearers[0], 10):
            await service.handle(out, topics.features("ann", batch.device), encode(batch), now_ms)
        await service.flush()

    asyncio.run(run())
    events = [json.loads(p) for t, p in out.sent if t == topics.events("ann")]
    kinds = [e["kind"] for e in events]
    assert "prompt_sent" not in kinds and "prompt_outcome" not in kinds
    (cancelled,) = [e for e in events if e["kind"] == "prompt_cancelled"]
    assert cancelled["reason"].startswith("expired: decided 1") and cancelled["prompt_id"].startswith("ann-sitting-")
    assert service.prompts_expired == 1


def test_a_dated_scenario_replayed_as_if_now_sends_its_prompts() -> None:
    """``send_expired`` (KINETIC_ALERTS__SEND_EXPIRED_PROMPTS; the demo): the replayed day prompts as it did live."""
    topics = Topics("kinetic")
    service = AlertService(topics=topics, engine=AlertEngine(EngineConfig(), load_catalog()), send_expired=True)
    now_ms = round((DAY.start + timedelta(days=30)).timestamp() * 1000)
    out = PublishedMessages()

    async def run() -> None:
        for batch in batches_for(DAY, DAY.wearers[0], 10):
            await service.handle(out, topics.features("ann", batch.device), encode(batch), now_ms)
        await service.flush()

    asyncio.run(run())
    assert len([p for t, p in out.sent if t == topics.prompts("ann")]) == 1
