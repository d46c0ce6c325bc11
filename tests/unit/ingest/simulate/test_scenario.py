from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.errors import ScenarioError
from ingest.simulate.scenario import (
    lead_over_clock_ms,
    load_scenario,
    parse_duration_s,
    parse_scenario,
    parse_segment,
)
from ingest.simulate.synth import batches_for, frames_for

GOOD = """
start: 2026-11-23T09:00:00+01:00
seed: 4
wearers:
  - wearer: ann
    placement: thigh
    segments:
      - sit 35m
      - stand 2m
      - walk 5m
      - sit 20m lean_left 12deg
  - wearer: bob
    placement: trunk
    device: bob-chest
    start_offset: 1m
    segments:
      - sit 10s repeat 3
      - gap 30s
      - lie 1m forward 5deg
"""


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("35m", 2100), ("2h", 7200), ("1h30m", 5400), ("1.5m", 90)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration_s(text) == seconds


def test_segments_with_modifiers() -> None:
    (seg,) = parse_segment("sit 20m lean_left 12deg forward 5deg")
    assert (seg.activity, seg.duration_s, seg.lean_deg, seg.forward_deg) == ("sit", 1200, -12.0, 5.0)
    assert len(parse_segment("walk 1m repeat 4")) == 4


def test_a_good_scenario() -> None:
    scenario = parse_scenario(GOOD)
    ann, bob = scenario.wearers
    assert ann.device == "ann-thigh" and bob.device == "bob-chest"
    assert ann.duration_s == (35 + 2 + 5 + 20) * 60
    assert bob.start_offset_s == 60 and len(bob.segments) == 5
    assert scenario.start.utcoffset() is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "wearers:\n  - wearer: ann\n    placement: thigh\n    segments:\n      - sit 1m\n      - sitt 2m\n",
            "x.yaml:6: unknown activity 'sitt'",
        ),
        (
            "wearers:\n  - wearer: ann\n    placement: thigh\n    segments:\n      - sit 35x\n",
            "x.yaml:5: duration '35x' must look like",
        ),
        (
            "wearers:\n  - wearer: ann\n    placement: hip\n    segments: [sit 1m]\n",
            "x.yaml:3: placement 'hip' must be one of thigh, trunk, wrist",
        ),
        ("wearers:\n  - wearer: Ann\n    placement: thigh\n    segments: [sit 1m]\n", "x.yaml:2: wearer 'Ann'"),
        ("wearers:\n  - wearer: ann\n    placement: thigh\n", "x.yaml:2: this wearer has no 'segments'"),
        ("start: tomorrow\nwearers: []\n", "x.yaml:1: start 'tomorrow' must be ISO 8601"),
        ("start: 2026-01-01T09:00:00\nwearers: []\n", "x.yaml:1: start '2026-01-01T09:00:00' needs a UTC offset"),
        (
            "wearers:\n  - wearer: ann\n    placement: thigh\n    segments:\n      - sit 1m lean_left 12\n",
            "x.yaml:5: lean_left '12': the value must be an angle like 12deg",
        ),
        ("wearers: [\n", "x.yaml:2: not valid YAML"),
        ("wearer: ann\n", "x.yaml:1: unknown key 'wearer'"),
        ("", "x.yaml: the scenario is empty"),
    ],
)
def test_errors_name_the_line_and_the_problem(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "x.yaml")
    assert str(info.value).startswith(expected), str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope.yaml: cannot read the file \(No such file or directory\)"):
        load_scenario(tmp_path / "nope.yaml")


def test_frames_follow_the_scenario_clock_and_are_repeatable() -> None:
    scenario = parse_scenario(GOOD)
    ann, bob = scenario.wearers
    frames = list(frames_for(scenario, ann))
    assert len(frames) == ann.duration_s
    assert frames[0].t_ms == scenario.start_ms and frames[-1].t_ms == scenario.start_ms + (ann.duration_s - 1) * 1000
    assert frames == list(frames_for(scenario, ann))  # same seed, same data
    bob_frames = list(frames_for(scenario, bob))
    assert len(bob_frames) == 30 + 60  # the 30 s gap sends nothing
    assert bob_frames[0].t_ms == scenario.start_ms + 60_000


def test_batches_hold_at_most_batch_s_seconds_and_a_gap_closes_a_batch() -> None:
    scenario = parse_scenario(GOOD)
    bob = scenario.wearers[1]
    batches = list(batches_for(scenario, bob, 20))
    assert [len(b.frames) for b in batches] == [20, 10, 20, 20, 20]
    assert [b.seq for b in batches] == [0, 1, 2, 3, 4]


def test_the_built_in_workday_parses() -> None:
    from ingest.simulate.scenario import default_scenario

    scenario = default_scenario()
    assert len(scenario.wearers) == 3 and 7 * 3600 <= scenario.duration_s <= 9 * 3600


@pytest.mark.parametrize("start", ["1970-01-01T00:00:00+00:00", "2014-12-31T23:00:00+00:00", "2100-06-01T00:00:00Z"])
def test_a_start_outside_the_times_the_wire_accepts_is_refused_with_its_line(start: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(f"day.yaml:1: start '{start}' must lie from 2015 to 2099")):
        parse_scenario(
            f"start: {start}\nwearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 1m]\n", "day.yaml"
        )


def test_how_far_a_simulation_runs_ahead_of_the_host_clock() -> None:
    day = parse_scenario(
        "start: 2026-12-06T09:00:00+00:00\nwearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 2h]\n"
    )
    nine = day.start_ms
    # in real time from its start: never ahead; started an hour late: never ahead either
    assert lead_over_clock_ms(day, nine, 1) == 0
    assert lead_over_clock_ms(day, nine + 3_600_000, 1) == -3_600_000
    # 60x from its start: the last frame (11:00) is published at 09:02, 1 h 58 min ahead
    assert lead_over_clock_ms(day, nine, 60) == 2 * 3_600_000 - 120_000
    # as fast as possible, or dated tomorrow: the end or the start is what runs ahead
    assert lead_over_clock_ms(day, nine, 0) == 2 * 3_600_000
    assert lead_over_clock_ms(day, nine - 86_400_000, 1) == 86_400_000
