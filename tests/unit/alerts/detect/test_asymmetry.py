from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.detect.asymmetry import ExposureDay

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
