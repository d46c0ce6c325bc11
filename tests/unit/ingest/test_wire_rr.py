"""RR intervals on the wire (``FeatureFrameV1.rr_ms``, issue 17): bounded, in the physiological range, refused per
frame with the field named, the other seconds of the batch kept; the bridge's fast path refuses what pydantic does."""

from __future__ import annotations

import json

import pytest

from ingest.errors import WireError
from ingest.store.fast_features import decode_features
from ingest.wire import MAX_RR_PER_FRAME, FeatureBatchV1, Topics, decode, decode_salvaging

TOPICS = Topics("t")
TOPIC = TOPICS.features("ann", "ann-h10")


def batch(*rr: list[int] | None) -> bytes:
    frames = []
    for i, values in enumerate(rr):
        frame: dict[str, object] = {"t_ms": 1_795_420_920_000 + 1000 * i, "incl_deg": 10.0, "enmo_mg": 1.0, "n": 50}
        if values is not None:
            frame["rr_ms"] = values
        frames.append(frame)
    return json.dumps(
        {"v": 1, "wearer": "ann", "device": "ann-h10", "placement": "trunk", "seq": 0, "frames": frames}
    ).encode()


def test_rr_intervals_in_range_travel_and_frames_without_them_are_as_before() -> None:
    _, message = decode(TOPICS, TOPIC, batch([800, 840], None, [250, 2500]))
    assert isinstance(message, FeatureBatchV1)
    assert [f.rr_ms for f in message.frames] == [[800, 840], None, [250, 2500]]
    fast = decode_features(batch([800, 840], None))
    assert fast is not None and [f.rr_ms for f in fast.frames] == [[800, 840], None]


@pytest.mark.parametrize(
    ("rr", "reason"),
    [
        ([100], "frames.1.rr_ms: 100 ms is not an RR interval (250-2500 ms: 240-24 bpm)"),
        ([800, 2600], "frames.1.rr_ms: 2600 ms is not an RR interval"),
        ([800] * (MAX_RR_PER_FRAME + 1), "frames.1: rr_ms: List should have at most 8 items"),
        ([], "frames.1: rr_ms: List should have at least 1 item"),
    ],
)
def test_a_frame_with_a_bad_rr_interval_is_refused_naming_it_and_the_others_are_kept(
    rr: list[int], reason: str
) -> None:
    payload = batch([800], rr, [840])
    with pytest.raises(WireError, match="rr_ms"):
        decode(TOPICS, TOPIC, payload)
    assert decode_features(payload) is None  # the fast path leaves it to pydantic
    message, why = decode_salvaging(TOPICS.parse(TOPIC), payload)
    assert isinstance(message, FeatureBatchV1) and [f.rr_ms for f in message.frames] == [[800], [840]]
    assert why is not None and reason in why


def test_the_bridge_stores_the_seconds_of_frames_with_rr_and_not_the_intervals() -> None:
    from ingest.store.fast_features import fast_feature_lines
    from ingest.store.model import feature_lines, feature_points
    from ingest.store.points import to_line_protocol

    payload = batch([800, 840], None)
    _, message = decode(TOPICS, TOPIC, payload)
    assert isinstance(message, FeatureBatchV1)
    fast = decode_features(payload)
    assert fast is not None
    lines = feature_lines(message)
    assert lines == to_line_protocol(feature_points(message)) == fast_feature_lines(fast)
    assert lines.count(b"\n") == 2 and b"rr" not in lines
