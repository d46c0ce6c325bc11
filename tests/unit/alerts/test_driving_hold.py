"""A phone saying "automotive" holds prompts through the same rule as a meeting (issue 17): the prompt due while
driving waits and goes out a minute after the last such second if the wearer still sits."""

from __future__ import annotations

from alerts.engine import DRIVING_HOLD_MS, AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.prompts.policy.planner import reason_in_words
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import EventV1, PromptV1

MIN = 60_000


def drive(driving_min: tuple[int, int], sit_min: int = 70) -> tuple[int, list[PromptV1 | EventV1]]:
    scenario = parse_scenario(
        f"wearers:\n  - wearer: ann\n    placement: thigh\n    device: ann-phone\n    segments: [sit {sit_min}m]\n"
    )
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy(escalate_after_min=None)))
    start = scenario.start_ms
    out: list[PromptV1 | EventV1] = []
    for batch in batches_for(scenario, scenario.wearers[0], 10):
        frames = [
            f.model_copy(update={"activity": "automotive"})
            if driving_min[0] * MIN <= f.t_ms - start < driving_min[1] * MIN
            else f
            for f in batch.frames
        ]
        out += engine.process(batch.model_copy(update={"frames": frames}))
    return start, out


def test_a_prompt_due_while_driving_waits_until_the_drive_is_over() -> None:
    start, out = drive((20, 45))
    (prompt,) = [o for o in out if isinstance(o, PromptV1)]
    assert prompt.created.timestamp() * 1000 == start + 45 * MIN - 1000 + DRIVING_HOLD_MS
    held = [o for o in out if isinstance(o, EventV1) and o.kind == "prompt_held"]
    assert [h.reason for h in held] == ["driving"] and reason_in_words("driving") == "driving (phone activity)"
    (sent,) = [o for o in out if isinstance(o, EventV1) and o.kind == "prompt_sent"]
    assert sent.reason == "held: driving"


def test_no_drive_no_hold() -> None:
    start, out = drive((0, 0))
    (prompt,) = [o for o in out if isinstance(o, PromptV1)]
    assert prompt.created.timestamp() * 1000 == start + 30 * MIN
