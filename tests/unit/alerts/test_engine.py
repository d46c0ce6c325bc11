from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for, frames_for
from ingest.wire import CommandV1, EventV1, FeatureBatchV1, FeatureFrameV1, PromptV1

CATALOG = load_catalog()
T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z


def frames_of(scenario):  # type: ignore[no-untyped-def]
    return list(frames_for(scenario, scenario.wearers[0]))


def replay(segments: str, placement: str = "thigh", policy: PromptPolicy | None = None) -> list[PromptV1 | EventV1]:
    scenario = parse_scenario(f"wearers:\n  - wearer: ann\n    placement: {placement}\n    segments: [{segments}]\n")
    engine = AlertEngine(EngineConfig(), CATALOG, PolicyBook(policy or PromptPolicy(escalate_after_min=None)))
    out: list[PromptV1 | EventV1] = []
    for batch in batches_for(scenario, scenario.wearers[0], 10):
        out.extend(engine.process(batch))
    return out


def prompts(outputs: list[PromptV1 | EventV1]) -> list[PromptV1]:
    return [o for o in outputs if isinstance(o, PromptV1)]


def test_one_prompt_at_exactly_the_threshold_in_event_time() -> None:
    (prompt,) = prompts(replay("walk 2m, sit 35m"))
    assert prompt.bout_start is not None
    assert prompt.created - prompt.bout_start == timedelta(minutes=30)
    assert prompt.trigger == "sitting" and prompt.exercise in {e.id for e in CATALOG}
    assert prompt.expires - prompt.created == timedelta(minutes=15)


def test_no_prompt_below_the_threshold() -> None:
    assert prompts(replay("sit 29m50s, walk 5m, sit 29m")) == []


def test_the_threshold_is_a_setting() -> None:
    assert len(prompts(replay("sit 25m", policy=PromptPolicy(sitting_threshold_min=20, escalate_after_min=None)))) == 1


def test_a_break_starts_a_new_bout_and_exercises_rotate() -> None:
    found = prompts(replay("sit 40m, walk 2m, sit 40m"))
    assert len(found) == 2 and found[0].exercise != found[1].exercise


def test_a_few_seconds_of_standing_do_not_reset_the_timer() -> None:
    assert len(prompts(replay("sit 20m, stand 5s, sit 15m"))) == 1


def test_trunk_wearers_are_prompted_too() -> None:
    found = prompts(replay("sit 31m lean_left 12deg", placement="trunk"))
    # a sustained lean (10 min beyond 10 deg by default) is a trigger of its own, then the 30-min sit
    assert [(p.trigger, p.created - p.bout_start) for p in found if p.bout_start] == [
        ("lean", timedelta(minutes=10)),
        ("sitting", timedelta(minutes=30)),
    ]
    assert found[0].exercise == "lean-symmetry-reset" and "left" in found[0].text


def test_events_record_the_bout_and_the_prompt() -> None:
    outputs = replay("sit 35m, walk 2m")
    kinds = [o.kind for o in outputs if isinstance(o, EventV1)]
    assert kinds == ["bout_started", "prompt_sent", "bout_ended", "prompt_outcome", "bout_started"]
    ended = next(o for o in outputs if isinstance(o, EventV1) and o.kind == "bout_ended")
    assert ended.duration_s == 35 * 60 and ended.posture == "sitting"
    outcome = next(o for o in outputs if isinstance(o, EventV1) and o.kind == "prompt_outcome")
    assert outcome.metrics is not None and outcome.metrics["break_after_s"] == 300.0  # walked 5 min after the prompt
    assert (outcome.metrics["broke_1min"], outcome.metrics["broke_3min"], outcome.metrics["broke_5min"]) == (0, 0, 1)


def test_redelivered_batches_give_no_second_prompt() -> None:
    scenario = parse_scenario("wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 35m]\n")
    engine = AlertEngine(EngineConfig(), CATALOG)
    found: list[PromptV1] = []
    for batch in batches_for(scenario, scenario.wearers[0], 10):
        for _ in range(2):  # QoS 1 may deliver twice
            found.extend(prompts(engine.process(batch)))
    assert len(found) == 1 and engine.counters.stale_frames == 35 * 60


def test_a_less_informative_second_sensor_does_not_drive_bouts() -> None:
    engine = AlertEngine(EngineConfig(), CATALOG)

    def batch(device: str, placement: str, t0: int) -> FeatureBatchV1:
        frames = [FeatureFrameV1(t_ms=T0 + t0 + i * 1000, incl_deg=85, enmo_mg=1, n=50) for i in range(10)]
        return FeatureBatchV1.model_validate(
            {"wearer": "ann", "device": device, "placement": placement, "seq": 0, "frames": frames}
        )

    engine.process(batch("ann-thigh", "thigh", 0))
    engine.process(batch("ann-wrist", "wrist", 0))
    assert engine.counters.secondary_batches == 1 and engine.wearers["ann"].primary == "ann-thigh"


def test_a_sensor_put_on_the_desk_is_never_prompted_and_becomes_not_worn() -> None:
    outputs = replay("walk 2m, sit 25m, off 40m, walk 2m")
    assert prompts(outputs) == []
    ended = [o for o in outputs if isinstance(o, EventV1) and o.kind == "bout_ended"]
    sitting = next(e for e in ended if e.posture == "sitting")
    assert sitting.duration_s == 25 * 60  # the desk time was taken back out of the sitting bout
    not_worn = next(e for e in ended if e.posture == "not_worn")
    assert not_worn.duration_s == 40 * 60


def test_a_desk_sensor_from_the_start_never_counts_as_sitting_time() -> None:
    outputs = replay("walk 1m, off 90m")
    assert prompts(outputs) == []
    started = [o.posture for o in outputs if isinstance(o, EventV1) and o.kind == "bout_started"]
    assert started[-1] == "not_worn"


def test_hourly_summaries_count_posture_time_bouts_and_lean_exposure() -> None:
    scenario = parse_scenario(
        "start: 2026-01-05T09:00:00+00:00\nwearers:\n  - wearer: ann\n    placement: trunk\n"
        "    segments: [walk 5m, sit 40m lean_left 14deg, stand 5m, walk 10m, sit 70m, walk 5m]\n"
    )
    engine = AlertEngine(EngineConfig(), CATALOG)
    outputs: list[PromptV1 | EventV1] = []
    for batch in batches_for(scenario, scenario.wearers[0], 60):
        outputs += engine.process(batch)
    outputs += engine.close("ann")
    summaries = [o for o in outputs if isinstance(o, EventV1) and o.kind == "summary"]
    assert [s.t.hour for s in summaries] == [9, 10, 11]
    first = summaries[0].metrics or {}
    # seconds as classified one by one (a few noisy walking seconds may fall either side)
    assert abs(first["sitting_s"] - 40 * 60) <= 120 and abs(first["moving_s"] - 15 * 60) <= 10
    assert first["sitting_bouts_30_60min"] == 1 and first["breaks"] == 1
    assert first["lean_above_10deg_s"] > 0.9 * 40 * 60  # leaning left 14 deg for 40 minutes
    assert first["lean_symmetry_index_pct"] < -190 and first["sustained_lean_episodes"] == 1
    total_sitting = sum((s.metrics or {})["sitting_s"] for s in summaries)
    assert 0.95 * 110 * 60 <= total_sitting <= 110 * 60  # the simulated trunk recline is noisy: a few % read upright
    assert sum((s.metrics or {})["sitting_bouts_60min_plus"] for s in summaries) == 1


def both_sensors(segments: str) -> list[PromptV1 | EventV1]:
    scenario = parse_scenario(
        "start: 2026-01-05T09:00:00+00:00\nwearers:\n"
        f"  - wearer: ann\n    placement: thigh\n    segments: [{segments}]\n"
        f"  - wearer: ann\n    placement: trunk\n    segments: [{segments}]\n"
    )
    thigh, trunk = (list(batches_for(scenario, w, 10)) for w in scenario.wearers)
    engine = AlertEngine(EngineConfig(), CATALOG)
    out: list[PromptV1 | EventV1] = []
    for a, b in zip(trunk, thigh, strict=True):  # the trunk's batch arrives first, as it may
        out += engine.process(a) + engine.process(b)
    return out + engine.close("ann")


def test_thigh_and_trunk_together_tell_lying_from_sitting_and_give_lean_exposure() -> None:
    outputs = both_sensors("walk 3m, sit 20m lean_right 13deg, walk 2m, lie 20m, walk 2m")
    bouts = [
        (o.posture, round((o.duration_s or 0) / 60))
        for o in outputs
        if isinstance(o, EventV1) and o.kind == "bout_ended"
    ]
    assert ("sitting", 20) in bouts and ("lying", 20) in bouts
    (summary,) = [o for o in outputs if isinstance(o, EventV1) and o.kind == "summary"]
    metrics = summary.metrics or {}
    assert metrics["lean_above_10deg_s"] > 15 * 60 and metrics["lean_symmetry_index_pct"] > 190
    assert metrics["lying_s"] > 19 * 60


def test_explicit_stand_still_calibration() -> None:
    scenario = parse_scenario("wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [stand 1m, sit 40m]\n")
    frames = [f.model_copy(update={"incl_deg": None}) for f in frames_of(scenario)]  # gravity only: no walking
    engine = AlertEngine(EngineConfig(), CATALOG)
    first = FeatureBatchV1(wearer="ann", device="d", placement="thigh", seq=0, frames=frames[:10])
    assert [o for o in engine.process(first) if isinstance(o, EventV1) and o.posture == "standing"] == []
    assert engine.calibrate("ann", frames[10].t_ms) and not engine.calibrate("nobody", 0)
    out: list[PromptV1 | EventV1] = []
    for i in range(10, len(frames), 60):
        out += engine.process(
            FeatureBatchV1(wearer="ann", device="d", placement="thigh", seq=i, frames=frames[i : i + 60])
        )
    assert engine.wearers["ann"].primary_device.calibration.source == "explicit"
    assert len(prompts(out)) == 1  # the 40-minute sit was recognised once calibrated


def test_forget_drops_a_wearer_without_an_event_and_a_later_batch_starts_afresh() -> None:
    from datetime import UTC, datetime

    from ingest.wire import CommandV1

    scenario = parse_scenario(
        "start: 2026-11-23T09:00:00+01:00\nwearers:\n"
        "  - wearer: ann\n    placement: thigh\n    segments: [sit 20m]\n"
        "  - wearer: zoe\n    placement: thigh\n    segments: [sit 20m]\n"
    )
    engine = AlertEngine(EngineConfig(), CATALOG)
    batches = {w.wearer: list(batches_for(scenario, w, 10)) for w in scenario.wearers}
    for wearer in ("ann", "zoe"):
        for b in batches[wearer][:60]:
            engine.process(b)
    ann_before = engine.wearers["ann"]
    forget = CommandV1(kind="forget", wearer="zoe", at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC), source="cli")
    assert engine.command(forget) == (True, [])
    assert set(engine.wearers) == {"ann"} and engine.wearers["ann"] is ann_before
    assert engine.command(forget) == (False, [])  # nothing left to forget
    outputs = engine.process(batches["zoe"][60])
    assert [o.kind for o in outputs if isinstance(o, EventV1)] == ["bout_started"]  # a new wearer to the engine


# Issue 14, bout logic that matches what people do


def events(outputs: list[PromptV1 | EventV1], kind: str) -> list[EventV1]:
    return [o for o in outputs if isinstance(o, EventV1) and o.kind == kind]


COOKING_15_MIN = ", ".join(["stand 6s, walk 4s"] * 90)  # at the stove, to the fridge, back: 15 min


def test_cooking_between_two_sits_is_a_break_not_part_of_one_long_sitting_bout() -> None:
    outputs = replay(f"sit 25m, {COOKING_15_MIN}, sit 10m", policy=PromptPolicy())
    assert prompts(outputs) == []  # was: a 50-min sitting bout, prompted at 30 and 40 min while cooking
    bouts = [(e.posture, e.duration_s) for e in events(outputs, "bout_ended")]
    assert bouts == [("sitting", 25 * 60), ("moving", 15 * 60)]  # the last sit is still going on
    assert [e.posture for e in events(outputs, "bout_started")] == ["sitting", "moving", "sitting"]


def test_cooking_counts_one_break_and_two_sitting_bouts_in_the_hour() -> None:
    scenario = parse_scenario(
        f"wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 25m, {COOKING_15_MIN}, sit 10m]\n"
    )
    engine = AlertEngine(EngineConfig(), CATALOG)
    outputs: list[PromptV1 | EventV1] = []
    for batch in batches_for(scenario, scenario.wearers[0], 10):
        outputs += engine.process(batch)
    outputs += engine.close("ann")
    (summary,) = events(outputs, "summary")
    metrics = summary.metrics or {}
    assert (metrics["sitting_bouts_under_30min"], metrics["breaks"]) == (2, 1)


def test_cooking_is_not_standing_still_and_standing_still_is_still_prompted() -> None:
    cooking_50_min = ", ".join(["stand 6s, walk 4s"] * 300)
    assert prompts(replay(f"sit 5m, {cooking_50_min}", policy=PromptPolicy())) == []
    (prompt,) = prompts(replay("sit 5m, walk 4s, stand 50m", policy=PromptPolicy(escalate_after_min=None)))
    assert prompt.trigger == "standing" and prompt.bout_start is not None
    assert prompt.created - prompt.bout_start == timedelta(minutes=45)
    assert prompt.bout_start - datetime.fromtimestamp(T0 / 1000, UTC) == timedelta(minutes=5, seconds=4)


def test_no_prompt_once_the_wearer_has_stood_up_even_before_the_stand_is_confirmed() -> None:
    outputs = replay("sit 29m55s, stand 2m")  # stood up 5 s before the 30-min threshold
    assert prompts(outputs) == []  # was: a prompt at 30:00, "moved within 1 min", break_after_s=0
    assert events(outputs, "prompt_outcome") == []
    (sitting,) = events(outputs, "bout_ended")
    assert sitting.duration_s == 29 * 60 + 55


def test_a_prompt_due_while_the_wearer_is_briefly_up_goes_out_when_they_sit_back_down() -> None:
    outputs = replay("sit 29m55s, stand 8s, sit 5m, walk 2m")  # up for 8 s: no break
    (prompt,) = prompts(outputs)
    assert prompt.bout_start is not None and prompt.held_s is None
    assert prompt.created - prompt.bout_start == timedelta(minutes=30, seconds=3)  # at its real time
    (outcome,) = events(outputs, "prompt_outcome")
    assert outcome.metrics is not None and outcome.metrics["break_after_s"] == 300.0  # walked 5 min later
    assert (outcome.metrics["broke_1min"], outcome.metrics["broke_5min"]) == (0, 1)


segment_lists = st.lists(
    st.tuples(
        st.sampled_from(["sit", "stand", "walk"]),
        st.one_of(st.integers(min_value=1, max_value=15), st.integers(min_value=60, max_value=240)),
    ),
    min_size=1,
    max_size=25,
)
EAGER = PromptPolicy(
    sitting_threshold_min=1,
    standing_threshold_min=1,
    escalate_after_min=1,
    min_spacing_min=0,
    max_per_hour=60,
    max_per_day=500,
)


@settings(max_examples=30, deadline=None)
@given(segment_lists)
def test_sitting_bouts_hold_no_upright_period_and_no_prompt_counts_a_break_before_it(
    segments: list[tuple[str, int]],
) -> None:
    """Random days of sitting, standing and walking through the simulator and the engine, with a 1-min threshold so
    that prompts are many: the scenario says when the wearer was upright (standing or walking)."""
    text = ", ".join(f"{activity} {seconds}s" for activity, seconds in segments)
    outputs = replay(text, policy=EAGER)
    scenario = parse_scenario(f"wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [{text}]\n")
    truth = [activity for activity, seconds in segments for _ in range(seconds)]
    t0 = scenario.start_ms

    def second(t: datetime) -> int:
        return (round(t.timestamp() * 1000) - t0) // 1000

    upright_periods: list[tuple[int, int]] = []  # [first, end) seconds of each run of standing and walking
    for i, activity in enumerate(truth):
        if activity != "sit":
            if upright_periods and upright_periods[-1][1] == i:
                upright_periods[-1] = (upright_periods[-1][0], i + 1)
            else:
                upright_periods.append((i, i + 1))
    sitting = [
        (second(e.bout_start), second(e.bout_start) + round(e.duration_s or 0))
        for e in events(outputs, "bout_ended")
        if e.posture == "sitting" and e.bout_start is not None
    ]
    for first, end in upright_periods:
        if end - first >= 10:
            assert not any(start < end and first < stop for start, stop in sitting), (first, end, sitting)

    bout_ends = {(e.posture, e.bout_start): e.t for e in events(outputs, "bout_ended")}
    by_id = {p.id: p for p in prompts(outputs)}
    for prompt in by_id.values():  # a bout prompt goes out while the wearer is in that posture, never half up
        assert truth[second(prompt.created)] == ("sit" if prompt.trigger == "sitting" else "stand") or (
            prompt.trigger == "standing" and truth[second(prompt.created)] == "walk"  # a step read as standing
        )
    for outcome in events(outputs, "prompt_outcome"):
        metrics = outcome.metrics or {}
        if "break_after_s" in metrics:
            prompt = by_id[outcome.prompt_id or ""]
            assert metrics["break_after_s"] > 0
            broke_at = bout_ends[(prompt.trigger, prompt.bout_start)]
            assert broke_at - prompt.created == timedelta(seconds=metrics["break_after_s"])


def test_a_calibration_is_taken_once_and_only_while_its_moment_lasts() -> None:
    """Found after the named cases: a redelivered "stand still now" (QoS 1 after a restart, a replayed or retained
    command) re-learned the upright from the next quiet seconds, whatever the wearer was doing by then."""
    scenario = parse_scenario("wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [stand 1m, sit 40m]\n")
    frames = [f.model_copy(update={"incl_deg": None}) for f in frames_of(scenario)]
    engine = AlertEngine(EngineConfig(), CATALOG)
    engine.process(FeatureBatchV1(wearer="ann", device="d", placement="thigh", seq=0, frames=frames[:10]))
    at = frames[10].t_ms
    assert engine.calibrate("ann", at)
    assert not engine.calibrate("ann", at)  # the same command again: a repeat, not taken
    assert not engine.calibrate("ann", at - 5000)  # an older one: not taken either
    assert engine.refused == []  # repeats are normal at-least-once delivery: counted by the caller, no dead letter
    engine.process(FeatureBatchV1(wearer="ann", device="d", placement="thigh", seq=1, frames=frames[10:200]))
    device = engine.wearers["ann"].primary_device
    assert device.calibration.source == "explicit" and device.explicit_from_ms is None
    # 190 s later the sensor's data is past the moment: a command asked then is refused with the reason
    assert not engine.calibrate("ann", frames[199].t_ms - 61_000)
    assert engine.refused == [
        f"ann/d: calibrate at t_ms {frames[199].t_ms - 61_000} is 61 s behind the sensor's data "
        f"(t_ms {frames[199].t_ms}): the moment to stand still is over; ask again"
    ]
    assert device.explicit_from_ms is None  # nothing re-learned


def test_a_rejected_policy_command_is_refused_with_the_reason() -> None:
    engine = AlertEngine(EngineConfig(), CATALOG)
    scenario = parse_scenario("wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 1m]\n")
    engine.process(next(iter(batches_for(scenario, scenario.wearers[0], 10))))
    command = CommandV1(
        kind="policy", wearer="ann", at=datetime.fromtimestamp(T0 / 1000, UTC), settings={"sitting_threshold_min": -5}
    )
    applied, out = engine.command(command)
    assert not applied and out[0].reason is not None and out[0].reason.startswith("rejected: ")
    assert len(engine.refused) == 1 and engine.refused[0].startswith("ann: policy command rejected: ")


def test_a_meeting_in_the_calendar_holds_the_prompt_until_it_ends() -> None:
    """Issue 17: busy time from the wearer's calendar holds prompts; one due in the meeting goes out as it ends if
    the wearer still sits, marked as having waited for it."""
    from alerts.prompts.calendar import Busy

    scenario = parse_scenario("wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [walk 2m, sit 50m]\n")
    engine = AlertEngine(EngineConfig(), CATALOG, PolicyBook(PromptPolicy(escalate_after_min=None)))
    start = scenario.start_ms
    # a meeting from 20 to 40 min after sitting down: the 30-min prompt waits for its end
    engine.busy["ann"] = [Busy(start + 22 * 60_000, start + 42 * 60_000)]
    out: list[PromptV1 | EventV1] = []
    for batch in batches_for(scenario, scenario.wearers[0], 10):
        out.extend(engine.process(batch))
    (held,) = events(out, "prompt_held")
    assert held.reason == "meeting" and held.t.timestamp() * 1000 == start + 32 * 60_000
    (prompt,) = prompts(out)
    assert prompt.created.timestamp() * 1000 == start + 42 * 60_000
    (sent,) = events(out, "prompt_sent")
    assert sent.reason == "held: meeting"
