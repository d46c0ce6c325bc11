"""Readiness through the engine: RR intervals on the frames while lying, a check-in command, the day's decision as
an event at ``readiness_time``, the relief-day cap and the day type that picks the exercises (alerts/readiness.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, EventV1, FeatureBatchV1, PromptV1

CATALOG = {e.id: e for e in load_catalog()}
WORK = "sit 35m, walk 2m, sit 35m, walk 2m, sit 35m, walk 2m, sit 35m, walk 2m"
CHECKIN_AT = datetime(2026, 1, 6, 7, 30, tzinfo=UTC)
WAKE_MS = round(datetime(2026, 1, 6, 6, 0, tzinfo=UTC).timestamp() * 1000)


def with_rr(batch: FeatureBatchV1, rmssd_ms: int) -> FeatureBatchV1:
    """The batch with one RR interval per second in the last 10 min before waking (alternating 1000 and 1000 +
    ``rmssd_ms``: RMSSD ``rmssd_ms``), as a Polar H10 sends them."""
    frames = [
        f.model_copy(update={"rr_ms": [1000 if (f.t_ms // 1000) % 2 else 1000 + rmssd_ms]})
        if WAKE_MS - 600_000 <= f.t_ms < WAKE_MS
        else f
        for f in batch.frames
    ]
    return batch.model_copy(update={"frames": frames})


def day(night: str, pain: int | None, policy: PromptPolicy) -> list[PromptV1 | EventV1]:
    """An evening, a night (``night``, ending 06:00 UTC), up at 06:00, a check-in at 07:30, four sitting bouts."""
    text = (
        "start: 2026-01-05T20:00:00Z\nwearers:\n  - wearer: ann\n    placement: trunk\n"
        f"    segments: [{night}, walk 2h, {WORK}]\n"
    )
    scenario = parse_scenario(text)
    engine = AlertEngine(EngineConfig(), list(CATALOG.values()), PolicyBook(policy))
    out: list[PromptV1 | EventV1] = []
    checked_in = pain is None
    for batch in batches_for(scenario, scenario.wearers[0], 10):
        if not checked_in and batch.frames[0].t_ms >= CHECKIN_AT.timestamp() * 1000:
            applied, events = engine.command(CommandV1(kind="checkin", wearer="ann", at=CHECKIN_AT, pain=pain))
            assert applied
            out += events
            checked_in = True
        out.extend(engine.process(with_rr(batch, 42)))
    return out


def readiness(out: list[PromptV1 | EventV1]) -> list[EventV1]:
    return [o for o in out if isinstance(o, EventV1) and o.kind == "readiness"]


POLICY = PromptPolicy(escalate_after_min=None, max_per_hour=4, relief_max_per_day=2)


def test_a_good_night_makes_a_capacity_day_with_the_figures() -> None:
    out = day("sit 3h, lie 7h", None, POLICY)
    (decision,) = readiness(out)
    assert decision.t == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)  # readiness_time, UTC policy
    assert decision.metrics is not None
    assert decision.metrics["relief"] == 0
    assert decision.metrics["rmssd_ms"] == pytest.approx(42, abs=0.5)
    assert decision.metrics["lying_h"] == pytest.approx(7.0, abs=0.05)
    assert decision.reason is not None and decision.reason.startswith("capacity day: HRV baseline not known yet")
    day_prompts = [o for o in out if isinstance(o, PromptV1) and o.created >= decision.t]
    assert len(day_prompts) == 4
    assert all("capacity" in CATALOG[p.exercise].day_types for p in day_prompts)


def test_a_short_night_and_pain_make_a_relief_day_with_a_lower_cap() -> None:
    out = day("sit 5h, lie 5h", 7, POLICY)
    checkin = next(o for o in out if isinstance(o, EventV1) and o.kind == "checkin")
    assert checkin.metrics == {"pain": 7} and checkin.reason == "pain 7/10"
    (decision,) = readiness(out)
    assert decision.reason == "relief day: 5.0 h lying last night, pain 7/10"
    day_prompts = [o for o in out if isinstance(o, PromptV1) and o.created >= decision.t]
    assert len(day_prompts) == 2  # relief_max_per_day
    assert all("relief" in CATALOG[p.exercise].day_types for p in day_prompts)
    held = [o for o in out if isinstance(o, EventV1) and o.kind == "prompt_held" and o.reason == "day_cap"]
    assert len(held) == 2


def test_without_readiness_the_week_plan_decides() -> None:
    out = day("sit 5h, lie 5h", 7, POLICY.model_copy(update={"readiness": False}))
    assert readiness(out) == []
    morning = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    assert len([o for o in out if isinstance(o, PromptV1) and o.created >= morning]) == 4  # the week plan's cap: 12


def test_a_check_in_out_of_range_is_refused_by_the_contract() -> None:
    with pytest.raises(ValueError, match="pain"):
        CommandV1(kind="checkin", wearer="ann", at=CHECKIN_AT, pain=11)
    with pytest.raises(ValueError, match="needs pain"):
        CommandV1(kind="checkin", wearer="ann", at=CHECKIN_AT)
    with pytest.raises(ValueError, match="stress"):
        CommandV1.model_validate({"kind": "checkin", "wearer": "ann", "at": CHECKIN_AT, "stress": "extreme"})


def test_a_thigh_sensor_alone_cannot_tell_lying_so_its_nights_decide_nothing() -> None:
    text = (
        "start: 2026-01-05T20:00:00Z\nwearers:\n  - wearer: ann\n    placement: thigh\n"
        f"    segments: [sit 3h, lie 7h, walk 2h, {WORK}]\n"
    )
    scenario = parse_scenario(text)
    engine = AlertEngine(EngineConfig(), list(CATALOG.values()), PolicyBook(POLICY))
    out = [o for batch in batches_for(scenario, scenario.wearers[0], 10) for o in engine.process(batch)]
    assert readiness(out) == []  # not "0.0 h lying last night, relief": unknown, and the week plan decides


def test_readiness_survives_a_restart_and_an_older_snapshot_starts_without_it() -> None:
    import pickle

    from alerts.engine import WearerState
    from alerts.state import decode_snapshot, encode_snapshot

    engine = AlertEngine(EngineConfig(), list(CATALOG.values()), PolicyBook(POLICY))
    scenario = parse_scenario(
        "start: 2026-01-05T20:00:00Z\nwearers:\n  - wearer: ann\n    placement: trunk\n"
        "    segments: [sit 3h, lie 7h, walk 3h]\n"
    )
    for batch in batches_for(scenario, scenario.wearers[0], 10):
        engine.process(with_rr(batch, 42))
    state = engine.wearers["ann"]
    for restored in (pickle.loads(pickle.dumps(state)), decode_snapshot(encode_snapshot(state))):
        assert state.readiness.today is not None and state.readiness.history
        assert restored.readiness.today == state.readiness.today
        assert restored.readiness.history == state.readiness.history
    # a format-1 snapshot (pickle) of before readiness: the state it holds has no readiness
    old = {name: getattr(state, name) for name in state.__struct_fields__ if name != "readiness"}
    blank = WearerState(state.detection)
    blank.__setstate__(old)
    assert blank.readiness.today is None
