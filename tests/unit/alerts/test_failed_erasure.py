"""A ``forget`` whose erasure of the alert state fails (SQLite busy: another writer holds the file) is left
unacknowledged, so the broker delivers it again (a reconnect, a restart) and the wearer is erased then; it is neither
dead-lettered nor acknowledged as a bad message would be (the wearer's data stayed for good)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.service import AlertService
from alerts.state import AlertState
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, FeatureBatchV1, Topics, encode
from tests.support.publisher import QueuedClient, until_handled

SCENARIO = parse_scenario(
    "start: 2026-11-23T09:00:00+01:00\nwearers:\n"
    "  - wearer: ann\n    placement: thigh\n    segments: [sit 5m]\n"
    "  - wearer: bob\n    placement: thigh\n    segments: [sit 5m]\n"
)
TOPICS = Topics("k")


def deliver(broker: QueuedClient, mid: int, message: FeatureBatchV1 | CommandV1) -> None:
    """As the broker delivers it: a forget on the erasure topic (as `kinetic data delete` sends it)."""
    if isinstance(message, CommandV1):
        broker.deliver(mid, TOPICS.command_topic(message), encode(message))
    else:
        broker.deliver(mid, TOPICS.features(message.wearer, message.device), encode(message))


def test_a_forget_whose_erasure_fails_is_left_unacknowledged_and_erases_when_delivered_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.sqlite"
    state = AlertState(path)
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy(sitting_threshold_min=10)))
    service = AlertService(topics=TOPICS, engine=engine, state=state, send_expired=True)
    broker = QueuedClient([])
    minutes = {s.wearer: list(batches_for(SCENARIO, s, 60)) for s in SCENARIO.wearers}
    forget = CommandV1(kind="forget", wearer="bob", at=SCENARIO.start, source="cli")

    async def run() -> None:
        consumer = asyncio.create_task(service._consume(broker))  # type: ignore[arg-type]
        for k in range(3):
            deliver(broker, 2 * k + 1, minutes["ann"][k])
            deliver(broker, 2 * k + 2, minutes["bob"][k])
        await until_handled(service, 6, consumer)
        await service.checkpoint(broker)  # type: ignore[arg-type]
        assert broker.acked == [1, 2, 3, 4, 5, 6] and state.holdings("bob")["snapshot"] is not None

        other = sqlite3.connect(path, isolation_level=None)  # another writer holds the state file (SQLite busy)
        other.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.WARNING, logger="alerts.service"):
            deliver(broker, 7, forget)
            deliver(broker, 8, minutes["ann"][3])
            await until_handled(service, 8, consumer)
        other.execute("ROLLBACK")
        other.close()
        await service.checkpoint(broker)  # type: ignore[arg-type]
        assert broker.acked == [1, 2, 3, 4, 5, 6, 8]  # the forget is not, so the broker delivers it again
        assert state.holdings("bob")["snapshot"] is not None  # not erased
        assert service.erasures_failed == 1 and service.dead_letters.count == 0 and service.internal_errors == 0

        deliver(broker, 7, forget)  # delivered again (the next connection of the persistent session)
        await until_handled(service, 9, consumer)
        await service.checkpoint(broker)  # type: ignore[arg-type]
        assert broker.acked == [1, 2, 3, 4, 5, 6, 8, 7]
        assert state.holdings("bob") == {"snapshot": None, "outbox": []} and set(state.load()) == {"ann"}
        assert service.erasures_failed == 1
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer

    asyncio.run(run())
    state.close()
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("alerts bob: forget: the alert state was not erased (") and "database is locked" in line
    assert "left unacknowledged" in line and "\n" not in line
