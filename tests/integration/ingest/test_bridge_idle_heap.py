"""The bridge makes a full collection once per idle spell (ingest/heap.py ``collect_when_idle``), on a real
Mosquitto; the spell's minute and the 5-s polls made short."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import ingest.heap
from ingest.settings import BridgeSettings, MqttSettings
from ingest.wire import Topics
from tests.integration.ingest.test_bridge_linger import batches, make_bridge, publish, running
from tests.support.collector import full_passes, garbage_in_generation_2, only_explicit_passes
from tests.support.pipeline import until
from tests.support.servers import Server

pytestmark = pytest.mark.integration


def test_an_idle_bridge_makes_one_full_pass_per_idle_spell(
    mosquitto: Server, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest.heap, "IDLE_POLL_S", 0.01)
    monkeypatch.setattr(ingest.heap, "IDLE_COLLECT_S", 0.2)
    settings = BridgeSettings(spool_path=tmp_path / "spool.sqlite", stats_interval_s=0)
    bridge, _, sink = make_bridge(tmp_path, unique, settings)
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    messages = batches(6)

    async def run() -> tuple[int, bool, int]:
        try:
            async with running(bridge, mqtt, f"{unique}-bridge"):
                await publish(mosquitto.port, Topics(unique), messages[:5])
                await until(lambda: bridge.counters.messages == 5, 20, "5 messages taken")
                before = full_passes()
                probe = garbage_in_generation_2()
                await until(lambda: probe() is None, 20, "a full pass once idle")
                first = full_passes() - before
                probe = garbage_in_generation_2()
                await asyncio.sleep(1.0)  # five times the idle spell's length: no second pass in it
                kept = probe() is not None
                await publish(mosquitto.port, Topics(unique), messages[5:])  # a message: a new spell
                await until(lambda: probe() is None, 20, "a full pass in the next idle spell")
                return first, kept, full_passes() - before
        finally:
            await sink.aclose()

    with only_explicit_passes():
        first, kept, passes = asyncio.run(run())
    assert (first, kept, passes) == (1, True, 2)
