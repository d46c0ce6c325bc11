"""A host whose own clock is not set yet (a Raspberry Pi without a real-time clock boots at 1970 until NTP answers):
the services judge 'ahead of this host's clock' by it. The phone service does not use a receiver clock outside
2015..2100 (ingest/phone/service.py); the alert service and the bridge refuse every frame until NTP has answered, and
what they refused is only in the dead-letter topic: the wearer's first hours are neither stored nor followed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.service import AlertService
from dashboards.homeassistant.entities import HaTopics
from dashboards.homeassistant.service import HomeAssistantService
from dashboards.homeassistant.states import StateTracker
from ingest.bridge import Bridge
from ingest.settings import BridgeSettings
from ingest.store.embedded import EmbeddedSink
from ingest.store.spool import Spool
from ingest.wire import FeatureBatchV1, FeatureFrameV1, Topics, encode
from tests.support.publisher import PublishedMessages

TOPICS = Topics("kinetic")
T = 1_796_500_800_000  # 2026-12-05, the sensor's (right) time
UNSET_MS = 30_000  # the host's clock: 1970-01-01T00:00:30Z, just booted
BATCH = encode(
    FeatureBatchV1(
        wearer="ann",
        device="ann-thigh",
        placement="thigh",
        seq=1,
        frames=[FeatureFrameV1(t_ms=T + i * 1000, gx=0.0, gy=-1.0, gz=0.0, enmo_mg=2.0, n=50) for i in range(10)],
    )
)


def test_the_alert_service_on_a_host_clock_at_1970_follows_the_wearer() -> None:
    """Before: dead-lettered ('10 of 10 frames refused: t_ms ... is 1796500770 s ahead of this host's clock')."""
    service = AlertService(topics=TOPICS, engine=AlertEngine(EngineConfig(), load_catalog()))
    out = PublishedMessages()
    asyncio.run(service.handle(out, TOPICS.features("ann", "ann-thigh"), BATCH, UNSET_MS))
    assert out.dead_letters() == []
    assert "ann" in service.engine.wearers


def test_the_bridge_on_a_host_clock_at_1970_stores_the_frames(tmp_path: Path) -> None:
    """Before: nothing stored, the batch dead-lettered."""
    sink = EmbeddedSink(tmp_path / "k.sqlite")
    bridge = Bridge(
        topics=TOPICS,
        sink=sink,
        spool=Spool(tmp_path / "spool.sqlite", 10_000_000),
        settings=BridgeSettings(spool_path=tmp_path / "spool.sqlite"),
    )
    out = PublishedMessages()

    async def run() -> int:
        try:
            _, count = await bridge._points_of(out, TOPICS.features("ann", "ann-thigh"), BATCH, UNSET_MS)
            return count
        finally:
            await sink.aclose()

    assert asyncio.run(run()) >= 10
    assert out.dead_letters() == []


def test_home_assistant_on_a_host_clock_at_1970_takes_the_frames() -> None:
    """Before: the batch dead-lettered as ahead (the wearer's clock, sensor availability and the features' times
    lost). A button press cannot be stamped without a clock: it is dead-lettered naming the 1970 time, which is fair."""
    ha_topics = HaTopics("kinetic")
    service = HomeAssistantService(
        topics=TOPICS,
        ha=ha_topics,
        tracker=StateTracker(ha_topics, min_interval_ms=0),
        max_ahead_ms=300_000,
        clock=lambda: UNSET_MS / 1000,
    )
    out = PublishedMessages()

    asyncio.run(service.handle(out, TOPICS.features("ann", "ann-thigh"), BATCH))
    assert out.dead_letters() == []
