"""Numbers on the wire: what a sensor cannot measure is refused where it enters, with the field named."""

from __future__ import annotations

import json

import pytest

from ingest.errors import WireError
from ingest.wire import Topics, decode

TOPICS = Topics("kinetic")
T0 = 1_767_603_600_000


def batch_with(**frame: object) -> bytes:
    frames = [{"t_ms": T0, "incl_deg": 80.0, "enmo_mg": 2.0, "n": 50, **frame}]
    return json.dumps({"wearer": "ann", "device": "d", "placement": "thigh", "seq": 0, "frames": frames}).encode()


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ({"enmo_mg": float("inf")}, "frames.0.enmo_mg: Input should be a finite number"),
        ({"sd_mg": float("nan")}, "frames.0.sd_mg: Input should be a finite number"),
        ({"gx": 0.0, "gy": 0.0, "gz": 0.0}, "frames.0: the gravity vector (0.0, 0.0, 0.0) has no direction"),
    ],
)
def test_what_a_sensor_cannot_measure_is_refused(frame: dict[str, object], reason: str) -> None:
    with pytest.raises(WireError) as exc:
        decode(TOPICS, TOPICS.features("ann", "d"), batch_with(**frame))
    assert str(exc.value) == f"invalid FeatureBatchV1: {reason}"


def test_a_summary_metric_must_be_finite() -> None:
    event = {"kind": "summary", "wearer": "ann", "t": "2026-01-05T09:00:00Z", "metrics": {"sitting_s": "Infinity"}}
    with pytest.raises(WireError, match=r"metrics\.sitting_s: Input should be a finite number"):
        decode(TOPICS, TOPICS.events("ann"), json.dumps(event).encode())
