from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import WireError
from ingest.wire import DeadLetterV1, FeatureBatchV1, FeatureFrameV1, Topics, decode, encode

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z

TOPICS = Topics("kinetic")


def batch(**overrides: object) -> FeatureBatchV1:
    data: dict[str, object] = {
        "wearer": "ann",
        "device": "ann-thigh",
        "placement": "thigh",
        "seq": 0,
        "frames": [FeatureFrameV1(t_ms=T0 + 1000 * i, incl_deg=80, enmo_mg=2, n=50) for i in range(3)],
    }
    data.update(overrides)
    return FeatureBatchV1.model_validate(data)


def test_topics_are_versioned_per_wearer_and_device() -> None:
    assert TOPICS.features("ann", "ann-thigh") == "kinetic/v1/ann/ann-thigh/features"
    assert TOPICS.status("ann", "ann-thigh") == "kinetic/v1/ann/ann-thigh/status"
    assert TOPICS.prompts("ann") == "kinetic/v1/ann/prompts"
    assert TOPICS.events("ann") == "kinetic/v1/ann/events"
    assert TOPICS.dead_letter("bridge") == "kinetic/v1/_deadletter/bridge"
    assert TOPICS.all_features() == "kinetic/v1/+/+/features"


@pytest.mark.parametrize(
    ("topic", "kind", "wearer", "device"),
    [
        ("kinetic/v1/ann/ann-thigh/features", "features", "ann", "ann-thigh"),
        ("kinetic/v1/ann/d1/status", "status", "ann", "d1"),
        ("kinetic/v1/ann/prompts", "prompts", "ann", None),
        ("kinetic/v1/ann/events", "events", "ann", None),
        ("kinetic/v1/_deadletter/alerts", "deadletter", None, None),
    ],
)
def test_parse_is_the_inverse_of_the_builders(topic: str, kind: str, wearer: str | None, device: str | None) -> None:
    address = TOPICS.parse(topic)
    assert (address.kind, address.wearer, address.device) == (kind, wearer, device)


@pytest.mark.parametrize(
    "topic", ["kinetic/v2/ann/prompts", "other/v1/ann/prompts", "kinetic/v1/Ann/prompts", "kinetic/v1/ann/x/y/z"]
)
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(WireError):
        TOPICS.parse(topic)


@pytest.mark.parametrize("bad", ["Ann", "_x", "a b", "a/b", "a+", "", "x" * 65])
def test_ids_that_would_break_topics_or_tags_are_refused(bad: str) -> None:
    with pytest.raises(WireError, match="must match"):
        TOPICS.features(bad, "d")


def test_a_batch_round_trips_through_json() -> None:
    original = batch()
    address, decoded = decode(TOPICS, TOPICS.features("ann", "ann-thigh"), encode(original))
    assert address.kind == "features" and decoded == original


def test_unknown_fields_are_forbidden() -> None:
    payload = json.loads(encode(batch()))
    payload["colour"] = "red"
    with pytest.raises(WireError, match="colour: Extra inputs are not permitted"):
        decode(TOPICS, TOPICS.features("ann", "ann-thigh"), json.dumps(payload).encode())


def test_frames_must_be_in_time_order() -> None:
    frames = [FeatureFrameV1(t_ms=T0 + t, incl_deg=1, enmo_mg=1, n=1) for t in (2000, 1000)]
    with pytest.raises(ValueError, match="strictly increasing"):
        batch(frames=frames)


def test_payload_must_speak_for_its_own_topic() -> None:
    with pytest.raises(WireError, match="does not match topic wearer 'bob'"):
        decode(TOPICS, TOPICS.features("bob", "ann-thigh"), encode(batch()))
    with pytest.raises(WireError, match="does not match topic device 'other'"):
        decode(TOPICS, TOPICS.features("ann", "other"), encode(batch()))


def test_dead_letter_keeps_binary_payloads_intact() -> None:
    letter = DeadLetterV1.wrap(
        service="bridge", topic="t", reason="r", payload=b"\xff\x00", received=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert letter.payload_encoding == "base64" and letter.payload == "/wA="


@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_raises_only_wire_errors(payload: bytes) -> None:
    for topic in (
        TOPICS.features("ann", "d"),
        TOPICS.prompts("ann"),
        TOPICS.events("ann"),
        TOPICS.status("a", "b"),
    ):
        with contextlib.suppress(WireError):
            decode(TOPICS, topic, payload)


@given(
    st.dictionaries(
        st.sampled_from(["v", "wearer", "device", "placement", "seq", "frames", "x"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3)),
    )
)
def test_decoding_arbitrary_json_raises_only_wire_errors(payload: dict[str, object]) -> None:
    with contextlib.suppress(WireError):
        decode(TOPICS, TOPICS.features("ann", "d"), json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"gx": 0.1}, "frames.1: gx, gy and gz go together"),
        ({"gx": 0.1, "gy": 0.2}, "frames.1: gx, gy and gz go together"),
        ({}, "frames.1: a frame needs the gravity vector"),
    ],
)
def test_every_frame_needs_the_whole_gravity_vector_or_an_inclination(fields: dict[str, float], reason: str) -> None:
    payload = json.loads(encode(batch()))
    del payload["frames"][1]["incl_deg"]
    payload["frames"][1].update(fields)
    with pytest.raises(WireError, match=reason):
        decode(TOPICS, TOPICS.features("ann", "ann-thigh"), json.dumps(payload).encode())
