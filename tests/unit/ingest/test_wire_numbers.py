"""Numbers on the wire: what a sensor cannot measure is refused where it enters, with the field named."""

from __future__ import annotations

import json
import re

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


@pytest.mark.parametrize(
    ("value", "reason"),
    [(float("inf"), "Input should be a finite number"), ("Infinity", "'Infinity' is text; expected a number")],
    ids=["Infinity (what Python's json writes)", "the text 'Infinity'"],
)
def test_a_summary_metric_must_be_finite(value: object, reason: str) -> None:
    event = {"kind": "summary", "wearer": "ann", "t": "2026-01-05T09:00:00Z", "metrics": {"sitting_s": value}}
    with pytest.raises(WireError, match=rf"metrics\.sitting_s: {re.escape(reason)}"):
        decode(TOPICS, TOPICS.events("ann"), json.dumps(event).encode())


def test_a_time_too_large_for_any_unit_is_refused_in_one_short_line() -> None:
    """A found poison message: ``t_ms`` = 1 followed by 400 zeros crashed both services (OverflowError while naming
    the unit), and again after every restart."""
    with pytest.raises(WireError) as exc:
        decode(TOPICS, TOPICS.features("ann", "d"), batch_with(t_ms=10**400))
    assert str(exc.value) == (
        "invalid FeatureBatchV1: frames.0.t_ms: a number of 401 digits is not Unix epoch milliseconds from 2015 to 2100"
    )
    status = b'{"wearer": "ann", "device": "d", "state": "online", "t_ms": 1' + b"0" * 400 + b"}"
    with pytest.raises(WireError, match="a number of 401 digits"):
        decode(TOPICS, TOPICS.status("ann", "d"), status)


@pytest.mark.parametrize(("frame", "field"), [({"steps": 2**63}, "steps"), ({"n": 10**20}, "n")])
def test_counts_beyond_what_a_sensor_gives_are_refused(frame: dict[str, object], field: str) -> None:
    """Integers past int64 were accepted: influxd refused the line while the embedded store kept it."""
    with pytest.raises(WireError, match=rf"frames\.0\.{field}: Input should be less than or equal to"):
        decode(TOPICS, TOPICS.features("ann", "d"), batch_with(**frame))
