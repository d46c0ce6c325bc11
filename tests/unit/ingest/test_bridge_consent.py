"""The bridge applies a wearer's consent events to the wall it routes by, and keeps the book in its spool with the
batch that carried the change, so a restarted bridge routes as before (issue 20, item 3)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ingest.bridge import CONSENT_STATE, Bridge
from ingest.consent import ConsentLedger
from ingest.settings import BridgeSettings, InfluxSettings
from ingest.store.spool import Spool
from ingest.store.walled import WalledInfluxV1Sink
from ingest.wall import ConsentBook, Wall
from ingest.wire import Topics, encode

T0 = 1_764_000_000_000


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, payload))


def walled_bridge(tmp_path: Path, wall: Wall) -> Bridge:
    spool_path = tmp_path / "spool.sqlite"
    return Bridge(
        topics=Topics("kinetic"),
        sink=WalledInfluxV1Sink(InfluxSettings(url="http://127.0.0.1:9"), wall),  # never written to here
        spool=Spool(spool_path, 10_000_000),
        settings=BridgeSettings(spool_path=spool_path),
        wall=wall,
    )


def test_consent_events_change_routing_and_outlive_a_restart(tmp_path: Path) -> None:
    ledger = ConsentLedger(tmp_path / "consent.jsonl")
    grant = ledger.grant("ann", "north", ["posture"], T0).event()
    withdraw = ledger.withdraw("ann", "north", ["posture"], T0 + 3_600_000).event()
    wall = Wall("kinetic", {"ann": "north"})
    bridge = walled_bridge(tmp_path, wall)
    spool_path = bridge.spool.path
    out = Recorder()

    async def take(payload: bytes) -> None:
        body, count = await bridge._points_of(out, "kinetic/v1/ann/consent", payload, T0 + 7_200_000)
        await bridge._commit(body, count)

    asyncio.run(take(encode(grant)))
    assert wall.database_for("ann", "posture", T0 + 1) == "kinetic_north"
    asyncio.run(take(encode(withdraw)))
    assert wall.database_for("ann", "posture", T0 + 3_600_000) == "kinetic_private"
    assert wall.database_for("ann", "posture", T0 + 3_599_999) == "kinetic_north"  # shared before stays shared
    assert out.sent == []  # nothing dead-lettered
    bridge.spool.close()

    again = Spool(spool_path, 10_000_000)  # the next start reads the book back from the spool
    restored = ConsentBook.from_state(again.state(CONSENT_STATE))
    again.close()
    assert restored == wall.consent == ledger.book()


def test_a_consent_event_on_the_events_topic_is_refused_counted_and_dead_lettered(tmp_path: Path) -> None:
    """A forged consent (a login that may write the wearer's events topic - the alert service, a clinician - is not
    the wearer) changes no routing and stores nothing: one dead letter naming the topic to use."""
    ledger = ConsentLedger(tmp_path / "consent.jsonl")
    forged = encode(ledger.grant("ann", "north", ["posture", "checkins"], T0).event())
    wall = Wall("kinetic", {"ann": "north"})
    bridge = walled_bridge(tmp_path, wall)
    out = Recorder()
    body, count = asyncio.run(bridge._points_of(out, "kinetic/v1/ann/events", forged, T0 + 60_000))
    assert (body, count) == (b"", 0)
    assert wall.consent == ConsentBook()
    assert wall.database_for("ann", "posture", T0 + 1) == "kinetic_private"
    assert bridge.dead_letters.count == 1
    [(topic, letter)] = out.sent
    assert topic == "kinetic/v1/_deadletter/bridge"
    reason = json.loads(letter)["reason"]
    assert (
        reason.startswith("consent_granted on an events topic: consent changes are taken from") and "\n" not in reason
    )
    assert "kinetic/v1/+/consent" in bridge.subscriptions()
    bridge.spool.close()
