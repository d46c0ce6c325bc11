"""A session running when the alert service restarts (issue 19, "Bad input": nothing lost): its header (id, exercise,
start; the end when it was ending) is stored with the alert state, the restarted service takes it up, gathers the
stream from the next chunk and concludes it **partial**, saying the samples before the restart were lost; a start
redelivered after the restart is the same session; an erased wearer's session goes with the rest of their state.

Before: running sessions were held in memory only; after a restart the session's end was refused as "not running"
(dead-lettered) and no ``session_outcome`` recorded it."""

from __future__ import annotations

from pathlib import Path

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.prompts.sessions import SessionVerifier
from alerts.service import AlertService
from alerts.state import AlertState
from ingest.wire import CommandV1, EventV1, Topics, encode
from tests.support import exercise_models as em
from tests.support.pipeline import sync
from tests.support.publisher import PublishedMessages
from tests.unit.alerts.prompts.test_sessions import CATALOG, PRESCRIPTIONS, at, end, sit_to_stand_stream, start

TOPICS = Topics("kinetic-test")


def test_a_running_session_is_taken_up_after_a_restart_and_concluded_partial() -> None:
    before = SessionVerifier(CATALOG, PRESCRIPTIONS)
    chunks = sit_to_stand_stream(5, "r1")
    assert before.command(start("r1", em.T0_MS - 1_000)) == []
    half = len(chunks) // 2
    for chunk in chunks[:half]:
        before.samples(chunk)
    records = before.records()
    assert list(records) == [("ann", "r1")]

    after = SessionVerifier(CATALOG, PRESCRIPTIONS)
    assert after.restore(records) == []
    assert after.command(start("r1", em.T0_MS - 1_000)) == []  # redelivered: the same session goes on
    for chunk in chunks[half:-1]:
        assert after.samples(chunk)[0] == []
    assert after.command(end("r1", chunks[-1].t0_ms)) == []
    (event,), _ = after.samples(chunks[-1])
    assert (event.session, event.exercise, event.outcome) == ("r1", "controlled-sit-to-stand", "partial")
    assert event.reason is not None and "restarted during the session" in event.reason
    m = event.metrics or {}
    assert m["chunks_lost"] == half and m["verified"] == 1 and m["reps_prescribed"] == 5
    assert 1 <= m["reps"] < 5  # the second half of the set, seen after the restart
    assert (event.duration_s or 0) > 0 and after.records() == {}


def test_an_ending_session_is_concluded_at_once_and_bad_records_are_named() -> None:
    before = SessionVerifier(CATALOG, PRESCRIPTIONS)
    before.command(start("r2", em.T0_MS - 1_000))
    before.samples(sit_to_stand_stream(5, "r2")[0])
    assert before.command(end("r2", em.T0_MS + 40_000, effort=6, pain=2), now_ms=1_000) == []  # waits for the stream
    records = before.records()
    records[("bob", "x1")] = "{not json"
    records[("cy", "x2")] = '{"session": "x2", "exercise": "gone-from-the-catalog", "started_ms": 0}'

    after = SessionVerifier(CATALOG, PRESCRIPTIONS)
    problems = after.restore(records)
    assert len(problems) == 2
    assert "'x1' of 'bob'" in problems[0] and "cannot be read" in problems[0]
    assert "'gone-from-the-catalog' is no longer in the catalog" in problems[1]
    (event,) = after.due(0)
    assert (event.session, event.outcome, event.t) == ("r2", "partial", at(em.T0_MS + 40_000))
    assert (event.metrics or {})["effort"] == 6 and (event.metrics or {})["pain"] == 2
    assert "restarted during the session" in (event.reason or "") and "no session stream" in (event.reason or "")
    after.restore(before.records())
    after.forget("ann")
    assert after.running == {} and after.closing == {}


def service(path: Path) -> AlertService:
    book = PolicyBook(PromptPolicy(channels=["mqtt"], escalate_after_min=None))
    engine = AlertEngine(EngineConfig(), load_catalog(), book)
    return AlertService(
        topics=TOPICS, engine=engine, sessions=SessionVerifier(CATALOG, PRESCRIPTIONS), state=AlertState(path)
    )


@sync
async def test_the_alert_service_stores_running_sessions_and_takes_them_up(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    first, out = service(path), PublishedMessages()
    await first.handle(out, TOPICS.commands("ann"), encode(start("r3", em.T0_MS)), now_ms=0)
    assert first.state is not None and list(first.state.sessions()) == [("ann", "r3")]
    assert first.state.holdings("ann")["sessions"][0]["exercise"] == "controlled-sit-to-stand"
    first.state.close()

    second, out = service(path), PublishedMessages()  # the restart
    assert second.sessions is not None and second.sessions.running["ann"].restarted
    await second.handle(out, TOPICS.commands("ann"), encode(end("r3", em.T0_MS + 60_000)), now_ms=0)
    await second.flush()
    assert out.dead_letters() == []
    (event,) = [EventV1.model_validate_json(p) for t, p in out.sent if t.endswith("/events")]
    assert (event.kind, event.session, event.outcome) == ("session_outcome", "r3", "partial")
    assert "restarted during the session" in (event.reason or "")
    assert second.state is not None and second.state.sessions() == {}

    # erased mid-session: the stored session goes with the wearer's other state
    await second.handle(out, TOPICS.commands("ann"), encode(start("r4", em.T0_MS + 90_000)), now_ms=0)
    assert list(second.state.sessions()) == [("ann", "r4")]
    forget = CommandV1(kind="forget", wearer="ann", at=at(em.T0_MS + 100_000), source="cli")
    await second.handle(out, TOPICS.erasure("ann"), encode(forget), now_ms=0)
    assert second.state.sessions() == {} and second.sessions.running == {}
    assert "sessions" not in second.state.holdings("ann")
