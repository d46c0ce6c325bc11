"""The session stream's sender (ingest.session_stream) and its wire message (SessionSamplesV1): bounded chunks that
decode to the samples sent, a stream that stops at its bound, and the contract's refusals."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.errors import WireError
from ingest.session_stream import CHUNK_MS, SessionStreamer
from ingest.wire import MAX_SESSION_SAMPLES, Topics, decode, encode

T0 = 1_767_600_000_000


def test_chunks_are_bounded_and_decode_to_the_samples() -> None:
    t_ms = T0 + np.arange(0, 30_000, 1000 / 104).astype(np.int64)
    t_ms = np.unique(t_ms)
    acc = np.column_stack([np.sin(t_ms / 500), np.cos(t_ms / 500), np.full(len(t_ms), 1.0)])
    streamer = SessionStreamer("ann", "chest", "s1")
    chunks = streamer.chunks(t_ms[:1000], acc[:1000]) + streamer.chunks(t_ms[1000:], acc[1000:])
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    topics = Topics()
    got_t, got_acc = [], []
    for c in chunks:
        assert len(c.dt_ms) <= MAX_SESSION_SAMPLES and c.dt_ms[-1] < CHUNK_MS
        _, message = decode(topics, topics.session("ann", "chest"), encode(c))
        assert message == c
        got_t += [c.t0_ms + d for d in c.dt_ms]
        got_acc += c.acc_mg
    assert got_t == t_ms.tolist()
    assert np.abs(np.asarray(got_acc) / 1000 - acc).max() <= 0.0005
    assert streamer.sent == len(t_ms) and streamer.dropped == 0


def test_a_stream_stops_at_its_bound_and_skips_repeats() -> None:
    streamer = SessionStreamer("ann", "chest", "s2", limit=100)
    t_ms = T0 + np.arange(150, dtype=np.int64) * 10
    acc = np.tile([0.0, 0.0, 1.0], (150, 1))
    acc[3] = np.nan
    first = streamer.chunks(t_ms[:50], acc[:50])
    assert sum(len(c.dt_ms) for c in first) == 49
    again = streamer.chunks(t_ms[40:], acc[40:])  # ten resent
    assert sum(len(c.dt_ms) for c in again) == 51 and streamer.dropped == 49


def test_samples_whose_clock_stepped_back_are_left_out_not_sent_out_of_order() -> None:
    """A batch whose times go back and up again (a re-anchored sample clock) makes a valid chunk of the samples after
    every earlier one; it never raises (it runs in the BLE notification callback)."""
    streamer = SessionStreamer("ann", "chest", "s4")
    t_ms = T0 + np.array([0, 10, 5, 7, 20, 15, 30])
    (chunk,) = streamer.chunks(t_ms, np.zeros((7, 3)))
    assert chunk.dt_ms == [0, 10, 20, 30] and streamer.sent == 4


def test_the_contract_refuses_a_mismatched_or_out_of_range_chunk() -> None:
    topics = Topics()
    topic = topics.session("ann", "chest")
    good = SessionStreamer("ann", "chest", "s3").chunks(np.array([T0, T0 + 10]), np.zeros((2, 3)))[0]
    body = good.model_dump()
    for change, reason in [
        ({"dt_ms": [0]}, "1 sample times for 2 samples"),
        ({"dt_ms": [10, 0]}, "must not decrease"),
        ({"acc_mg": [[0, 0, 99_000], [0, 0, 0]]}, "acc_mg"),
        ({"wearer": "bob"}, "does not match topic wearer"),
    ]:
        with pytest.raises(WireError, match=reason):
            decode(
                topics,
                topic,
                encode(good.model_copy(update=change)) if "wearer" in change else _json({**body, **change}),
            )
    assert topics.parse(topic).kind == "session"
    assert topics.all_sessions() == "kinetic/v1/+/+/session"


def _json(body: dict[str, object]) -> bytes:
    import json

    return json.dumps(body).encode()


def test_live_samples_go_out_in_full_chunks_and_the_close_sends_the_rest_and_the_end() -> None:
    streamer = SessionStreamer("ann", "chest", "s4")
    t_ms = T0 + np.arange(0, 12_000, 20, dtype=np.int64)
    acc = np.tile([0.0, 0.0, 1.0], (len(t_ms), 1))
    sent = []
    for i in range(0, len(t_ms), 13):
        sent += streamer.add(t_ms[i : i + 13], acc[i : i + 13])
    assert sent and all(not c.last for c in sent) and sum(len(c.dt_ms) for c in sent) < len(t_ms)
    assert all(c.dt_ms[-1] < CHUNK_MS and c.dt_ms[-1] >= CHUNK_MS - 20 for c in sent)  # full chunks only
    rest = streamer.close(T0 + 20_000)
    assert rest[-1].last and rest[-1].dt_ms == [] and rest[-1].t0_ms == T0 + 20_000
    got = [c.t0_ms + d for c in sent + rest for d in c.dt_ms]
    assert got == t_ms.tolist()
    assert [c.seq for c in sent + rest] == list(range(len(sent + rest)))
