"""Exercise sessions (alerts.prompts.sessions): start, stream, end -> a session_outcome event; the bad inputs of
issue 19 (no sensor, a sensor lost mid-session, a stream without a session or from another device, a flood)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import Prescribed, parse_prescriptions
from alerts.prompts.sessions import SessionRefused, SessionVerifier
from ingest.session_stream import SessionStreamer
from ingest.wire import CommandV1, EventV1, SessionSamplesV1, Topics, decode_at, encode
from tests.support import exercise_models as em
from tests.support.synthetic import rotation

CATALOG = {e.id: e for e in load_catalog()}
PRESCRIPTIONS = parse_prescriptions(
    {
        "wearers": {
            "ann": [
                {
                    "exercise": "controlled-sit-to-stand",
                    "sets": 1,
                    "reps": 5,
                    "tempo": {"down_s": 3, "pause_s": 1, "up_s": 3},
                    "per_day": 1,
                }
            ]
        }
    },
    "test",
    CATALOG,
)


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def start(session: str, t_ms: int, exercise: str = "controlled-sit-to-stand", wearer: str = "ann") -> CommandV1:
    return CommandV1(kind="session_start", wearer=wearer, at=at(t_ms), exercise=exercise, session=session)


def end(session: str, t_ms: int, effort: int = 4, pain: int = 1) -> CommandV1:
    return CommandV1(kind="session_end", wearer="ann", at=at(t_ms), session=session, effort=effort, pain=pain)


def sit_to_stand_stream(
    reps: int, session: str, device: str = "chest", seed: int = 0, keep: float = 1.0, close_after_ms: int = 500
) -> list[SessionSamplesV1]:
    """The chunks a sender sends: the first ``keep`` share of the set's samples (the sensor lost after them), then
    the final chunk ``close_after_ms`` after the last sample."""
    rng = np.random.default_rng(seed)
    body, _ = em.sit_to_stand_set(reps, 3.0, 3.0, 1.0, rng)
    t_ms, acc = em.sensor(body, rotation(30, 140, 60), rng)
    n = int(len(t_ms) * keep)
    streamer = SessionStreamer("ann", device, session)
    return streamer.chunks(t_ms[:n], acc[:n]) + streamer.close(int(t_ms[n - 1]) + close_after_ms)


def run(verifier: SessionVerifier, chunks: list[SessionSamplesV1], session: str) -> EventV1:
    """Start, the stream but its final chunk, the end (waiting for the stream), the final chunk -> the outcome."""
    assert verifier.command(start(session, em.T0_MS - 1_000)) == []
    for chunk in chunks[:-1]:
        assert verifier.samples(chunk) == ([], None)
    if not chunks:
        (event,) = verifier.command(end(session, em.T0_MS + 60_000))
        return event
    assert verifier.command(end(session, chunks[-1].t0_ms)) == []
    events, reason = verifier.samples(chunks[-1])
    assert reason is None
    (event,) = events
    return event


def test_a_full_set_is_done_with_its_dose_tempo_effort_and_pain() -> None:
    verifier = SessionVerifier(CATALOG, PRESCRIPTIONS)
    event = run(verifier, sit_to_stand_stream(5, "s1"), "s1")
    assert event.kind == "session_outcome" and event.outcome == "done" and event.reason is None
    assert event.session == "s1" and event.exercise == "controlled-sit-to-stand"
    m = event.metrics or {}
    assert m["reps"] == 5 and m["reps_prescribed"] == 5 and m["within_tempo"] == 10
    assert m["effort"] == 4 and m["pain"] == 1 and m["verified"] == 1
    assert abs(m["rise_s"] - 3.0) < 0.5
    assert verifier.running == {}
    # the event is a valid wire message
    address = Topics().parse(Topics().events("ann"))
    assert decode_at(address, encode(event)) == event


def test_fewer_reps_than_prescribed_is_partial() -> None:
    event = run(SessionVerifier(CATALOG, PRESCRIPTIONS), sit_to_stand_stream(3, "s2"), "s2")
    assert event.outcome == "partial" and (event.metrics or {})["reps"] == 3


def test_sitting_still_through_the_session_is_skipped() -> None:
    rng = np.random.default_rng(3)
    t_ms, acc = em.sensor(em.hold(40, -10, 0, 0.5, 3, rng), np.eye(3), rng)
    streamer = SessionStreamer("ann", "chest", "s3")
    chunks = streamer.chunks(t_ms, acc) + streamer.close(int(t_ms[-1]))
    event = run(SessionVerifier(CATALOG, PRESCRIPTIONS), chunks, "s3")
    assert event.outcome == "skipped" and (event.metrics or {})["reps"] == 0


def test_a_session_with_no_sensor_is_incomplete_and_says_so() -> None:
    event = run(SessionVerifier(CATALOG, PRESCRIPTIONS), [], "s4")
    assert event.outcome == "partial"
    assert event.reason is not None and "no session stream" in event.reason
    assert (event.metrics or {})["verified"] == 0


def test_a_sensor_lost_mid_session_is_incomplete_and_keeps_what_it_saw() -> None:
    chunks = sit_to_stand_stream(5, "s5", keep=0.5, close_after_ms=30_000)
    event = run(SessionVerifier(CATALOG, PRESCRIPTIONS), chunks, "s5")
    assert event.outcome == "partial"
    assert event.reason is not None and "sensor lost for 30 s" in event.reason
    assert 1 <= (event.metrics or {})["reps"] < 5


def test_a_stream_never_closed_is_concluded_after_the_wait() -> None:
    verifier = SessionVerifier(CATALOG, PRESCRIPTIONS)
    chunks = sit_to_stand_stream(5, "s10")[:-1]  # the sender died: no final chunk
    verifier.command(start("s10", em.T0_MS - 1_000))
    for chunk in chunks:
        verifier.samples(chunk)
    assert verifier.command(end("s10", em.T0_MS + 50_000), now_ms=1_000_000) == []
    assert verifier.due(1_000_000 + 14_000) == []
    assert verifier.command(start("s11", em.T0_MS + 55_000), now_ms=1_000_001) == []  # a new one may start
    (event,) = verifier.due(1_000_000 + 15_000)
    assert event.session == "s10" and event.outcome == "partial" and "not closed" in (event.reason or "")
    assert (event.metrics or {})["reps"] == 5  # what it saw is kept
    assert verifier.closing == {} and list(verifier.running) == ["ann"]


def test_refusals_are_counted_and_name_the_input() -> None:
    verifier = SessionVerifier(CATALOG, PRESCRIPTIONS)
    with pytest.raises(SessionRefused, match="not prescribed to this wearer"):
        verifier.command(start("x1", em.T0_MS, exercise="hip-opening-sequence"))
    with pytest.raises(SessionRefused, match="not in the catalog"):
        verifier.command(start("x2", em.T0_MS, exercise="no-such-exercise"))
    chunks = sit_to_stand_stream(1, "s6")
    with pytest.raises(SessionRefused, match="is not running"):
        verifier.samples(chunks[0])
    verifier.command(start("s6", em.T0_MS))
    assert verifier.samples(chunks[0]) == ([], None)
    other = sit_to_stand_stream(1, "s6", device="phone")
    with pytest.raises(SessionRefused, match="takes 'chest'"):
        verifier.samples(other[1])
    with pytest.raises(SessionRefused, match="is not running"):
        verifier.command(end("s7", em.T0_MS + 10_000))
    assert verifier.refused == {
        "not prescribed": 1,
        "unknown exercise": 1,
        "stream without a session": 1,
        "another device": 1,
        "end without a session": 1,
    }
    # a start while one runs ends it first (nothing of the exercise in its first chunk: skipped, saying why)
    (ended,) = verifier.command(start("s8", em.T0_MS + 20_000))
    assert ended.session == "s6" and ended.outcome == "skipped" and "new session" in (ended.reason or "")


def test_a_flooding_stream_is_refused_past_its_bound_and_lost_chunks_are_counted() -> None:
    verifier = SessionVerifier(CATALOG, PRESCRIPTIONS)
    verifier.command(start("s9", em.T0_MS - 1_000))
    verifier.running["ann"].samples.limit = 2_000
    chunks = sit_to_stand_stream(5, "s9")
    reasons = [verifier.samples(c)[1] for c in chunks[:-1] if c.seq != 2]
    assert any(r is not None and "past its bound" in r for r in reasons)
    assert verifier.command(end("s9", em.T0_MS + 60_000)) == []
    (event,) = verifier.samples(chunks[-1])[0]
    m = event.metrics or {}
    assert m["samples"] == 2_000 and m["samples_refused"] > 0 and m["chunks_lost"] == 1
    assert verifier.refused["stream over its bound"] >= 1


def test_without_prescriptions_any_catalog_exercise_starts_and_an_unverifiable_one_is_the_wearers_word() -> None:
    verifier = SessionVerifier(CATALOG)
    verifier.command(start("h1", em.T0_MS, exercise="hip-opening-sequence"))
    (event,) = verifier.command(end("h1", em.T0_MS + 90_000))
    assert event.outcome == "done" and event.reason is None and (event.metrics or {})["verified"] == 0
    event = run(verifier, sit_to_stand_stream(2, "h2"), "h2")
    assert event.outcome == "done" and (event.metrics or {})["reps"] == 2
    assert "reps_prescribed" not in (event.metrics or {})


def test_the_outcome_is_stored_as_one_session_outcomes_point_with_its_figures() -> None:
    from ingest.store.model import points_for
    from ingest.store.queries import MEASUREMENTS

    event = run(SessionVerifier(CATALOG, PRESCRIPTIONS), sit_to_stand_stream(5, "p1"), "p1")
    (point,) = points_for(event, 0)
    assert point.measurement == "session_outcomes" and "session_outcomes" in MEASUREMENTS  # erased with the wearer
    assert dict(point.tags) == {"wearer": "ann", "exercise": "controlled-sit-to-stand", "outcome": "done"}
    assert point.fields["reps"] == 5 and point.fields["pain"] == 1 and point.fields["session"] == "p1"


def _close(streamer: SessionStreamer, t_ms: np.ndarray, acc: np.ndarray) -> list[SessionSamplesV1]:
    return streamer.chunks(t_ms, acc) + streamer.close(int(t_ms[-1]))


def test_a_prescribed_hold_is_verified_as_holds_with_their_steadiness() -> None:
    prescriptions = parse_prescriptions(
        {"wearers": {"ann": [{"exercise": "spinal-decompression-60s", "sets": 2, "hold_s": 20, "per_day": 1}]}},
        "test",
        CATALOG,
    )
    rng = np.random.default_rng(4)
    body = np.concatenate(
        [
            em.hold(5, 3, 0, 0.5, 3, rng),
            em.reposition(2, (3, 0), (80, 0), rng),
            em.hold(22, 80, 0, 0.8, 8, rng),
            em.reposition(2, (80, 0), (3, 0), rng),
            em.hold(3, 3, 0, 0.5, 3, rng),
            em.reposition(2, (3, 0), (80, 0), rng),
            em.hold(12, 80, 0, 0.8, 8, rng),  # the second hold is cut short
            em.reposition(2, (80, 0), (3, 0), rng),
        ]
    )
    t_ms, acc = em.sensor(body, rotation(30, 140, 60), rng)
    verifier = SessionVerifier(CATALOG, prescriptions)
    verifier.command(start("h1", em.T0_MS - 1_000, exercise="spinal-decompression-60s"))
    chunks = _close(SessionStreamer("ann", "chest", "h1"), t_ms, acc)
    for chunk in chunks[:-1]:
        verifier.samples(chunk)
    verifier.command(end("h1", em.T0_MS + 60_000))
    ((event,), _) = verifier.samples(chunks[-1])
    m = event.metrics or {}
    assert event.outcome == "partial" and m["holds"] == 1 and m["holds_prescribed"] == 2
    assert m["hold_s_prescribed"] == 20 and m["hold_s"] >= 20 and m["sway_deg"] > 0 and m["shake_mg"] > 0


def test_a_mobility_session_and_a_breathing_reset_are_verified_by_their_detectors() -> None:
    catalog = {
        **CATALOG,
        "cat-cow": CATALOG["lean-symmetry-reset"].model_copy(update={"id": "cat-cow", "verify": "mobility"}),
    }
    verifier = SessionVerifier(catalog)
    rng = np.random.default_rng(6)
    t_ms, acc = em.sensor(em.swings(30, 2.5, 10, rng), np.eye(3), rng)
    verifier.command(start("m1", em.T0_MS - 1_000, exercise="cat-cow"))
    for chunk in _close(SessionStreamer("ann", "chest", "m1"), t_ms, acc):
        verifier.samples(chunk)
    (mob,) = verifier.command(end("m1", em.T0_MS + 60_000))  # the stream is in: concluded at once
    assert (
        mob.outcome == "done" and (mob.metrics or {})["cycles"] == 5 and abs((mob.metrics or {})["range_deg"] - 30) < 2
    )
    body, _ = em.breathing(120, 4.0, 6.0, rng)
    t_ms, acc = em.sensor(body, rotation(30, 140, 60), rng, noise_g=em.BREATHING_NOISE_G)
    verifier.command(start("b1", em.T0_MS - 1_000, exercise="diaphragmatic-breathing-reset"))
    for chunk in _close(SessionStreamer("ann", "chest", "b1"), t_ms, acc):
        verifier.samples(chunk)
    (breath,) = verifier.command(end("b1", em.T0_MS + 130_000))
    m = breath.metrics or {}
    assert breath.outcome == "done" and m["reached"] == 1 and abs(m["breaths_per_min"] - 6.0) < 0.3


def test_all_sessions_together_are_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from alerts.prompts import sessions

    monkeypatch.setattr(sessions, "MAX_HELD_SAMPLES", 1_000)
    verifier = SessionVerifier(CATALOG)
    verifier.command(start("f1", em.T0_MS - 1_000))
    chunks = sit_to_stand_stream(2, "f1")
    assert verifier.samples(chunks[0]) == ([], None)  # 260 samples
    with pytest.raises(SessionRefused, match="samples of running sessions are held already"):
        for chunk in chunks[1:]:
            verifier.samples(chunk)
    assert verifier.refused["all sessions over their bound"] == 1


def test_prescriptions_changed_while_running_apply_from_the_next_start() -> None:
    """``reload`` (the alert service's PrescriptionsFile) is asked at each start: an exercise prescribed since the
    service started can be started, one removed since is refused."""
    current = {"ann": list(PRESCRIPTIONS["ann"])}
    verifier = SessionVerifier(CATALOG, current, reload=lambda: current)
    with pytest.raises(SessionRefused, match="not prescribed to this wearer"):
        verifier.command(start("r1", em.T0_MS, exercise="spinal-decompression-60s"))
    current["ann"].append(
        Prescribed.model_validate({"exercise": "spinal-decompression-60s", "hold_s": 20, "per_week": 3})
    )
    assert verifier.command(start("r1", em.T0_MS, exercise="spinal-decompression-60s")) == []
    assert verifier.running["ann"].prescribed is not None and verifier.running["ann"].prescribed.hold_s == 20
    current["ann"] = []
    with pytest.raises(SessionRefused, match="not prescribed to this wearer"):
        verifier.command(start("r2", em.T0_MS + 60_000))
