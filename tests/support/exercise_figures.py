"""The exercise detectors' figures on **emulated sensors** (tests/support/exercise_models.py: models, not people),
over many seeds and mountings, for issue 19's closing note and docs/exercises.md::

    .venv/bin/python -m tests.support.exercise_figures [--seeds 20]

Holds: emulated side planks (20 s and 25 s) between rests, found and timed with the expected inclination; the
shake of a 40 mg-tremor hold against a 5 mg one. Mobility: smooth minimum-jerk swings (12-40 deg, 1.5-3 s), range
and swing-time errors (the swing time against 83 % of the model's, the span the detector times), and the LDLJ of a
hesitant swing (three sub-movements) against a smooth one. Breathing reset: the rate against the model's and the
exhale-to-inhale ratio of a 3 s inhale / 7 s exhale (2.33) with the inhale cue. Each seed draws its noise, sway
and tremor; the mountings are three fixed rotations."""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from alerts.detect.exercise.breathing_reset import breathing_reset
from alerts.detect.exercise.hold import holds
from alerts.detect.exercise.mobility import mobility
from tests.support import exercise_models as em
from tests.support.synthetic import rotation
from tests.unit.alerts.detect.exercise.test_hold import UP, side_plank_session

MOUNTINGS = [np.eye(3), rotation(30, 140, 60), rotation(90, 45, 10)]
SWINGS = [(12, 1.5), (20, 2.0), (30, 2.5), (40, 3.0)]
SWING_SPAN = 0.828  # the share of a minimum-jerk swing's time between 10 % of its peak speed


def _abs_summary(errors: list[float]) -> str:
    a = sorted(abs(e) for e in errors)
    return f"median abs {statistics.median(a):.2f}, 90th pct abs {a[int(0.9 * (len(a) - 1))]:.2f}, max abs {a[-1]:.2f}"


def hold_figures(seeds: int) -> list[str]:
    found = expected = 0
    time_errors: list[float] = []
    shake_ratios: list[float] = []
    for seed in range(seeds):
        for mounting in MOUNTINGS:
            rng = np.random.default_rng(seed)
            t_ms, acc = em.sensor(side_plank_session(rng, shake_mg=(5, 40)), mounting, rng)
            got = holds(t_ms, acc, upright=UP @ mounting, inclination_deg=(50, 80))
            expected += 2
            found += len(got)
            if len(got) == 2:
                time_errors += [h.hold_s - truth for h, truth in zip(got, (20, 25), strict=True)]
                shake_ratios.append(got[1].shake_mg / got[0].shake_mg)
    return [
        f"holds (emulated side planks, {seeds} seeds x {len(MOUNTINGS)} mountings): found {found} of {expected}",
        f"  hold time error (s): median {statistics.median(time_errors):+.2f}, {_abs_summary(time_errors)}",
        f"  shake of a 40 mg-tremor hold / a 5 mg one: median {statistics.median(shake_ratios):.1f}, "
        f"lowest {min(shake_ratios):.1f}",
    ]


def mobility_figures(seeds: int) -> list[str]:
    found = expected = 0
    range_errors: list[float] = []
    time_errors: list[float] = []
    ldlj_gaps: list[float] = []
    for seed in range(seeds):
        for mounting in MOUNTINGS:
            for amplitude, swing_s in SWINGS:
                rng = np.random.default_rng(seed)
                result = mobility(*em.sensor(em.swings(amplitude, swing_s, 10, rng), mounting, rng))
                expected += 10
                if result is None:
                    continue
                found += len(result.swings)
                range_errors.append(result.range_deg - amplitude)
                if result.swing_s is not None:
                    time_errors.append(result.swing_s - SWING_SPAN * swing_s)
        rng = np.random.default_rng(seed)
        smooth = mobility(*em.sensor(em.swings(30, 3.0, 8, rng), np.eye(3), rng))
        hesitant = mobility(*em.sensor(em.swings(30, 3.0, 8, rng, parts=3), np.eye(3), rng))
        if smooth is not None and hesitant is not None and smooth.ldlj is not None and hesitant.ldlj is not None:
            ldlj_gaps.append(smooth.ldlj - hesitant.ldlj)
    return [
        f"mobility (emulated swings {SWINGS}, {seeds} seeds x {len(MOUNTINGS)} mountings): swings found {found} of "
        f"{expected}",
        f"  range error (deg): median {statistics.median(range_errors):+.2f}, {_abs_summary(range_errors)}",
        f"  swing time error (s, against 83 % of the model's): median {statistics.median(time_errors):+.2f}, "
        f"{_abs_summary(time_errors)}",
        f"  LDLJ smooth - hesitant (3 sub-movements): median {statistics.median(ldlj_gaps):.1f}, lowest "
        f"{min(ldlj_gaps):.1f}",
    ]


def breathing_figures(seeds: int) -> list[str]:
    rate_errors: list[float] = []
    ratios: list[float] = []
    reached = slow = 0
    for seed in range(seeds):
        for inhale_s, exhale_s in ((4.0, 6.0), (3.0, 7.0), (2.0, 3.0)):
            rng = np.random.default_rng(seed)
            body, starts = em.breathing(120, inhale_s, exhale_s, rng)
            mounting = rotation(30 * seed, 140, 60)
            t_ms, acc = em.sensor(body, mounting, rng, noise_g=em.BREATHING_NOISE_G)
            cue_ms = int(t_ms[0] + starts[3] * 1000)
            result = breathing_reset(t_ms, acc, target_per_min=7.0, inhale_at_ms=cue_ms)
            if result.breaths_per_min is not None:
                rate_errors.append(result.breaths_per_min - 60 / (inhale_s + exhale_s))
            if inhale_s + exhale_s == 10.0:
                slow += 1
                reached += result.reached
            if (inhale_s, exhale_s) == (3.0, 7.0) and result.exhale_to_inhale is not None:
                ratios.append(result.exhale_to_inhale)
    return [
        f"breathing reset (emulated, 6 and 12 breaths/min, {seeds} seeds, random mountings): rate error (breaths/min) "
        f"{_abs_summary(rate_errors)}; 6/min reached a target of 7 in {reached} of {slow}",
        f"  exhale-to-inhale of 3 s in / 7 s out (2.33): median {statistics.median(ratios):.2f}, range "
        f"{min(ratios):.2f}-{max(ratios):.2f} ({len(ratios)} of {seeds} named)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.exercise_figures", description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    seeds = parser.parse_args().seeds
    print("On emulated sensors (models, not people: tests/support/exercise_models.py)")
    for line in [*hold_figures(seeds), *mobility_figures(seeds), *breathing_figures(seeds)]:
        print(line)


if __name__ == "__main__":
    main()
