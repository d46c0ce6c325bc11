"""The pages' view models: the day's charts, the prompts with their outcome, the 8 weeks' trend, devices, and the
policy form's per-field validation."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.prompts.policy.model import PromptPolicy
from dashboards.web import views
from ingest.store.queries import DeviceRow, MinuteRow, OutcomeRow, PostureBoutRow, PromptEventRow, PromptRow

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 11, 23)


def ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def outcome(prompt_id: str, t_ms: int, within: int | None, acked: bool = False) -> OutcomeRow:
    flags = {k: within is not None and within <= k for k in (1, 3, 5)}
    text = f"moved within {within} min" if within else "no break within 5 min"
    return OutcomeRow(t_ms, prompt_id, "sitting", "x", flags[1], flags[3], flags[5], acked, False, text)


def test_the_day_is_the_wearers_local_day_and_bouts_are_clipped_to_it() -> None:
    start, end = views.day_bounds(DAY, BERLIN)
    assert (start, end) == (ms("2026-11-23T00:00:00+01:00"), ms("2026-11-24T00:00:00+01:00"))
    assert (
        views.day_bounds(date(2026, 3, 29), BERLIN)[1] - views.day_bounds(date(2026, 3, 29), BERLIN)[0] == 23 * 3600_000
    )
    bouts = [
        PostureBoutRow(ms("2026-11-22T23:30:00+01:00"), ms("2026-11-23T00:10:00+01:00"), "lying", 2400),
        PostureBoutRow(ms("2026-11-23T09:00:00+01:00"), ms("2026-11-23T09:40:00+01:00"), "sitting", 2400),
        PostureBoutRow(ms("2026-11-23T09:40:00+01:00"), ms("2026-11-23T09:45:00+01:00"), "moving", 300),
    ]
    minutes = [MinuteRow(ms("2026-11-23T09:00:00+01:00"), 60, 10.0, -3.5, 1.0, 0)]
    prompts = [
        PromptRow(ms("2026-11-23T09:30:00+01:00"), "p1", "sitting", "x"),
        PromptRow(ms("2026-11-23T09:44:00+01:00"), "p2", "lean", "y"),
    ]
    data = views.today_data(BERLIN, DAY, bouts, minutes, prompts, [outcome("p1", prompts[0].t_ms, 3)])
    assert [(s["posture"], s["level"], s["start_ms"]) for s in data["timeline"]] == [
        ("lying", 0, start),
        ("sitting", 1, bouts[1].start_ms),
        ("moving", 3, bouts[2].start_ms),
    ]
    assert data["lean"] == {"t": [minutes[0].t_ms / 1000], "lean_deg": [-3.5]}
    assert [(p["id"], p["outcome"], p["moved"]) for p in data["prompts"]] == [
        ("p1", "moved within 3 min", True),
        ("p2", "waiting (5 min after the prompt, or when the bout ends)", False),
    ]
    assert data["sitting_min"] == 40.0


def test_prompts_come_newest_first_with_their_outcome_and_only_open_ones_take_buttons() -> None:
    prompts = [
        PromptRow(ms("2026-11-23T09:30:00+01:00"), "p1", "sitting", "x"),
        PromptRow(ms("2026-11-23T10:30:00+01:00"), "p2", "sitting", "x"),
    ]
    items = views.prompt_items(prompts, [outcome("p1", prompts[0].t_ms, 1, acked=True)], BERLIN)
    assert [(i.id, i.clock, i.open, i.moved_within_min) for i in items] == [
        ("p2", "10:30", True, None),
        ("p1", "09:30", False, 1),
    ]
    assert items[1].outcome == "moved within 1 min (done pressed)"


def test_re_prompts_and_why_a_prompt_waited_are_shown() -> None:
    bout = ms("2026-11-23T09:00:00+01:00")
    t1, t2, t3 = (ms(f"2026-11-23T{h}:00+01:00") for h in ("09:30", "09:40", "10:20"))
    prompts = [
        PromptRow(t1, "p1", "sitting", "x"),
        PromptRow(t2, "p2", "sitting", "y"),
        PromptRow(t3, "p3", "lean", "z"),
    ]
    events = [
        PromptEventRow(t1, "prompt_sent", "p1", "sitting", bout, None),
        PromptEventRow(t2, "prompt_sent", "p2", "sitting", bout, None),
        PromptEventRow(t3 - 600_000, "prompt_held", None, "lean", bout, "hour_cap"),
        PromptEventRow(t3, "prompt_sent", "p3", "lean", bout, "held: hour_cap"),
        PromptEventRow(t3 + 60_000, "prompt_cancelled", None, "sitting", bout, "moved"),
    ]
    items = {i.id: i for i in views.prompt_items(prompts, [], BERLIN, events)}
    assert [(i.reprompt, i.waited) for i in (items["p1"], items["p2"], items["p3"])] == [
        (False, ""),
        (True, ""),  # the second prompt of the same sitting bout
        (False, "the hour's cap was reached (max_per_hour)"),  # another trigger: not a re-prompt
    ]
    waits = views.wait_items(events, BERLIN)
    assert [(w.clock, w.what, w.trigger, w.why) for w in waits] == [
        ("10:21", "cancelled", "sitting", "the wearer moved before it could go out"),
        ("10:10", "held", "lean", "the hour's cap was reached (max_per_hour)"),
    ]


def test_the_trend_sums_each_local_iso_week_of_the_hourly_summaries() -> None:
    monday = date(2026, 11, 23)
    hours = [
        {"t_ms": float(ms("2026-11-23T00:30:00+01:00")), "sitting_s": 3600.0, "standing_s": 1800.0, "breaks": 2.0},
        {"t_ms": float(ms("2026-11-22T23:30:00+01:00")), "sitting_s": 1800.0, "sitting_bouts_60min_plus": 1.0},
        {"t_ms": float(ms("2026-10-05T10:00:00+02:00")), "sitting_s": 7200.0, "lean_above_10deg_s": 600.0},
        {"t_ms": float(ms("2026-09-28T10:00:00+02:00")), "sitting_s": 7200.0},  # nine weeks back: not shown
    ]
    trend = views.week_trend(monday, BERLIN, hours)
    assert [t.week for t in trend] == [f"2026-W{n}" for n in range(41, 49)]
    assert (trend[-1].sitting_h, trend[-1].worn_h, trend[-1].breaks) == (1.0, 1.5, 2)
    assert (trend[-2].sitting_h, trend[-2].bouts_60_plus) == (0.5, 1)  # Sunday 23:30 in Berlin: the week before
    assert (trend[0].sitting_h, trend[0].lean_10deg_min) == (2.0, 10.0)
    assert sum(t.sitting_h for t in trend) == 3.5
    assert [t.has_data for t in trend] == [True, False, False, False, False, False, True, True]  # none: "no data"


def test_devices_show_battery_and_last_seen_in_the_wearers_zone() -> None:
    rows = [
        DeviceRow("ann-hip", "online", "thigh", 81, ms("2026-11-23T09:00:00+00:00")),
        DeviceRow("ann-chest", None, None, None, ms("2026-11-23T09:00:00+00:00")),
    ]
    items = views.device_items(rows, BERLIN)
    assert [(d.device, d.battery, d.last_seen, d.state) for d in items] == [
        ("ann-hip", "81 %", "2026-11-23 10:00", "online"),
        ("ann-chest", "unknown", "2026-11-23 10:00", "no status"),
    ]


def test_the_policy_form_sends_only_changes_and_names_each_bad_field() -> None:
    base = PromptPolicy()
    values = views.policy_form_values(base)
    assert values["sitting_threshold_min"] == "30" and values["active_hours"] == "" and values["quiet_hours"] == ""
    assert views.policy_overrides(base, values) == ({}, {})
    form = {
        **values,
        "sitting_threshold_min": "25",
        "quiet_hours": "12:00-13:00, 17:00-17:30",
        "active_hours": "09:00-17:00 on mon,fri",
        "standing_threshold_min": "",
    }
    overrides, errors = views.policy_overrides(base, form)
    assert errors == {}
    assert overrides == {
        "sitting_threshold_min": 25,
        "quiet_hours": ["12:00-13:00", "17:00-17:30"],
        "active_hours": {"mon": ["09:00-17:00"], "fri": ["09:00-17:00"]},
        "standing_threshold_min": None,
    }
    plan = {**values, "week_plan": values["week_plan"].replace("tue=relief", "tue=capacity")}
    assert views.policy_overrides(base, plan)[0] == {"week_plan": {**base.week_plan, "tue": "capacity"}}
    assert views.policy_overrides(base, {**values, "week_plan": "mon=rest"})[1] == {
        "week_plan": "mon: Input should be 'capacity' or 'relief'"
    }
    assert "weekday=" in views.policy_overrides(base, {**values, "week_plan": "monday=relief"})[1]["week_plan"]
    changed = base.model_copy(update=overrides)
    assert views.policy_form_values(changed)["active_hours"] == "09:00-17:00 on mon,fri"
    bad = {
        **values,
        "sitting_threshold_min": "-5",
        "max_per_day": "2.5",
        "quiet_hours": "noon",
        "active_hours": "09:00-17:00 on someday",
        "timezone": "Mars/Olympus",
        "snooze_min": "nan",
    }
    overrides, errors = views.policy_overrides(base, bad)
    assert set(errors) == {
        "sitting_threshold_min",
        "max_per_day",
        "quiet_hours",
        "active_hours",
        "timezone",
        "snooze_min",
    }
    assert "greater than 0" in errors["sitting_threshold_min"]
    assert errors["max_per_day"] == "'2.5' is not a whole number"
    assert "unknown weekday 'someday'" in errors["active_hours"]
    assert "unknown time zone" in errors["timezone"]
    assert all("\n" not in e for e in errors.values())


@pytest.mark.parametrize("text", ["2026-11-31", "23.11.2026", "2026-1-1", "", "2026-11-23T00:00"])
def test_a_bad_day_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(views.BadInput, match="day"):
        views.parse_day(text)


def test_durations_read_as_people_say_them() -> None:
    assert [views.duration_text(s) for s in (0, 59, 60, 3599, 3600, 3900, -5)] == [
        "0 s",
        "59 s",
        "1 min",
        "59 min",
        "1 h 00 min",
        "1 h 05 min",
        "0 s",
    ]


def test_the_timeline_and_lean_leave_gaps_where_there_is_no_data() -> None:
    """Issue 16 task 2: minutes with no posture (no frames: the sensor off, not worn, unknown) are gaps in the
    posture timeline and the lean chart, never drawn as the neighbouring posture; a prompt mark inside a bout does
    not cut the bout's line."""
    at = lambda hm: ms(f"2026-11-23T{hm}:00+01:00")  # noqa: E731
    bouts = [
        # a sitting bout the sensor was off for ten minutes of (09:10-09:20: no frames)
        PostureBoutRow(at("09:00"), at("09:30"), "sitting", 1800),
        PostureBoutRow(at("09:30"), at("09:35"), "not_worn", 300),
        PostureBoutRow(at("09:35"), at("09:40"), "standing", 300),
    ]
    with_frames = [h for h in range(0, 40) if not 10 <= h < 20 and not 30 <= h < 35]
    minutes = [MinuteRow(at(f"09:{m:02d}"), 60, 10.0, 2.0, 1.0, 0) for m in with_frames]
    prompts = [PromptRow(at("09:05"), "p1", "sitting", "x")]
    data = views.today_data(BERLIN, DAY, bouts, minutes, prompts, [])
    series = data["series"]
    points = list(zip(series["t"], series["level"], strict=True))
    s = lambda hm: at(hm) / 1000  # noqa: E731
    sitting, standing = views.POSTURE_LEVELS["sitting"], views.POSTURE_LEVELS["standing"]
    drawn = [(t, level) for t, level in points if level is not None]
    assert drawn == [
        (s("09:00"), sitting),
        (s("09:05"), sitting),  # the prompt's x: still the bout's level, the line goes on
        (s("09:10"), sitting),
        (s("09:20"), sitting),
        (s("09:30"), sitting),
        (s("09:35"), standing),
        (s("09:40"), standing),
    ]
    # a null between 09:10 and 09:20 and between 09:30 and 09:35: the line stops there
    gaps = [t for t, level in points if level is None]
    assert any(s("09:10") < t < s("09:20") for t in gaps)
    assert any(s("09:30") < t < s("09:35") for t in gaps)
    assert series["t"] == sorted(series["t"])
    assert [(t, m) for t, m in zip(series["t"], series["waiting"], strict=True) if m is not None] == [(s("09:05"), 4)]
    # lean: a null after the last minute before each hole
    lean = list(zip(data["lean"]["t"], data["lean"]["lean_deg"], strict=True))
    assert (s("09:10"), None) in lean and (s("09:30"), None) in lean
    assert [v for _, v in lean if v is not None] == [2.0] * len(with_frames)
    assert data["lean"]["t"] == sorted(data["lean"]["t"])


def test_a_prompt_mark_says_moved_no_break_or_not_known_yet() -> None:
    """A prompt whose outcome is known and had no break within 5 min is not "no break yet": the timeline has three
    kinds of mark (the demo's alice: every prompt settled with no break, none waiting; task h-tour16 point 1)."""
    at = lambda hm: ms(f"2026-11-23T{hm}:00+01:00")  # noqa: E731
    bouts = [PostureBoutRow(at("09:00"), at("10:30"), "sitting", 5400)]
    minutes = [MinuteRow(at("09:00") + i * 60_000, 60, 10.0, None, 1.0, 0) for i in range(90)]
    prompts = [PromptRow(at(hm), f"p{i}", "sitting", "x") for i, hm in enumerate(("09:30", "09:40", "10:20"))]
    outcomes = [outcome("p0", at("09:30"), None), outcome("p1", at("09:40"), 3)]  # p2: no outcome yet
    data = views.today_data(BERLIN, DAY, bouts, minutes, prompts, outcomes)
    assert [(p["id"], p["state"], p["moved"]) for p in data["prompts"]] == [
        ("p0", "no_break", False),
        ("p1", "moved", True),
        ("p2", "waiting", False),
    ]
    series = data["series"]
    marks = {
        kind: [t for t, v in zip(series["t"], series[kind], strict=True) if v is not None]
        for kind in ("moved", "no_break", "waiting")
    }
    assert marks == {"moved": [at("09:40") / 1000], "no_break": [at("09:30") / 1000], "waiting": [at("10:20") / 1000]}
    assert views.MARK_LABELS == {
        "moved": "prompt: moved within 5 min",
        "no_break": "prompt: no break within 5 min",
        "waiting": "prompt: outcome not known yet",
    }


def test_a_day_without_lean_says_why_instead_of_drawing_empty_axes() -> None:
    """Lean comes from a trunk sensor only (docs/metrics.md): a wearer with a thigh sensor alone (the demo's alice and
    carol) has none, and the page says so, naming their sensors; a trunk sensor that sent no lean that day is "no
    lean data this day"; with lean, no note and the card reads '+ right, - left'."""
    at = lambda hm: ms(f"2026-11-23T{hm}:00+01:00")  # noqa: E731
    no_lean = [MinuteRow(at("09:00"), 60, 80.0, None, 1.0, 0), MinuteRow(at("09:01"), 60, 80.0, None, 1.0, 0)]
    thigh = [DeviceRow("alice-thigh", "offline", "thigh", 100, at("17:00"))]
    data = views.today_data(BERLIN, DAY, [], no_lean, [], [], thigh)
    assert data["lean_empty"] == (
        "No lean: lean is measured by a trunk sensor, and this wearer's sensors are alice-thigh (thigh)."
    )
    assert data["lean_card_note"] == "not measured: no trunk sensor"
    trunk = [*thigh, DeviceRow("alice-trunk", "online", "trunk", 90, at("08:00"))]
    data = views.today_data(BERLIN, DAY, [], no_lean, [], [], trunk)
    assert data["lean_empty"] == "No lean data this day: the trunk sensor sent no frames with a lean."
    assert data["lean_card_note"] == "+ right, - left (trunk sensor)"
    data = views.today_data(BERLIN, DAY, [], [MinuteRow(at("09:00"), 60, 10.0, -3.0, 1.0, 0)], [], [], trunk)
    assert (data["lean_empty"], data["lean_card_note"]) == (None, "+ right, - left (trunk sensor)")
    # no device known at all (nothing stored yet): the day simply has no lean
    assert views.today_data(BERLIN, DAY, [], [], [], [], [])["lean_empty"] == "No lean data this day."
