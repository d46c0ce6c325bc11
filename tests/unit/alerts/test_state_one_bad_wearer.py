"""One wearer's snapshot in the alert state file that cannot be read (a truncated write on a full disk, a blob from an
incompatible version) stops `kinetic alerts` for every wearer: 'kinetic: error: alert state ...: wearer 'bea' cannot
be restored (pickle data was truncated)', exit 2, at every start. Issue 13: one wearer's bad data never stops the
others being served."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.service import AlertService
from alerts.state import AlertState, snapshots_file
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import Topics, encode


class Broker:
    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        pass


def test_a_truncated_snapshot_of_one_wearer_does_not_stop_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = parse_scenario(
        "start: 2026-11-23T09:00:00+01:00\nwearers:\n"
        "  - wearer: ann\n    placement: thigh\n    segments: [sit 10m]\n"
        "  - wearer: bea\n    placement: thigh\n    segments: [sit 10m]\n"
    )
    topics = Topics("k")
    path = tmp_path / "s.sqlite"

    async def fill() -> None:
        engine = AlertEngine(EngineConfig(), load_catalog())
        service = AlertService(topics=topics, engine=engine, state=AlertState(path))
        for script in scenario.wearers:
            for b in batches_for(scenario, script, 60):
                await service.handle(Broker(), topics.features(b.wearer, b.device), encode(b))
        await service.checkpoint(None)

    asyncio.run(fill())
    with sqlite3.connect(snapshots_file(path)) as db:
        db.execute("UPDATE wearers SET state = substr(state, 1, 100) WHERE wearer = 'bea'")

    async def restart() -> AlertService:
        return AlertService(topics=topics, engine=AlertEngine(EngineConfig(), load_catalog()), state=AlertState(path))

    with caplog.at_level(logging.WARNING, logger="alerts.state"):
        service = asyncio.run(restart())  # before: StateError
    assert "ann" in service.engine.wearers
    # bea starts afresh, said in one line and counted; her next checkpoint replaces the unreadable snapshot
    assert "bea" not in service.engine.wearers
    assert service.state is not None and service.state.unrestorable == ["bea"]
    assert [r.getMessage().count("'bea' cannot be restored") for r in caplog.records] == [1]
