"""A trunk's sitting/upright held from postural transitions (alerts.detect.transitions), on its own and in the
live engine behind ``EngineConfig.trunk_transitions``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.detect.posture import Posture, classify, inclination_deg
from alerts.detect.transitions import RECLINED_SITTING_DEG, SitStandState, postures
from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.wire import FeatureBatchV1, FeatureFrameV1, PromptV1

T0 = 1_767_603_600_000


def still(t_s: int, incl_deg: float, trans: str | None = None, lag_ms: int = 2000) -> FeatureFrameV1:
    extra = {} if trans is None else {"trans": trans, "trans_conf": 0.6, "trans_lag_ms": lag_ms}
    return FeatureFrameV1(t_ms=T0 + t_s * 1000, incl_deg=incl_deg, enmo_mg=2.0, sd_mg=10.0, n=50, **extra)  # type: ignore[arg-type]


def walking(t_s: int) -> FeatureFrameV1:
    return FeatureFrameV1(t_ms=T0 + t_s * 1000, incl_deg=3.0, enmo_mg=150.0, sd_mg=250.0, steps=2, n=50)


def read(frames: list[FeatureFrameV1]) -> list[Posture]:
    orientation = [classify(f, "trunk") for f in frames]
    return postures(frames, orientation, [inclination_deg(f, None) for f in frames])


def run(stand_deg: float, sit_deg: float, kind: str = "stand_to_sit") -> list[Posture]:
    frames = [still(s, stand_deg) for s in range(30)]
    frames.append(still(30, sit_deg, kind))  # the edge decided at 30 s: peak at 28 s
    frames += [still(s, sit_deg) for s in range(31, 90)]
    return read(frames)


def test_an_upright_sitter_after_a_stand_to_sit_is_sitting() -> None:
    # orientation alone reads a trunk 6 deg from upright as standing; the stand-to-sit says otherwise
    seen = run(stand_deg=4.0, sit_deg=6.0)
    assert seen[:30] == ["standing"] * 30
    assert seen[31:] == ["sitting"] * 59  # from the second the transition was taken (3 s after its peak)


def test_a_slightly_reclined_stander_after_a_sit_to_stand_is_standing_until_clearly_reclined() -> None:
    frames = [still(s, 16.0) for s in range(30)]  # a sitter leaning back
    frames.append(still(30, 12.0, "sit_to_stand"))
    frames += [still(s, 12.0) for s in range(31, 60)]  # standing, 12 deg: orientation alone says sitting
    frames += [still(s, RECLINED_SITTING_DEG + 5) for s in range(60, 70)]  # clearly reclined: a missed stand-to-sit
    seen = read(frames)
    assert seen[:30] == ["sitting"] * 30
    assert seen[31:60] == ["standing"] * 29
    assert seen[60:] == ["sitting"] * 10


def test_a_transition_the_inclination_contradicts_is_turned_round() -> None:
    # the edge said stand-to-sit, but the trunk went from 15 deg of recline to 4: a sitter who stood up
    frames = [still(s, 15.0) for s in range(30)]
    frames.append(still(30, 4.0, "stand_to_sit"))
    frames += [still(s, 4.0) for s in range(31, 60)]
    state = SitStandState()
    seen = [state.second(f, classify(f, "trunk"), inclination_deg(f, None)) for f in frames]
    assert state.flipped == 1 and state.held == "upright"
    assert seen[31:] == ["standing"] * 29


def test_a_transition_without_an_orientation_change_changes_nothing() -> None:
    seen = run(stand_deg=4.0, sit_deg=4.5)  # a stander shifting weight, read by the edge as a stand-to-sit
    assert seen == ["standing"] * 90


def test_walking_ends_a_held_sitting_state_and_lying_clears_it() -> None:
    frames = [still(s, 4.0) for s in range(30)] + [still(30, 6.0, "stand_to_sit")]
    frames += [still(s, 6.0) for s in range(31, 60)]
    frames += [walking(s) for s in range(60, 70)]
    frames += [still(s, 6.0) for s in range(70, 80)]  # upright after the walk
    frames += [still(s, 85.0) for s in range(80, 90)]  # lying down
    frames += [still(s, 12.0) for s in range(90, 100)]  # up again: orientation decides afresh
    seen = read(frames)
    assert seen[31:60] == ["sitting"] * 29
    assert seen[60:70] == ["moving"] * 10
    assert seen[70:80] == ["standing"] * 10
    assert seen[80:90] == ["lying"] * 10
    assert seen[90:] == ["sitting"] * 10


@given(st.lists(st.tuples(st.floats(0, 180), st.floats(0, 400), st.integers(0, 3)), min_size=1, max_size=200))
def test_without_transitions_the_posture_is_the_orientation_rule(seconds: list[tuple[float, float, int]]) -> None:
    frames = [
        FeatureFrameV1(t_ms=T0 + i * 1000, incl_deg=incl, enmo_mg=sd / 2, sd_mg=sd, steps=steps, n=50)
        for i, (incl, sd, steps) in enumerate(seconds)
    ]
    assert read(frames) == [classify(f, "trunk") for f in frames]


def prompts(transitions: bool) -> list[PromptV1]:
    """A walk, a minute at a standing desk, a stand-to-sit, then 40 min of upright sitting (6 deg from upright)."""
    frames = [walking(s) for s in range(60)]
    frames += [still(s, 4.0) for s in range(60, 120)]
    frames.append(still(120, 6.0, "stand_to_sit"))
    frames += [still(s, 6.0) for s in range(121, 121 + 40 * 60)]
    engine = AlertEngine(
        EngineConfig(trunk_transitions=transitions), load_catalog(), PolicyBook(PromptPolicy(escalate_after_min=None))
    )
    out: list[PromptV1] = []
    for i in range(0, len(frames), 60):
        batch = FeatureBatchV1(wearer="ann", device="ann-chest", placement="trunk", seq=i, frames=frames[i : i + 60])
        out += [o for o in engine.process(batch) if isinstance(o, PromptV1)]
    return out


def test_the_engine_prompts_an_upright_sitter_only_with_transitions_on() -> None:
    assert [p.trigger for p in prompts(transitions=False) if p.trigger == "sitting"] == []
    (prompt,) = [p for p in prompts(transitions=True) if p.trigger == "sitting"]
    sat_down_ms = T0 + 118_000  # the transition's peak
    assert abs(prompt.created.timestamp() * 1000 - (sat_down_ms + 30 * 60_000)) <= 10_000
