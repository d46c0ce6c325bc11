from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from alerts.detect.asymmetry import LEAN_MIN_INTERRUPTION_S, ExposureDay, LeanRun

T0 = 1_700_000_000_000


def day(leans: list[float], posture: str = "sitting", incl: float = 10.0, min_episode_s: int = 300) -> ExposureDay:
    d = ExposureDay(min_episode_s=min_episode_s)
    for i, lean in enumerate(leans):
        d.add(T0 + i * 1000, posture, lean, incl)  # type: ignore[arg-type]
    return d


def test_time_above_the_iso_line_and_episodes() -> None:
    d = day([12.0] * 400 + [0.0] * 100 + [-15.0] * 200)
    s = d.summary()
    assert s["static_s"] == 700 and s["lean_above_10deg_s"] == 600
    assert s["sustained_lean_episodes"] == 1  # 400 s right; the 200 s left run is shorter than 5 min
    (episode,) = d.episodes
    assert episode.side == "right" and episode.duration_s == 400 and episode.mean_abs_deg == 12.0


def test_symmetry_index_sign_and_range() -> None:
    assert day([6.0] * 100).summary()["lean_symmetry_index_pct"] == 200.0  # all right
    assert day([-6.0] * 100).summary()["lean_symmetry_index_pct"] == -200.0
    assert day([6.0] * 100 + [-6.0] * 100).summary()["lean_symmetry_index_pct"] == 0.0
    assert day([1.0, -1.5] * 50).summary()["lean_symmetry_index_pct"] == 0.0  # within the deadband


def test_only_static_seconds_count_and_forward_bands() -> None:
    moving = day([15.0] * 100, posture="moving")
    assert moving.summary()["static_s"] == 0 and moving.summary()["lean_above_10deg_s"] == 0
    bands = ExposureDay()
    for i, incl in enumerate([5.0, 25.0, 70.0, 20.0]):
        bands.add(T0 + i * 1000, "standing", 0.0, incl)
    s = bands.summary()
    assert (s["forward_0_20_s"], s["forward_20_60_s"], s["forward_over_60_s"]) == (2, 1, 1)


@given(st.lists(st.floats(-40, 40, allow_nan=False), min_size=1, max_size=300))
def test_mirroring_the_leans_mirrors_the_metrics(leans: list[float]) -> None:
    a = day(leans, min_episode_s=10).summary()
    b = day([-x for x in leans], min_episode_s=10).summary()
    assert a["lean_symmetry_index_pct"] == -b["lean_symmetry_index_pct"]
    assert a["lean_above_10deg_s"] == b["lean_above_10deg_s"]
    assert a["sustained_lean_episodes"] == b["sustained_lean_episodes"]


def runs(leans: list[float | None], limit: float = 10.0) -> tuple[LeanRun, list[tuple[int, int]]]:
    """Feed a lean per second (None: no data that second); the episodes that ended, in seconds from 0."""
    run, ended = LeanRun(), []
    for i, lean in enumerate(leans):
        if lean is None:
            continue
        span = run.push(T0 + i * 1000, "sitting", lean, limit)
        if span is not None:
            ended.append(((span[0] - T0) // 1000, (span[1] - T0) // 1000))
    return run, ended


def test_a_lean_dipping_under_the_line_but_above_the_leaving_line_holds() -> None:
    run, ended = runs([12.0] * 60 + [7.5] * 30 + [12.0] * 60)  # 7.5 deg: under 10, above 10 - 3
    assert ended == [] and run.side == "right" and run.start_ms == T0


def test_an_interruption_shorter_than_the_minimum_does_not_split_an_episode() -> None:
    lows = LEAN_MIN_INTERRUPTION_S - 1
    _, ended = runs([-12.0] * 60 + [0.0] * lows + [-12.0] * 60 + [0.0] * 30)
    assert ended == [(0, 120 + lows)]  # one episode, ended back-dated to its first second out
    _, ended = runs([-12.0] * 60 + [0.0] * LEAN_MIN_INTERRUPTION_S + [-12.0] * 60 + [0.0] * 30)
    assert ended == [(0, 60), (70, 130)]


def test_missing_seconds_count_as_out() -> None:
    _, ended = runs([12.0] * 30 + [None] * 9 + [12.0] * 30 + [None] * 10 + [12.0] * 5 + [0.0] * 10)
    assert ended == [(0, 69), (79, 84)]


def test_coming_back_between_the_lines_after_leaving_does_not_hold() -> None:
    # under the leaving line for a second, then 8 deg: between the lines, but the episode was left: out
    _, ended = runs([12.0] * 20 + [5.0] + [8.0] * 20)
    assert ended == [(0, 20)]


def test_a_lean_between_the_lines_never_begins_an_episode() -> None:
    run, ended = runs([9.0, 8.0, 9.5] * 100)
    assert ended == [] and run.side is None


def test_leaning_to_the_other_side_ends_the_episode_at_once() -> None:
    _, ended = runs([12.0] * 30 + [-12.0] * 30 + [0.0] * 10)
    assert ended == [(0, 30), (30, 60)]


@given(st.lists(st.one_of(st.none(), st.floats(-25, 25, allow_nan=False)), max_size=400))
def test_episodes_begin_beyond_the_line_and_are_apart_by_the_minimum_interruption(
    leans: list[float | None],
) -> None:
    run, ended = runs(leans)
    if run.side is not None:
        ended.append(((run.start_ms - T0) // 1000, (run.last_ms - T0) // 1000 + 1))
    for start, end in ended:
        first = leans[start]
        assert first is not None and abs(first) > 10.0 and end > start
    for (_, end), (start, _) in itertools.pairwise(ended):
        assert start >= end  # no overlap
        same_side = (leans[start] or 0) * (leans[end - 1] or 0) > 0
        assert not same_side or start - end >= LEAN_MIN_INTERRUPTION_S


def test_a_day_counts_episodes_through_noise_as_one() -> None:
    rng = random.Random(3)
    leans = [12.0 + rng.gauss(0.0, 1.5) for _ in range(900)] + [0.0] * 60
    assert 0.05 < sum(1 for x in leans[:900] if x <= 10.0) / 900 < 0.14  # the noise of issue 14
    d = day(leans)
    (episode,) = d.episodes
    assert episode.side == "right" and episode.start_ms == T0 and episode.duration_s == 900


def test_a_snapshot_from_before_hysteresis_keeps_its_episode() -> None:
    old = ExposureDay()  # what unpickling a format-1 snapshot makes before it hands the old state over
    fields = {"min_episode_s": 60, "static_s": 100, "above_limit_s": 100, "right_deg_s": 0.0, "left_deg_s": 0.0}
    run = {"_run_side": "right", "_run_start": T0, "_run_last": T0 + 99_000, "_run_sum": 1200.0, "_run_n": 100}
    old.__setstate__({**fields, "forward_s": [0, 0, 0], "episodes": [], **run})
    old.add(T0 + 100_000, "sitting", 12.0, 5.0)
    (episode,) = old.summary() and old.episodes
    assert (episode.start_ms, episode.duration_s, episode.side) == (T0, 101, "right")
