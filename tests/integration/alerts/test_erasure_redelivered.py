"""A ``forget`` whose erasure fails in `kinetic alerts` (its state file held by another writer: SQLite busy) on a real
Mosquitto: left unacknowledged, the broker delivers it again when the service comes back (a restart, the same
persistent session), and the wearer is erased then."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, Topics, encode
from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration

DAY = parse_scenario(
    "start: 2026-11-23T09:00:00+00:00\nwearers:\n"
    "  - wearer: ann\n    placement: thigh\n    segments: [sit 3m]\n"
    "  - wearer: bob\n    placement: thigh\n    segments: [sit 3m]\n"
)


def snapshots_of(path: Path) -> set[str]:
    """The wearers with a stored snapshot (read-only, beside the running service)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return {str(r[0]) for r in db.execute("SELECT wearer FROM wearers")}


def wait_snapshots(path: Path, wearers: set[str], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and snapshots_of(path) == wearers:
            return
        time.sleep(0.05)
    raise AssertionError(f"snapshots of {wearers} expected in {path}, found {snapshots_of(path)}")


def test_a_forget_whose_erasure_failed_is_delivered_again_after_a_restart_and_erases(
    mosquitto: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    topics = Topics(unique)
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path) | {"KINETIC_ALERTS__IDLE_CHECKPOINT_S": "0.2"}
    outbox = tmp_path / f"{unique}-alerts" / f"{unique}.sqlite"
    snapshots = outbox.with_name(f"{unique}.snapshots.sqlite")
    first = Proc(["alerts"], env, tmp_path / "alerts-1.log")
    procs.append(first)
    first.wait_for("watching")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{unique}-publisher")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        for script in DAY.wearers:
            for batch in batches_for(DAY, script, 60):
                client.publish(topics.features(batch.wearer, batch.device), encode(batch), qos=1).wait_for_publish(5)
        wait_snapshots(snapshots, {"ann", "bob"})

        other = sqlite3.connect(outbox, isolation_level=None)  # another writer holds the outbox's file
        other.execute("BEGIN IMMEDIATE")
        try:
            forget = CommandV1(kind="forget", wearer="bob", at=datetime.now(UTC), source="cli")
            client.publish(topics.erasure("bob"), encode(forget), qos=1).wait_for_publish(5)
            first.wait_for("bob: forget: the alert state was not erased")
        finally:
            other.execute("ROLLBACK")
            other.close()
    finally:
        client.loop_stop()
        client.disconnect()
    assert first.terminate() == 0  # a clean stop: what it handled is acknowledged, the forget is not
    assert snapshots_of(snapshots) == {"ann", "bob"}

    second = Proc(["alerts"], env, tmp_path / "alerts-2.log")
    procs.append(second)
    second.wait_for("alerts bob: forget")  # delivered again by the broker (the persistent session)
    wait_snapshots(snapshots, {"ann"})
    assert second.terminate() == 0
    assert "not erased" not in second.text()
