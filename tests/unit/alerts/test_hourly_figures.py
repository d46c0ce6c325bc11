"""The hourly summaries the engine publishes agree with its bouts (issue 14, 3c) and follow the wearer's clock
(issue 14, 6): scenarios from the simulator through the whole engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import EventV1, PromptV1

CATALOG = load_catalog()


def run(start: str, segments: str, tz: str, placement: str = "thigh") -> list[PromptV1 | EventV1]:
    scenario = parse_scenario(
        f"start: {start}\nseed: 5\nwearers:\n  - wearer: ann\n    placement: {placement}\n    segments: [{segments}]\n"
    )
    engine = AlertEngine(EngineConfig(), CATALOG, PolicyBook(PromptPolicy(timezone=tz)))
    out: list[PromptV1 | EventV1] = []
    for batch in batches_for(scenario, scenario.wearers[0], 10):
        out += engine.process(batch)
    return out + engine.close("ann")


def events(outputs: list[PromptV1 | EventV1], kind: str) -> list[EventV1]:
    return [o for o in outputs if isinstance(o, EventV1) and o.kind == kind]


def stored(outputs: list[PromptV1 | EventV1]) -> dict[tuple[datetime, float], dict[str, float]]:
    """What a store keeps of the summaries: the last one per series (local hour tag) and time stamp."""
    out: dict[tuple[datetime, float], dict[str, float]] = {}
    for s in events(outputs, "summary"):
        metrics = s.metrics or {}
        out[(s.t, metrics["local_hour"])] = metrics
    return out


@pytest.mark.parametrize(
    ("tz", "start"),
    [
        ("UTC", "2026-01-05T09:40:00+00:00"),  # the still run starts at 09:50, is found not worn at 10:10
        ("Asia/Kolkata", "2026-01-05T15:40:00+05:30"),  # the same on a clock 5:30 ahead: hours start at :30 UTC
        ("America/St_Johns", "2026-01-05T06:40:00-03:30"),  # 3:30 behind
    ],
)
def test_a_sensor_on_a_desk_between_two_walks_is_not_worn_in_every_hourly_figure(tz: str, start: str) -> None:
    outputs = run(start, "walk 10m, off 60m, walk 10m", tz)
    assert not any(isinstance(o, PromptV1) for o in outputs)
    (not_worn,) = [b for b in events(outputs, "bout_ended") if b.posture == "not_worn"]
    assert not_worn.duration_s == 60 * 60  # the bouts: not worn from the start of the stillness
    assert not [b for b in events(outputs, "bout_ended") if b.posture == "sitting"]
    hours = stored(outputs)
    off_start = datetime.fromisoformat(start).astimezone(UTC) + timedelta(minutes=10)
    first = off_start.astimezone(ZoneInfo(tz)).replace(minute=0).astimezone(UTC)  # the local hour it starts in
    assert [t for t, _ in hours] == [first, first + timedelta(hours=1)]
    clock = first.astimezone(ZoneInfo(tz)).hour
    assert clock == datetime.fromisoformat(start).hour  # the wearer's clock hour, not UTC's
    before, after = hours[(first, clock)], hours[(first + timedelta(hours=1), clock + 1)]
    # the first hour was published before the stillness was found to be a sensor on a desk, then again, corrected
    published = [s for s in events(outputs, "summary") if s.t == first]
    assert len(published) == 2 and (published[0].metrics or {})["sitting_s"] == 10 * 60
    assert (before["sitting_s"], before["not_worn_s"], after["sitting_s"], after["not_worn_s"]) == (0, 600, 0, 3000)
    assert sum(h["not_worn_s"] for h in hours.values()) == not_worn.duration_s  # every figure agrees
    assert before["moving_s"] + before["standing_s"] == 600 and after["moving_s"] + after["standing_s"] == 600


def test_an_hour_is_not_published_again_when_nothing_in_it_changed() -> None:
    outputs = run("2026-01-05T09:00:00+00:00", "walk 10m, off 30m, walk 10m", "UTC")  # found not worn in its hour
    assert [s.t.hour for s in events(outputs, "summary")] == [9]
    (hour,) = stored(outputs).values()
    assert (hour["not_worn_s"], hour["sitting_s"]) == (1800, 0)
