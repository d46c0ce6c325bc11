"""Issue 17 through the engine, in event time: calendar meetings hold prompts and a long one sat through brings the
hip-opening sequence; do-not-disturb holds through the same rule; a whole scripted day (meetings, a DND window) as
one scenario file."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.calendar import busy_intervals
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.prompts.policy.planner import reason_in_words
from ingest.simulate.scenario import Scenario, calendar_ics, commands_for, load_scenario, parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store.model import event_points
from ingest.wire import EventV1, PromptV1

CATALOG = load_catalog()
SCENARIOS = Path(__file__).parents[3] / "ingest" / "simulate" / "scenarios"
HIP = "hip-opening-sequence"


def run(scenario: Scenario, policy: PromptPolicy | None = None) -> list[PromptV1 | EventV1]:
    """The scenario's first wearer through the engine as the services would: busy time read from the iCalendar feed
    its meetings make, each scripted command applied just before the batch its event time falls in."""
    script = scenario.wearers[0]
    engine = AlertEngine(EngineConfig(), CATALOG, PolicyBook(policy or PromptPolicy()))
    start = scenario.start
    engine.busy[script.wearer] = busy_intervals(
        calendar_ics(scenario, script), start - timedelta(days=1), start + timedelta(days=2), ZoneInfo("UTC")
    )
    commands = commands_for(scenario, script)
    out: list[PromptV1 | EventV1] = []
    for batch in batches_for(scenario, script, 10):
        while commands and commands[0].at.timestamp() * 1000 < batch.frames[-1].t_ms + 1000:
            applied, events = engine.command(commands.pop(0))
            assert applied
            out += events
        out += engine.process(batch)
    for command in commands:  # after the wearer's last data, as `kinetic simulate` sends them
        applied, events = engine.command(command)
        assert applied
        out += events
    return out


def day(segments: str, calendar: str, policy: PromptPolicy | None = None) -> tuple[Scenario, list[PromptV1 | EventV1]]:
    scenario = parse_scenario(
        "start: 2026-12-07T09:00:00+01:00\nwearers:\n  - wearer: ann\n    placement: thigh\n"
        f"    segments: [{segments}]\n    calendar: [{calendar}]\n"
    )
    return scenario, run(scenario, policy)


def prompts(out: list[PromptV1 | EventV1]) -> list[PromptV1]:
    return [o for o in out if isinstance(o, PromptV1)]


def events(out: list[PromptV1 | EventV1], kind: str) -> list[EventV1]:
    return [o for o in out if isinstance(o, EventV1) and o.kind == kind]


def at(scenario: Scenario, clock: str) -> datetime:
    hour, minute = (int(p) for p in clock.split(":"))
    return scenario.start.replace(hour=hour, minute=minute)


def test_a_60_min_meeting_while_sitting_no_prompt_in_it_then_the_hip_opening_sequence_at_its_end() -> None:
    scenario, out = day("walk 5m, sit 75m, walk 10m", "09:05 60m", PromptPolicy(escalate_after_min=None))
    (prompt,) = prompts(out)
    end = at(scenario, "10:05")
    assert end <= prompt.created <= end + timedelta(minutes=2)
    assert prompt.exercise == HIP and prompt.text.startswith("Your meeting is over: you have been sitting for 60 min")
    (held,) = events(out, "prompt_held")
    assert held.reason == "meeting" and held.t == at(scenario, "09:35")  # the 30-min threshold fell in the meeting
    (sent,) = events(out, "prompt_sent")
    assert sent.reason == "after_meeting" and reason_in_words(sent.reason) == "after a meeting (calendar)"


def test_after_a_long_meeting_the_prompt_comes_before_the_sitting_threshold() -> None:
    """A 45-min threshold, a 40-min meeting sat through from its start: the prompt comes 2 min after the end (at 42 min
    of sitting), not at 45 min."""
    policy = PromptPolicy(sitting_threshold_min=45, escalate_after_min=None)
    scenario, out = day("walk 5m, sit 50m, walk 10m", "09:05 40m", policy)
    (prompt,) = prompts(out)
    assert prompt.created == at(scenario, "09:47") and prompt.exercise == HIP
    assert events(out, "prompt_held") == []  # nothing was due during the meeting


def test_no_after_meeting_prompt_once_the_wearer_has_stood_up_or_the_meeting_was_short() -> None:
    policy = PromptPolicy(sitting_threshold_min=45, escalate_after_min=None)
    _, out = day("walk 5m, sit 40m, walk 10m, sit 20m", "09:05 40m", policy)  # up when it ended
    assert prompts(out) == []
    _, out = day("walk 5m, sit 30m, walk 10m", "09:05 20m", policy)  # 20 min < after_meeting_min
    assert prompts(out) == []
    off = PromptPolicy(sitting_threshold_min=45, escalate_after_min=None, after_meeting_min=None)
    _, out = day("walk 5m, sit 44m, walk 10m", "09:05 40m", off)  # the rule switched off
    assert prompts(out) == []


def test_a_meeting_while_walking_gives_nothing() -> None:
    _, out = day("walk 70m, sit 10m", "09:00 60m")
    assert prompts(out) == [] and events(out, "prompt_held") == []


def test_the_caps_still_apply_after_a_meeting() -> None:
    """Hourly cap 1: a prompt at 09:30 (before the meeting), a new bout, a meeting until 10:10: the after-meeting
    prompt waits for the cap (10:30), then goes out."""
    policy = PromptPolicy(max_per_hour=1, escalate_after_min=None, sitting_threshold_min=30)
    scenario, out = day("sit 32m, walk 3m, sit 70m", "09:35 35m", policy)
    first, second = prompts(out)
    assert first.created == at(scenario, "09:30")
    assert second.created == at(scenario, "10:30") and second.exercise == HIP
    assert [e.reason for e in events(out, "prompt_held")] == ["meeting", "hour_cap"]


def test_a_whole_day_with_meetings_and_do_not_disturb_is_one_scenario_file() -> None:
    scenario = load_scenario(SCENARIOS / "meetings.yaml")
    out = run(scenario)
    sent = [(p.created, p.exercise) for p in prompts(out)]
    reasons = {e.t.astimezone(scenario.start.tzinfo).strftime("%H:%M"): e.reason for e in events(out, "prompt_sent")}
    # 10:30 the held prompt of the morning meeting, as the hip-opening sequence (the meeting ended at 10:30)
    assert (at(scenario, "10:30"), HIP) in sent and reasons["10:30"] == "after_meeting"
    # the walking meeting 11:30-12:15 holds nothing, the free focus time neither (14:30 prompted as usual)
    assert not [t for t, _ in sent if at(scenario, "11:00") <= t < at(scenario, "13:00")]
    assert reasons["14:30"] is None
    # do not disturb 13:00-13:45: the 13:30 prompt waits for its end
    assert reasons["13:45"] == "held: dnd" and reason_in_words(reasons["13:45"]) == "waited: do not disturb"
    # the 20-min call holds the 16:15 prompt until 16:20; too short for the after-meeting exercise
    assert reasons["16:20"] == "held: meeting"
    held = {e.t.astimezone(scenario.start.tzinfo).strftime("%H:%M"): e.reason for e in events(out, "prompt_held")}
    assert held == {"09:40": "meeting", "13:30": "dnd", "16:15": "meeting"}
    # no prompt in a meeting or in the DND window
    busy = [("09:30", "10:30"), ("16:00", "16:20"), ("13:00", "13:45")]
    assert not [t for t, _ in sent for a, b in busy if at(scenario, a) <= t < at(scenario, b)]
    # the 17:00 check-in is the wearer's checkin event at the scenario's 17:00, not at the host's time
    (checkin,) = events(out, "checkin")
    assert checkin.t == at(scenario, "17:00") and checkin.metrics == {"pain": 3, "stress_level": 1}  # medium: 1


def test_each_prompt_outcome_carries_why_the_prompt_was_sent_and_what_held_it() -> None:
    """Item 3 in Grafana: InfluxQL cannot join a ``prompt_outcome`` to its ``prompt_sent``, so the outcome carries
    the prompt's context: after_meeting (and held 30 min by the meeting), threshold, reprompt; and the stored point
    has it as fields a panel can filter on. An outcome from before the field still decodes (no context)."""
    _, out = day("walk 5m, sit 75m, walk 10m", "09:05 60m", PromptPolicy(escalate_after_min=None))
    (outcome,) = events(out, "prompt_outcome")
    assert (outcome.context, outcome.reason) == ("after_meeting", "held: meeting")
    assert outcome.metrics is not None and outcome.metrics["held_s"] == 30 * 60  # held 09:35 - 10:05
    assert outcome.metrics["broke_5min"] == 0  # still seated until 10:20
    (point,) = event_points(outcome)
    assert dict(point.tags)["context"] == "after_meeting" and point.fields["reason"] == "held: meeting"
    assert point.fields["held_s"] == 1800

    _, out = day("walk 5m, sit 50m, walk 5m", "", PromptPolicy(escalate_after_min=10))
    first, again = events(out, "prompt_outcome")
    assert (first.context, first.reason, again.context) == ("threshold", None, "reprompt")
    assert first.metrics is not None and "held_s" not in first.metrics

    old = outcome.model_dump(mode="json", exclude={"context", "reason"})
    old["metrics"].pop("held_s")
    before = EventV1.model_validate(old)  # what an alert service of the last release published
    assert before.context is None and "context" not in dict(event_points(before)[0].tags)
