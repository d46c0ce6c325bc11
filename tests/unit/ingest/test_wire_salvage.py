"""A feature batch keeps its good seconds (issue 13: bad input never loses good data): a frame the contract refuses,
or one that repeats or goes back in time, is left out with the reason; the frames beside it are the message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import WireError
from ingest.wire import Topics, decode_salvaging

TOPICS = Topics("kinetic")
ADDRESS = TOPICS.parse(TOPICS.features("ann", "ann-thigh"))
T0 = 1_767_603_600_000
ENVELOPE = {"wearer": "ann", "device": "ann-thigh", "placement": "thigh", "seq": 4}


def good(i: int) -> dict[str, Any]:
    return {"t_ms": T0 + i * 1000, "gx": 0.1, "gy": -0.9, "gz": 0.3, "enmo_mg": 2.0 + i, "n": 50}


def payload(frames: list[Any], **envelope: Any) -> bytes:
    return json.dumps({**ENVELOPE, **envelope, "frames": frames}, allow_nan=True).encode()


# What goes wrong with one second, as devices and senders get it wrong; each is refused alone.
BAD: dict[str, Any] = {
    "zero gravity": lambda i: {**good(i), "gx": 0.0, "gy": 0.0, "gz": 0.0},
    "NaN": lambda i: {**good(i), "enmo_mg": float("nan")},
    "microseconds": lambda i: {**good(i), "t_ms": (T0 + i * 1000) * 1000},
    "before 2015": lambda i: {**good(i), "t_ms": 86_400_000},
    "half a gravity vector": lambda i: {**good(i), "gz": None},
    "a string": lambda i: {**good(i), "n": "fifty"},
    "not an object": lambda i: [1, 2, 3],
    "an extra field": lambda i: {**good(i), "temp_c": 21.0},
    "a repeat": lambda i: good(0),  # frame 0 is always good: this second was already given
}


@given(
    st.integers(2, 40).flatmap(
        lambda n: st.tuples(st.just(n), st.dictionaries(st.integers(1, n - 1), st.sampled_from(sorted(BAD))))
    )
)
def test_any_bad_seconds_leave_exactly_the_good_ones(case: tuple[int, dict[int, str]]) -> None:
    n, bad = case
    frames = [BAD[bad[i]](i) if i in bad else good(i) for i in range(n)]
    kept = [i for i in range(n) if i not in bad]
    batch, reason = decode_salvaging(ADDRESS, payload(frames))
    assert [f.t_ms for f in batch.frames] == [T0 + i * 1000 for i in kept]  # type: ignore[attr-defined]
    assert [f.enmo_mg for f in batch.frames] == [2.0 + i for i in kept]  # type: ignore[attr-defined]
    if bad:
        assert reason is not None and reason.startswith(f"{len(bad)} of {n} frames refused (first: frames.{min(bad)}")
    else:
        assert reason is None


def test_the_named_reason_for_one_bad_second() -> None:
    frames = [good(0), {**good(1), "gx": 0.0, "gy": 0.0, "gz": 0.0}, good(2)]
    batch, reason = decode_salvaging(ADDRESS, payload(frames))
    assert len(batch.frames) == 2  # type: ignore[attr-defined]
    assert reason == "1 of 3 frames refused (first: frames.1: the gravity vector (0.0, 0.0, 0.0) has no direction)"
    frames = [good(0), good(2), good(1)]
    _, reason = decode_salvaging(ADDRESS, payload(frames))
    assert reason == (
        f"1 of 3 frames refused (first: frames.2: t_ms {T0 + 1000} does not come after {T0 + 2000} "
        "(repeated or out of order))"
    )


def test_a_batch_of_microseconds_has_nothing_to_keep_and_is_refused_whole() -> None:
    """Issue 13, case 1: every frame is in microseconds; the reason names the unit."""
    frames = [{**good(i), "t_ms": 1_764_230_400_000_000 + i * 1_000_000} for i in range(3)]
    with pytest.raises(WireError, match=r"frames\.0\.t_ms: .*\(as microseconds it is 2025-11-27T08:00:00\+00:00\)"):
        decode_salvaging(ADDRESS, payload(frames))


@pytest.mark.parametrize(
    "bad",
    [
        payload([good(0)], wearer="bob"),  # another wearer's topic
        payload([good(0)], seq=-1),
        payload([good(0)], placement="elbow"),
        payload([good(0)], colour="red"),
        b'{"frames": [' + json.dumps(good(0)).encode() + b"]}",
        payload([]),
        b"[1, 2]",
        b"\xff\xfe",
    ],
)
def test_a_bad_envelope_keeps_nothing(bad: bytes) -> None:
    with pytest.raises(WireError):
        decode_salvaging(ADDRESS, bad)


def test_other_messages_are_decoded_whole() -> None:
    status = TOPICS.parse(TOPICS.status("ann", "ann-thigh"))
    with pytest.raises(WireError):
        decode_salvaging(status, b'{"wearer": "ann", "device": "ann-thigh", "state": "asleep"}')


def test_a_frame_hours_ahead_mid_batch_is_refused_and_the_frames_after_it_kept() -> None:
    """Found after the named cases: a batch of a replayed backlog with one frame stamped 3 h ahead kept that frame
    and refused every later one as out of order. The batch is judged like a receiver takes a device's stream
    (ingest/order.py): the jump is refused because the stream goes on from before it."""
    glitch = {**good(5), "t_ms": T0 + 3 * 3_600_000}
    frames = [good(i) for i in range(5)] + [glitch] + [good(i) for i in range(5, 10)]
    batch, reason = decode_salvaging(ADDRESS, payload(frames))
    assert [f.t_ms for f in batch.frames] == [T0 + i * 1000 for i in range(10)]  # type: ignore[attr-defined]
    assert reason == (
        f"1 of 11 frames refused (first: frames.5: t_ms {T0 + 3 * 3_600_000} jumped 10796 s ahead of the device's "
        f"stream (t_ms {T0 + 4000}), which went on from t_ms {T0 + 5000}: refused as a clock glitch)"
    )
    # a jump at the end of a batch cannot be judged yet: it is kept, and the receiver's order decides
    batch, reason = decode_salvaging(ADDRESS, payload([good(0), good(2), good(1), glitch]))
    assert [f.t_ms for f in batch.frames][-1] == T0 + 3 * 3_600_000  # type: ignore[attr-defined]
