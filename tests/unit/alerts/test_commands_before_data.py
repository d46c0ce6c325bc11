"""A person's command for a wearer whose sensor has sent nothing yet (since the alert service started): a pause given
before the sensor is switched on in the morning, a threshold set in Home Assistant, which shows it at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, PromptV1

DAY = parse_scenario(
    "start: 2026-01-05T09:00:00+00:00\n"
    "wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [walk 2m, sit 40m, walk 2m]\n"
)
BEFORE = datetime(2026, 1, 5, 8, 55, tzinfo=UTC)  # five minutes before the sensor's first second


def prompts_after(command: CommandV1) -> tuple[bool, list[PromptV1]]:
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy()))
    applied, _ = engine.command(command)
    out = []
    for batch in batches_for(DAY, DAY.wearers[0], 10):
        out += engine.process(batch)
    return applied, [p for p in out if isinstance(p, PromptV1)]


def test_the_day_prompts_without_a_command() -> None:
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy()))
    prompts = [p for b in batches_for(DAY, DAY.wearers[0], 10) for p in engine.process(b) if isinstance(p, PromptV1)]
    assert len(prompts) == 1


def test_a_pause_given_before_the_first_data_holds_the_prompt() -> None:
    """Before: ignored ('unknown wearer'; not dead-lettered, not kept): the prompt came during the pause, while
    `kinetic prompts pause` had said 'pause sent' and Home Assistant showed 'Prompts paused: on'."""
    pause = CommandV1(kind="pause", wearer="ann", at=BEFORE, until=BEFORE + timedelta(hours=2), source="cli")
    applied, prompts = prompts_after(pause)
    assert applied
    assert prompts == []


def test_a_threshold_set_before_the_first_data_is_used() -> None:
    """Before: ignored; the prompt came at 30 min of sitting while Home Assistant showed the threshold as 20."""
    policy = CommandV1(kind="policy", wearer="ann", at=BEFORE, settings={"sitting_threshold_min": 20}, source="ha")
    applied, prompts = prompts_after(policy)
    assert applied
    first = prompts[0]
    assert first.bout_start is not None
    assert (first.created - first.bout_start).total_seconds() == 1200.0
