"""Issue 17, item 5: a Done / Snooze / pause / check-in pressed live while the stream is simulated or replayed (an
accelerated ``kinetic demo``) is judged on the data's clock, the wearer's latest event time, not on the host's clock
its front end stamped it with; a scenario's scripted command is in event time already and keeps its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.engine import HELD_BEFORE_DATA_MAX, AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.commands import checkin_command, on_data_clock, prompt_command
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.simulate.scenario import commands_for, parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, EventV1, PromptV1

# the scenario's day and the host's moment of the button press are a day and a half apart, as in a demo of a scripted
# day played at x60: which clock a command is judged on decides everything below
SCENARIO = parse_scenario(
    "start: 2026-12-07T09:00:00+00:00\nwearers:\n  - wearer: ann\n    placement: thigh\n"
    "    segments: [walk 5m, sit 70m, walk 5m]\n"
)
HOST_NOW = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)
POLICY = PromptPolicy(sitting_threshold_min=30, escalate_after_min=None)


def play(press: dict[str, CommandV1], data_clock: bool = True) -> list[PromptV1 | EventV1]:
    """The scenario through the engine; each ``press`` (scenario clock 'HH:MM' -> a command stamped by its front end)
    arrives right after the batch that ends at that time, as a button pressed while the demo shows it."""
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(POLICY), commands_on_data_clock=data_clock)
    out: list[PromptV1 | EventV1] = []
    for batch in batches_for(SCENARIO, SCENARIO.wearers[0], 10):
        out += engine.process(batch)
        clock = datetime.fromtimestamp(batch.frames[-1].t_ms / 1000 + 1, UTC).strftime("%H:%M:%S")
        if clock[-2:] == "00" and clock[:5] in press:
            applied, events = engine.command(press[clock[:5]])
            assert applied
            out += events
    return out + engine.close("ann")


def scenario_time(clock: str) -> datetime:
    hour, minute = (int(p) for p in clock.split(":"))
    return SCENARIO.start.replace(hour=hour, minute=minute)


def test_a_pause_pressed_live_during_an_accelerated_demo_covers_the_scenarios_minutes() -> None:
    """Pressed at the scenario's 09:20 for 30 min, stamped with the host's clock: the pause is the wearer's event at
    09:19:59 (their latest second) and holds the 09:35 prompt until 09:49:59, when it is sent."""
    pause = prompt_command("pause", "ann", HOST_NOW, source="web", pause_for_min=30)
    out = play({"09:20": pause})
    (changed,) = [e for e in out if isinstance(e, EventV1) and e.kind == "policy_changed"]
    latest = scenario_time("09:20") - timedelta(seconds=1)
    assert changed.t == latest  # stored where it was pressed in the day, not at the host's 21:30 two days before
    assert changed.reason == f"paused until {(latest + timedelta(minutes=30)).isoformat()}"
    (held,) = [e for e in out if isinstance(e, EventV1) and e.kind == "prompt_held"]
    assert (held.reason, held.t) == ("paused", scenario_time("09:35"))
    (prompt,) = [o for o in out if isinstance(o, PromptV1)]
    assert prompt.created == latest + timedelta(minutes=30)  # the pause's end, on the scenario's clock

    # the kind of fault: on the host's clock, the same press paused nothing (its 30 min were over two days before)
    live = play({"09:20": pause}, data_clock=False)
    assert [o.created for o in live if isinstance(o, PromptV1)] == [scenario_time("09:35")]


def test_snooze_and_a_check_in_pressed_live_are_judged_on_the_data_clock() -> None:
    """Snooze for 10 min pressed at 09:37 (the prompt came at 09:35): the reminder comes at the scenario's 09:46:59;
    a check-in pressed then is the wearer's event at that second."""
    prompt_id = f"ann-sitting-{round(scenario_time('09:35').timestamp() * 1000)}"
    snooze = prompt_command("snooze", "ann", HOST_NOW, source="web", prompt_id=prompt_id, minutes=10)
    checkin = checkin_command("ann", HOST_NOW, source="cli", pain=4)
    out = play({"09:37": snooze, "09:40": checkin})
    created = [o.created for o in out if isinstance(o, PromptV1)]
    assert created == [scenario_time("09:35"), scenario_time("09:47") - timedelta(seconds=1)]
    (event,) = [e for e in out if isinstance(e, EventV1) and e.kind == "checkin"]
    assert event.t == scenario_time("09:40") - timedelta(seconds=1)


def test_a_scripted_command_keeps_its_event_time_and_a_span_moves_with_the_press() -> None:
    scripted = parse_scenario(
        "start: 2026-12-07T09:00:00+00:00\nwearers:\n  - wearer: ann\n    placement: thigh\n"
        "    segments: [sit 60m]\n    commands: [09:20 pause 30m]\n"
    )
    (pause,) = commands_for(scripted, scripted.wearers[0])
    assert on_data_clock(pause, scenario_time("09:19")) is pause  # the scenario's own clock: already event time
    pressed = prompt_command("pause", "ann", HOST_NOW, source="web", pause_for_min=30)
    moved = on_data_clock(pressed, scenario_time("09:19"))
    assert (moved.at, moved.until, moved.for_min) == (scenario_time("09:19"), scenario_time("09:49"), 30)


def test_commands_sent_before_the_wearers_first_data_are_held_until_it() -> None:
    """Issue 17: pressed before the demo's stream reaches the wearer, a command has no time of theirs to be judged
    on. On the data's clock it is held and judged at their first frame's time, in the order sent: "Pause 30 min" then
    covers the day's first 30 min (the 09:35 prompt is not held: the pause ran 09:00-09:30, sitting began 09:05), a
    check-in is the wearer's event at 09:00; a pause until a time of the host's day is refused then (over). Without
    the setting (live), such a command is kept as sent (tests/unit/alerts/test_commands_before_data.py)."""
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(POLICY), commands_on_data_clock=True)
    pause = prompt_command("pause", "ann", HOST_NOW, source="web", pause_for_min=30)
    checkin = checkin_command("ann", HOST_NOW, source="cli", stress="low")
    over = prompt_command("pause", "ann", HOST_NOW, source="cli", until=HOST_NOW + timedelta(hours=1))
    assert engine.command(pause) == (True, [])  # applies: held, its event comes with the first data
    assert engine.command(checkin) == (True, [])
    assert engine.command(over) == (True, [])
    assert "ann" not in engine.wearers and engine.data_now("ann") is None
    out: list[PromptV1 | EventV1] = []
    for batch in batches_for(SCENARIO, SCENARIO.wearers[0], 10):
        out += engine.process(batch)
    events = [e for e in out if isinstance(e, EventV1) and e.kind in ("policy_changed", "checkin")]
    start = SCENARIO.start
    assert [(e.kind, e.t, e.reason) for e in events] == [
        ("policy_changed", start, f"paused until {(start + timedelta(minutes=30)).isoformat()}"),
        ("checkin", start, "stress low"),
    ]
    assert len(engine.refused) == 1 and "not after the wearer's latest event time" in engine.refused[0]
    assert [o.created for o in out if isinstance(o, PromptV1)] == [scenario_time("09:35")]
    assert not engine.held_before_data

    # a flood before the first data is refused past HELD_BEFORE_DATA_MAX; forget drops what is held
    flood = AlertEngine(EngineConfig(), load_catalog(), commands_on_data_clock=True)
    resume = prompt_command("resume", "bob", HOST_NOW, source="cli")
    assert [flood.command(resume)[0] for _ in range(HELD_BEFORE_DATA_MAX + 1)][-2:] == [True, False]
    assert len(flood.refused) == 1 and "wait for the wearer's first data" in flood.refused[0]
    assert flood.forget("bob") and not flood.held_before_data


def test_a_pause_until_a_time_of_the_wearers_day_keeps_that_time_and_a_span_moves() -> None:
    """Issue 17: "Pause until 09:50" typed at the scenario's 09:20 (a time of the wearer's day: ``until`` alone) holds
    until 09:50 of the scenario, where a span would be read from the press; the same press as a 30-min span holds
    until 09:49:59 (tested above). Before the command said which it was, a typed time became a span from the press on
    the host's clock: 09:50 of the host's day minus 21:30 two days before, a pause of nothing (refused now)."""
    until = scenario_time("09:50")
    typed = prompt_command("pause", "ann", HOST_NOW, source="web", until=until + timedelta(days=10))
    assert typed.for_min is None  # a time of day: the web app's "Pause until" and `kinetic prompts pause --until`
    moved = on_data_clock(typed, scenario_time("09:19"))
    assert (moved.at, moved.until) == (scenario_time("09:19"), until + timedelta(days=10))  # the time is kept

    out = play({"09:20": prompt_command("pause", "ann", HOST_NOW, source="web", until=until)})
    (changed,) = [e for e in out if isinstance(e, EventV1) and e.kind == "policy_changed"]
    assert (changed.t, changed.reason) == (
        scenario_time("09:20") - timedelta(seconds=1),
        f"paused until {until.isoformat()}",
    )
    (held,) = [e for e in out if isinstance(e, EventV1) and e.kind == "prompt_held"]
    assert (held.reason, held.t) == ("paused", scenario_time("09:35"))
    (prompt,) = [o for o in out if isinstance(o, PromptV1)]
    assert prompt.created == until  # 09:50 as typed, not 09:49:59 (a span from the press at 09:19:59)


def test_a_pause_until_a_time_already_over_on_the_data_clock_is_refused() -> None:
    """A time of day typed on the host's day (not the scenario's): on the data's clock it is over before the pause
    begins; refused with the reason (the service dead-letters it), not applied as a pause of nothing."""
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(POLICY), commands_on_data_clock=True)
    for batch in batches_for(SCENARIO, SCENARIO.wearers[0], 10):
        engine.process(batch)
        if batch.frames[-1].t_ms >= scenario_time("09:20").timestamp() * 1000:
            break
    typed = prompt_command("pause", "ann", HOST_NOW, source="web", until=HOST_NOW + timedelta(hours=1))
    assert engine.command(typed) == (False, [])
    assert len(engine.refused) == 1 and "is expected" in engine.refused[0] and "not after" in engine.refused[0]
    assert engine.wearers["ann"].planner.pause_until_ms is None
