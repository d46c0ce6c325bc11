from __future__ import annotations

import math

import numpy as np

from alerts.detect.calibration import UprightCalibration, angle_deg, offline_reference, robust_mean
from alerts.detect.posture import classify, fuse
from ingest.features import seconds_from_samples
from ingest.wire import FeatureFrameV1
from tests.support.synthetic import rotation, segment


def frames(activity: str, seconds: float, mounting: np.ndarray, seed: int = 0) -> list[FeatureFrameV1]:
    t, acc = segment(activity, seconds, 50, mounting, np.random.default_rng(seed))
    return list(seconds_from_samples(t, acc))


def up_in_sensor(mounting: np.ndarray) -> tuple[float, float, float]:
    v = np.array([0.0, 0.0, 1.0]) @ mounting
    return (float(v[0]), float(v[1]), float(v[2]))


def test_upright_is_learned_from_walking_whatever_the_mounting() -> None:
    for seed, mounting in enumerate([rotation(0, 0, 0), rotation(40, 120, 10), rotation(-90, 75, 200)]):
        calibration = UprightCalibration()
        for f in frames("walk", 60, mounting, seed):
            assert f.gravity is not None
            calibration.observe(f.gravity, f.sd_mg or 0.0, f.steps)
        assert calibration.source == "walking" and calibration.reference is not None
        assert angle_deg(calibration.reference, up_in_sensor(mounting)) < 5


def test_a_moved_sensor_is_noticed_and_relearned() -> None:
    calibration = UprightCalibration()
    first, second = rotation(0, 0, 0), rotation(0, 90, 0)
    for f in frames("walk", 120, first) + frames("walk", 240, second, 1):
        assert f.gravity is not None
        calibration.observe(f.gravity, f.sd_mg or 0.0, f.steps)
    assert calibration.recalibrations >= 1
    assert calibration.reference is not None and angle_deg(calibration.reference, up_in_sensor(second)) < 5


def test_explicit_standing_calibration() -> None:
    mounting = rotation(10, 50, 80)
    calibration = UprightCalibration()
    still = [f.gravity for f in frames("stand", 5, mounting) if f.gravity is not None]
    calibration.set_explicit(still)
    assert (
        calibration.source == "explicit" and angle_deg(calibration.reference or (0, 0, 0), up_in_sensor(mounting)) < 5
    )


def test_robust_mean_ignores_a_minority_in_another_direction() -> None:
    walking = [(0.0, 0.05 * math.sin(i), 1.0) for i in range(60)]
    pedalling = [(0.9, 0.0, 0.4) for _ in range(30)]
    reference = robust_mean(walking + pedalling)
    assert angle_deg(reference, (0, 0, 1)) < 3
    assert offline_reference(walking[:5]) is None


def test_posture_from_gravity_and_reference_for_each_placement() -> None:
    mounting = rotation(30, 100, -40)
    up = up_in_sensor(mounting)
    sit, stand, lie, walk = (frames(a, 3, mounting)[1] for a in ("sit", "stand", "lie", "walk"))
    assert [classify(f, "thigh", up) for f in (sit, stand, lie, walk)] == ["sitting", "standing", "sitting", "moving"]
    assert classify(lie, "trunk", up) == "lying" and classify(stand, "trunk", up) == "standing"
    assert classify(sit, "wrist", up) == "unknown"
    assert classify(sit, "thigh", None) == "unknown"  # no calibration, no angle from the sender: say so
    assert fuse("sitting", "standing") == "sitting" and fuse("sitting", "lying") == "lying"
    assert fuse("standing", "moving") == "moving"


def test_the_quantised_reservoir_gives_the_upright_of_the_exact_directions_within_half_a_degree() -> None:
    """Issue 18: the reservoir holds each walking second's direction in 3 signed bytes. At every update of the
    upright, it is within 0.5 deg of the robust mean of the exact directions of the same (last 120) walking seconds."""
    from alerts.detect.calibration import RESERVOIR_SECONDS, is_walking, unit

    for seed, mounting in enumerate([rotation(0, 0, 0), rotation(40, 120, 10), rotation(-90, 75, 200)]):
        calibration = UprightCalibration()
        exact: list[tuple[float, float, float]] = []
        updates = 0
        for f in frames("walk", 300, mounting, seed):
            assert f.gravity is not None
            before = calibration.reference
            calibration.observe(f.gravity, f.sd_mg or 0.0, f.steps)
            if is_walking(f.sd_mg or 0.0, f.steps):
                exact = [*exact, unit(f.gravity)][-RESERVOIR_SECONDS:]
            if calibration.reference is not None and calibration.reference != before:
                updates += 1
                assert angle_deg(calibration.reference, robust_mean(exact)) < 0.5
        assert updates >= 20 and calibration.walking_seconds_held == RESERVOIR_SECONDS


def test_a_snapshot_with_the_float_reservoir_loads_quantised() -> None:
    import pickle
    from collections import deque

    import msgspec

    from alerts.detect.calibration import directions_of

    calibration = UprightCalibration()
    restored = pickle.loads(pickle.dumps(calibration))
    restored.__setstate__({**msgspec.structs.asdict(calibration), "_walks": deque([(0.0, 0.6, 0.8)] * 30, maxlen=120)})
    assert restored.walking_seconds_held == 30
    assert all(angle_deg(d, (0.0, 0.6, 0.8)) < 0.5 for d in directions_of(restored._walks))
