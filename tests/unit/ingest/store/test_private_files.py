"""Health data on disk is the owner's only (issue 20, item 5): the embedded store, the bridge's spool and the
senders' queues, and the alert state are created with mode 600, their SQLite journals too, and an existing file
readable by others is tightened."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from alerts.state import AlertState
from ingest.store.embedded import EmbeddedSink
from ingest.store.points import Point
from ingest.store.spool import Spool


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_data_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a usual umask: files would be readable by everyone
    try:
        sink = EmbeddedSink(tmp_path / "store" / "kinetic.sqlite")
        asyncio.run(sink.write([Point.make("events", {"wearer": "ann", "kind": "summary"}, {"x": 1.0}, 1)]))
        spool = Spool(tmp_path / "spool.sqlite", 10**6)
        spool.append(b"line", 1)
        state = AlertState(tmp_path / "state" / "alerts.sqlite")
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert {p.name for p in files} >= {"kinetic.sqlite", "spool.sqlite", "alerts.sqlite", "spool.sqlite-wal"}
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        asyncio.run(sink.aclose())
        spool.close()
        state.close()
    finally:
        os.umask(old)


def test_an_existing_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "kinetic.sqlite"
    path.touch(mode=0o644)
    path.chmod(0o644)
    asyncio.run(EmbeddedSink(path).aclose())
    assert mode(path) == 0o600
