"""What must not be forged has a topic of its own (issue 20). The bridge takes ``forget`` (``kinetic data delete``)
from the wearer's erasure topic only: the commands topic may be written by the web app, Home Assistant and the alert
service, so a forget there is a forgery, refused, counted and dead-lettered in one line, and the wearer's open minutes
and spooled points stay. Likewise a clinician's prescription events, from the wearer's prescriptions topic only."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from ingest.bridge import Bridge
from ingest.settings import BridgeSettings, InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.spool import Spool
from ingest.wire import CommandV1, EventV1, FeatureBatchV1, FeatureFrameV1, Topics, encode
from tests.unit.ingest.test_bridge_consent import Recorder

T0 = 1_764_000_000_000
TOPICS = Topics("kinetic")


def plain_bridge(tmp_path: Path) -> Bridge:
    """A bridge without the wall, its spool in ``tmp_path``; its sink is never written to here."""
    spool_path = tmp_path / "spool.sqlite"
    return Bridge(
        topics=TOPICS,
        sink=InfluxV1Sink(InfluxSettings(url="http://127.0.0.1:9")),
        spool=Spool(spool_path, 10_000_000),
        settings=BridgeSettings(spool_path=spool_path),
    )


def test_a_forget_on_the_commands_topic_is_refused_and_the_erasure_topics_is_obeyed(tmp_path: Path) -> None:
    bridge = plain_bridge(tmp_path)
    frames = [FeatureFrameV1(t_ms=T0 + 1000 * i, incl_deg=80, enmo_mg=2, n=50) for i in range(30)]
    half_minute = FeatureBatchV1(wearer="ann", device="ann-thigh", placement="thigh", seq=0, frames=frames)
    forget = encode(CommandV1(kind="forget", wearer="ann", at=datetime.fromtimestamp(T0 / 1000, UTC), source="cli"))
    out = Recorder()

    async def take(topic: str, payload: bytes) -> None:
        body, count = await bridge._points_of(out, topic, payload, T0 + 60_000)
        await bridge._commit(body, count)

    asyncio.run(take(TOPICS.features("ann", "ann-thigh"), encode(half_minute)))
    assert bridge._rollup.open_minutes("ann") and bridge.spool.points == 30
    asyncio.run(take(TOPICS.commands("ann"), forget))
    assert bridge._rollup.open_minutes("ann") and bridge.spool.points == 30  # nothing erased
    assert bridge.dead_letters.count == 1
    [(topic, letter)] = out.sent
    assert topic == TOPICS.dead_letter("bridge")
    assert json.loads(letter)["reason"] == (
        "forget on a commands topic: erasure is taken from <root>/v1/<wearer>/erasure only"
    )
    asyncio.run(take(TOPICS.erasure("ann"), forget))  # kinetic data delete's
    assert not bridge._rollup.open_minutes("ann") and bridge.spool.points == 0
    assert bridge.dead_letters.count == 1
    assert TOPICS.all_erasure() in bridge.subscriptions()
    bridge.spool.close()


def test_a_prescription_change_on_the_events_topic_is_refused_and_stored_from_the_prescriptions_topic(
    tmp_path: Path,
) -> None:
    """A clinician's decision is stored from the wearer's prescriptions topic only (issue 20): the events topic may be
    written by the alert service and the web app, so a prescription_changed there is refused, counted and
    dead-lettered in one line, and stores nothing."""
    bridge = plain_bridge(tmp_path)
    at = datetime.fromtimestamp(T0 / 1000, UTC)
    changed = encode(
        EventV1(
            kind="prescription_changed",
            wearer="ann",
            t=at,
            exercise="controlled-sit-to-stand",
            reason="prescribed",
            metrics={"sets": 1, "reps": 4, "per_week": 2},
        )
    )
    out = Recorder()
    forged = asyncio.run(bridge._points_of(out, TOPICS.events("ann"), changed, T0 + 60_000))
    assert forged == (b"", 0) and bridge.dead_letters.count == 1
    [(_, letter)] = out.sent
    assert json.loads(letter)["reason"] == (
        "prescription_changed on an events topic: prescription changes are taken from <root>/v1/<wearer>/prescriptions "
        "only"
    )
    body, count = asyncio.run(bridge._points_of(out, TOPICS.prescriptions("ann"), changed, T0 + 60_000))
    assert count >= 1 and b"prescription_changed" in body and bridge.dead_letters.count == 1
    assert TOPICS.all_prescriptions() in bridge.subscriptions()
    bridge.spool.close()
