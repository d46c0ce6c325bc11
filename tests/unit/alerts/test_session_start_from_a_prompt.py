"""The "Start" action of a prompt (issue 19): ``prompt_command("start", ...)`` (the shared builder of prompt
commands; the callback server takes ``start`` too) becomes a session of the prompt's exercise in the alert service;
a start naming an unknown prompt is refused with the reason, and a service without sessions refuses session
commands and streams the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.commands import prompt_command
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.prompts.sessions import SessionVerifier, session_command
from alerts.service import AlertService
from ingest.session_stream import SessionStreamer
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import EventV1, PromptV1, Topics, encode
from tests.support.pipeline import sync
from tests.support.publisher import PublishedMessages

TOPICS = Topics("kinetic-test")


def service(sessions: bool = True) -> AlertService:
    book = PolicyBook(PromptPolicy(channels=["mqtt"], escalate_after_min=None))
    engine = AlertEngine(EngineConfig(), load_catalog(), book)
    verifier = SessionVerifier({e.id: e for e in load_catalog()}) if sessions else None
    return AlertService(topics=TOPICS, engine=engine, send_expired=True, sessions=verifier)


async def sit_until_prompted(alerts: AlertService, out: PublishedMessages) -> PromptV1:
    scenario = parse_scenario("wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 31m]\n")
    for script in scenario.wearers:
        for batch in batches_for(scenario, script, 30):
            await alerts.handle(out, TOPICS.features(batch.wearer, batch.device), encode(batch), now_ms=0)
    await alerts.flush()
    prompts = [PromptV1.model_validate_json(p) for t, p in out.sent if t.endswith("/prompts")]
    assert prompts
    return prompts[0]


@sync
async def test_start_on_a_prompt_runs_a_session_of_its_exercise() -> None:
    alerts, out = service(), PublishedMessages()
    prompt = await sit_until_prompted(alerts, out)
    start = prompt_command("start", "ann", prompt.created + timedelta(seconds=30), source="web", prompt_id=prompt.id)
    assert start.kind == "session_start" and start.exercise is None
    await alerts.handle(out, TOPICS.commands("ann"), encode(start), now_ms=0)
    assert alerts.sessions is not None
    running = alerts.sessions.running["ann"]
    assert running.exercise == prompt.exercise
    # an unknown prompt: refused, with the reason
    unknown = prompt_command("start", "ann", prompt.created, source="web", prompt_id="no-such-prompt")
    await alerts.handle(out, TOPICS.commands("bob"), encode(unknown.model_copy(update={"wearer": "bob"})), now_ms=0)
    assert any("no-such-prompt" in r and "not known" in r for r in out.dead_letters())
    # ended without a session id: the running one; nothing streamed, so incomplete
    end = session_command("end", "ann", prompt.created + timedelta(minutes=2), source="web")
    await alerts.handle(out, TOPICS.commands("ann"), encode(end), now_ms=0)
    await alerts.flush()
    events = [EventV1.model_validate_json(p) for t, p in out.sent if t.endswith("/events")]
    (outcome,) = [e for e in events if e.kind == "session_outcome"]
    assert outcome.exercise == prompt.exercise and outcome.session == running.session
    assert alerts.sessions.running == {}


@sync
async def test_a_service_without_sessions_refuses_them_with_the_reason() -> None:
    alerts, out = service(sessions=False), PublishedMessages()
    start = prompt_command("start", "ann", datetime(2026, 1, 5, 9, tzinfo=UTC), source="cli", prompt_id="p")
    await alerts.handle(out, TOPICS.commands("ann"), encode(start), now_ms=0)
    chunk = SessionStreamer("ann", "chest", "s1").chunks([1_767_600_000_000, 1_767_600_000_010], [[0, 0, 1], [0, 0, 1]])
    await alerts.handle(out, TOPICS.session("ann", "chest"), encode(chunk[0]), now_ms=0)
    assert out.dead_letters() == ["exercise sessions are not enabled here"] * 2
