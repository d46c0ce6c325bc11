"""Issue 14, item 4: a lean prompt that survives real noise. A trunk lean of 12 deg with the simulator's lateral
noise (1.5 deg SD: about 9 % of seconds at or under the 10 deg line) is one lean episode, prompted once at the
policy's 10 min, whatever the noise; before hysteresis and the minimum interruption, three low seconds together
restarted the episode, and the prompt came 9-14 min late, twice, or not at all (seeds 1, 2, 8, 16)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for, frames_for
from ingest.wire import PromptV1

CATALOG = load_catalog()


@hypothesis_settings(max_examples=30)
@given(st.integers(0, 2**32 - 1))
@example(1)
@example(2)
@example(8)
@example(16)
def test_a_noisy_12_deg_lean_is_prompted_once_at_10_min_for_any_noise(seed: int) -> None:
    scenario = parse_scenario(
        f"seed: {seed}\nwearers:\n  - wearer: ann\n    placement: trunk\n    segments: [sit 25m lean_left 12deg]\n"
    )
    script = scenario.wearers[0]
    leans = [f.lean_deg for f in frames_for(scenario, script) if f.lean_deg is not None]
    assert 0.06 < sum(1 for lean in leans if abs(lean) <= 10.0) / len(leans) < 0.13  # the noise issue 14 names
    engine = AlertEngine(EngineConfig(), CATALOG, PolicyBook(PromptPolicy(escalate_after_min=None)))
    found = [o for batch in batches_for(scenario, script, 10) for o in engine.process(batch) if isinstance(o, PromptV1)]
    (prompt,) = found  # one prompt: the lean (the 30-min sitting prompt is not due in 25 min)
    assert prompt.trigger == "lean" and "left" in prompt.text
    after_s = (prompt.created - scenario.start).total_seconds()
    assert 600 <= after_s <= 605  # 10 min from the first second beyond the line, which comes within seconds
