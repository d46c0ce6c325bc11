"""Issue 17: a session's start and end pressed during an accelerated demo are judged on the data's clock, as every
other command (``AlertEngine.judged``), so a session started at the scenario's 09:32 and ended at its 09:40 lasts
8 min of the scenario and its outcome is the wearer's event at 09:40, not at the host's time of the press."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.commands import prompt_command
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.prompts.sessions import SessionVerifier, session_command
from alerts.service import AlertService
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import EventV1, PromptV1, Topics, encode
from tests.support.pipeline import sync
from tests.support.publisher import PublishedMessages

TOPICS = Topics("kinetic-test")
SCENARIO = parse_scenario(
    "start: 2026-12-07T09:00:00+00:00\nwearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 40m]\n"
)
HOST_NOW = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)  # the host's moment of the press: a day and a half before


def at(clock: str) -> datetime:
    hour, minute = (int(p) for p in clock.split(":"))
    return SCENARIO.start.replace(hour=hour, minute=minute)


async def session_outcome(data_clock: bool) -> EventV1:
    """The scenario through the service: Start pressed on the prompt at the scenario's 09:32 and End at 09:40, both
    stamped by the host's clock one minute apart."""
    book = PolicyBook(PromptPolicy(channels=["mqtt"], escalate_after_min=None))
    engine = AlertEngine(EngineConfig(), load_catalog(), book, commands_on_data_clock=data_clock)
    verifier = SessionVerifier({e.id: e for e in load_catalog()})
    alerts, out = AlertService(topics=TOPICS, engine=engine, send_expired=True, sessions=verifier), PublishedMessages()
    started = False
    for batch in batches_for(SCENARIO, SCENARIO.wearers[0], 30):
        await alerts.handle(out, TOPICS.features(batch.wearer, batch.device), encode(batch), now_ms=0)
        if not started and batch.frames[-1].t_ms + 1000 >= at("09:32").timestamp() * 1000:
            await alerts.flush()
            (prompt,) = [PromptV1.model_validate_json(p) for t, p in out.sent if t.endswith("/prompts")]
            start = prompt_command("start", "ann", HOST_NOW, source="web", prompt_id=prompt.id)
            await alerts.handle(out, TOPICS.commands("ann"), encode(start), now_ms=0)
            started = True
    end = session_command("end", "ann", HOST_NOW + timedelta(minutes=1), source="web")
    await alerts.handle(out, TOPICS.commands("ann"), encode(end), now_ms=0)
    await alerts.flush()
    events = [EventV1.model_validate_json(p) for t, p in out.sent if t.endswith("/events")]
    (outcome,) = [e for e in events if e.kind == "session_outcome"]
    return outcome


@sync
async def test_a_session_pressed_during_a_demo_is_timed_on_the_data_clock() -> None:
    outcome = await session_outcome(data_clock=True)
    last = at("09:40") - timedelta(seconds=1)  # the scenario's latest second when End is pressed
    assert outcome.t == last
    assert outcome.bout_start == at("09:32") - timedelta(seconds=1)
    assert outcome.duration_s == pytest.approx(8 * 60)


@sync
async def test_without_the_setting_a_session_keeps_the_hosts_clock() -> None:
    """Live, the two clocks agree: the press's own times are kept (here one minute on the host's clock)."""
    outcome = await session_outcome(data_clock=False)
    assert (outcome.t, outcome.duration_s) == (HOST_NOW + timedelta(minutes=1), pytest.approx(60))
