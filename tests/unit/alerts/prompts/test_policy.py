"""A scenario per policy rule, through the whole engine in event time (alerts.prompts.policy, docs/prompts.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.errors import PolicyError
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, EventV1, PromptV1

CATALOG = load_catalog()
MONDAY = "2026-01-05T09:00:00+00:00"


@dataclass
class Run:
    prompts: list[PromptV1]
    events: list[EventV1]
    start: datetime

    def at(self) -> list[timedelta]:
        """When each prompt went out, from the start of the data."""
        return [p.created - self.start for p in self.prompts]

    def kinds(self, kind: str) -> list[EventV1]:
        return [e for e in self.events if e.kind == kind]


def run(
    segments: str,
    *,
    start: str = MONDAY,
    placement: str = "thigh",
    commands: list[tuple[timedelta, dict[str, Any]]] = (),  # type: ignore[assignment]
    book: PolicyBook | None = None,
    **policy: Any,
) -> Run:
    """Replay ``segments`` for wearer ann; ``commands`` are applied at their offset from the start (event time).
    A command's ``prompt_id`` may be "last" for the latest prompt."""
    scenario = parse_scenario(
        f"start: {start}\nwearers:\n  - wearer: ann\n    placement: {placement}\n    segments: [{segments}]\n"
    )
    engine = AlertEngine(EngineConfig(), CATALOG, book or PolicyBook(PromptPolicy(**policy)))
    t0 = datetime.fromisoformat(start)
    pending = sorted(commands, key=lambda c: c[0])
    out: list[PromptV1 | EventV1] = []
    for batch in batches_for(scenario, scenario.wearers[0], 1):
        now = datetime.fromtimestamp(batch.frames[0].t_ms / 1000, t0.tzinfo)
        while pending and t0 + pending[0][0] <= now:
            offset, fields = pending.pop(0)
            if fields.get("prompt_id") == "last":
                fields = {**fields, "prompt_id": [o for o in out if isinstance(o, PromptV1)][-1].id}
            _, events = engine.command(CommandV1(wearer="ann", at=t0 + offset, **fields))
            out += events
        out += engine.process(batch)
    out += engine.close("ann")
    return Run(
        [o for o in out if isinstance(o, PromptV1)],
        [o for o in out if isinstance(o, EventV1)],
        t0,
    )


M = timedelta(minutes=1)


def test_default_one_prompt_at_30_min_then_one_gentle_re_prompt_after_10_min_then_stop() -> None:
    r = run("sit 80m")
    assert r.at() == [30 * M, 40 * M]
    assert [p.attempt for p in r.prompts] == [1, 2]
    assert r.prompts[1].text.startswith("Gentle reminder") and r.prompts[0].exercise != r.prompts[1].exercise


def test_escalation_can_be_switched_off() -> None:
    assert run("sit 80m", escalate_after_min=None).at() == [30 * M]


def test_done_stops_the_re_prompt() -> None:
    r = run("sit 80m", commands=[(32 * M, {"kind": "ack", "prompt_id": "last"})])
    assert r.at() == [30 * M]
    assert [e.prompt_id for e in r.kinds("prompt_ack")] == [r.prompts[0].id]
    (outcome,) = r.kinds("prompt_outcome")
    assert outcome.metrics is not None and outcome.metrics["acked"] == 1 and outcome.metrics["broke_5min"] == 0


def test_snooze_reminds_once_after_the_snooze_instead_of_the_escalation() -> None:
    r = run("sit 80m", commands=[(31 * M, {"kind": "snooze", "prompt_id": "last", "minutes": 15})])
    assert r.at() == [30 * M, 46 * M]
    assert r.kinds("prompt_snoozed")[0].prompt_id == r.prompts[0].id


def test_snooze_uses_the_policy_default_of_10_min() -> None:
    r = run("sit 80m", commands=[(31 * M, {"kind": "snooze", "prompt_id": "last"})])
    assert r.at() == [30 * M, 41 * M]


def test_do_not_disturb_holds_the_prompt_and_delivers_it_when_it_ends() -> None:
    until = datetime.fromisoformat(MONDAY) + 45 * M
    r = run("sit 80m", commands=[(20 * M, {"kind": "pause", "until": until})], escalate_after_min=None)
    assert r.at() == [45 * M]
    assert r.prompts[0].held_s == 15 * 60
    assert r.prompts[0].exercise == "hip-opening-sequence"  # the after-meeting sequence after a pause
    assert [e.reason for e in r.kinds("prompt_held")] == ["paused"]


def test_a_held_prompt_is_dropped_when_the_wearer_moved_meanwhile() -> None:
    r = run("sit 35m, walk 10m, sit 10m", commands=[(20 * M, {"kind": "pause"})])
    assert r.prompts == []
    assert [e.reason for e in r.kinds("prompt_cancelled")] == ["moved"]


def test_resume_ends_a_pause() -> None:
    r = run(
        "sit 80m",
        commands=[(20 * M, {"kind": "pause"}), (50 * M, {"kind": "resume"})],
        escalate_after_min=None,
    )
    assert r.at() == [50 * M]


def test_quiet_hours_hold_like_a_meeting() -> None:
    r = run("sit 90m", start="2026-01-05T11:40:00+00:00", quiet_hours=["12:00-13:00"], escalate_after_min=None)
    assert r.at() == [80 * M]  # due 12:10, delivered at 13:00


def test_moving_on_your_own_resets_the_timer() -> None:
    assert run("sit 25m, walk 1m, sit 25m").prompts == []
    assert run("sit 25m, stand 30s, sit 25m").prompts == []
    # a few seconds are not a break (activPAL minimum posture duration): the timer goes on
    assert run("sit 25m, stand 5s, sit 10m").at() == [30 * M]


def test_never_a_re_prompt_right_after_a_walk() -> None:
    r = run("sit 35m, walk 3m, sit 20m")
    assert r.at() == [30 * M]  # the re-prompt was due at 40 min, but the wearer moved at 35
    (outcome,) = r.kinds("prompt_outcome")
    assert outcome.metrics is not None
    assert outcome.metrics["break_after_s"] == 300 and outcome.metrics["broke_3min"] == 0


def test_cap_per_hour_holds_the_next_prompt_until_the_hour_has_passed() -> None:
    r = run(
        "sit 12m, walk 1m, sit 12m, walk 1m, sit 80m",
        sitting_threshold_min=10,
        max_per_hour=1,
        escalate_after_min=None,
    )
    # 10 min: prompt; 23 min: due but capped; 36 min: due, held until 70 min (one hour after the first)
    assert r.at() == [10 * M, 70 * M]
    assert {e.reason for e in r.kinds("prompt_held")} == {"hour_cap"}


def test_cap_per_day_counts_the_local_day() -> None:
    r = run(
        "sit 11m, walk 1m, sit 11m, walk 1m, sit 11m",
        sitting_threshold_min=10,
        max_per_day=2,
        max_per_hour=10,
        min_spacing_min=0,
        escalate_after_min=None,
    )
    assert r.at() == [10 * M, 22 * M]
    assert [e.reason for e in r.kinds("prompt_held")] == ["day_cap"]


def test_active_hours_with_a_lunch_break() -> None:
    hours = {"mon": ["09:00-12:00", "13:00-17:00"]}
    r = run("sit 90m", start="2026-01-05T11:45:00+00:00", active_hours=hours, escalate_after_min=None)
    assert r.at() == [75 * M]  # due 12:15 in the lunch break, delivered at 13:00
    assert r.kinds("prompt_held")[0].reason == "outside_active_hours"
    # no window on Tuesday at all: nothing that day
    assert run("sit 40m", start="2026-01-06T10:00:00+00:00", active_hours=hours).prompts == []


def test_a_schedule_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    night = {"mon": ["22:00-06:00"]}
    # Tuesday 01:00 is inside Monday's night shift
    assert run("sit 40m", start="2026-01-06T01:00:00+00:00", active_hours=night, escalate_after_min=None).at() == [
        30 * M
    ]
    # Tuesday 23:00 is not: Tuesday has no window
    assert run("sit 40m", start="2026-01-06T23:00:00+00:00", active_hours=night).prompts == []


@pytest.mark.parametrize(
    ("day", "start_utc", "delivered_utc"),
    [
        # Europe/Berlin: CET (UTC+1) on 28 March, CEST (UTC+2) from 29 March 2026 02:00 local
        ("2026-03-28", "06:15", "08:00"),  # 07:15 local; due 07:45 local; window opens 09:00 CET = 08:00 UTC
        ("2026-03-29", "06:15", "07:00"),  # 08:15 local; due 08:45 local; window opens 09:00 CEST = 07:00 UTC
        ("2026-10-25", "06:15", "08:00"),  # back to CET at 03:00 local that night
    ],
)
def test_schedules_follow_the_wearers_time_zone_across_dst(day: str, start_utc: str, delivered_utc: str) -> None:
    start = f"{day}T{start_utc}:00+00:00"
    r = run(
        "sit 150m",
        start=start,
        timezone="Europe/Berlin",
        active_hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        escalate_after_min=None,
    )
    assert [p.created.strftime("%H:%M") for p in r.prompts] == [delivered_utc]


def test_the_day_type_of_the_weekly_plan_shapes_the_exercises() -> None:
    def exercises(start: str, plan: str) -> set[str]:
        segments = ", ".join(["sit 11m", "walk 1m"] * 6)
        r = run(
            segments,
            start=start,
            sitting_threshold_min=10,
            max_per_hour=10,
            min_spacing_min=0,
            escalate_after_min=None,
            week_plan={"mon": plan, "tue": plan},
        )
        assert len(r.prompts) == 6
        return {p.exercise for p in r.prompts}

    assert "controlled-sit-to-stand" in exercises(MONDAY, "capacity")
    assert "controlled-sit-to-stand" not in exercises(MONDAY, "relief")


def test_rotation_does_not_repeat_an_exercise_within_the_window() -> None:
    segments = ", ".join(["sit 11m", "walk 1m"] * 8)
    r = run(segments, sitting_threshold_min=10, max_per_hour=10, min_spacing_min=0, no_repeat_last=2)
    picks = [p.exercise for p in r.prompts]
    assert len(picks) == 8
    assert all(p not in picks[max(0, i - 2) : i] for i, p in enumerate(picks))


def test_static_standing_has_its_own_threshold() -> None:
    r = run("stand 50m", escalate_after_min=None)
    assert r.at() == [45 * M] and r.prompts[0].trigger == "standing"
    assert run("stand 50m", standing_threshold_min=None).prompts == []


def test_live_policy_override_and_a_rejected_one() -> None:
    r = run(
        "sit 80m",
        commands=[
            (1 * M, {"kind": "policy", "settings": {"sitting_threshold_min": 20}}),
            (2 * M, {"kind": "policy", "settings": {"sitting_threshold": 5}}),
        ],
        escalate_after_min=None,
    )
    assert r.at() == [20 * M]
    reasons = [e.reason or "" for e in r.kinds("policy_changed")]
    assert reasons[0] == "set sitting_threshold_min=20"
    assert reasons[1].startswith("rejected: ") and "unknown policy key 'sitting_threshold'" in reasons[1]


def test_policy_file_defaults_and_per_wearer_overrides(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "defaults:\n  sitting_threshold_min: 40\n  escalate_after_min: null\n"
        "wearers:\n  ann:\n    sitting_threshold_min: 25\n    timezone: Europe/Vienna\n"
    )
    book = PolicyBook.load(path)
    assert book.for_wearer("bob").sitting_threshold_min == 40
    assert book.for_wearer("ann").timezone == "Europe/Vienna"
    assert run("sit 60m", book=book).at() == [25 * M]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("defaults:\n  sitting_treshold_min: 40\n", r"policy.yaml: defaults: unknown policy key 'sitting_treshold_min"),
        ("wearers:\n  ann:\n    timezone: Mars/Olympus\n", r"wearers.ann: timezone: Value error, unknown time zone"),
        ("defaults:\n  quiet_hours: ['12-13']\n", r"quiet_hours: Value error, window '12-13' must look like"),
        ("wearer:\n  ann: {}\n", r"expected only 'defaults:' and 'wearers:'"),
        ("defaults: [\n", r"cannot read the policy file"),
    ],
)
def test_a_bad_policy_file_names_the_file_the_key_and_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        PolicyBook.load(path)


@pytest.mark.parametrize("key", ["Ann", "ann ", "ann\n", "1"])
def test_a_wearer_key_that_is_no_wearer_id_is_refused_naming_it(tmp_path: Path, key: str) -> None:
    """Found after the named cases: overrides under 'Ann' or 'ann ' were read and never applied to anyone."""
    path = tmp_path / "policy.yaml"
    path.write_text(f'wearers:\n  "{key.encode("unicode_escape").decode()}":\n    sitting_threshold_min: 20\n')
    if key == "1":
        assert PolicyBook.load(path).for_wearer("1").sitting_threshold_min == 20  # a number is a valid id
        return
    with pytest.raises(PolicyError, match=r"wearers: id .* must match"):
        PolicyBook.load(path)
