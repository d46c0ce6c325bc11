"""Embedded store: one SQLite file, the same points as InfluxDB, for ``kinetic demo`` and single-user installs.

A point is keyed by (measurement, series, time) and a rewrite replaces it, as InfluxDB does, so a
redelivered message is harmless. One dedicated connection is used from a worker thread at a time.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from ingest.errors import SinkRejected, SinkUnavailable
from ingest.store.fast_features import BatchLike
from ingest.store.line_sink import LineSink
from ingest.store.model import points_for
from ingest.store.points import Point, stored_form
from ingest.store.private import private_file
from ingest.wire import Payload

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    series TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, series, t_ms)
) WITHOUT ROWID;
"""


class EmbeddedSink(LineSink):
    """PointSink on SQLite."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(private_file(path), check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise SinkUnavailable(f"embedded store {path}: {exc}") from exc

    async def prepare(self) -> None:
        """The schema is created when the file is opened."""

    def encode(self, points: list[Point]) -> bytes:
        """One JSON array per line: [measurement, series, t_ms, tags, fields]. The points and fields InfluxDB would
        store, no others (ingest.store.points.stored_form): LineProtocolError for a point it could not."""
        lines = []
        for p in points:
            series, fields = stored_form(p)
            lines.append(json.dumps([p.measurement, series, p.t_ms, dict(p.tags), fields]).encode() + b"\n")
        return b"".join(lines)

    def encode_message(self, message: Payload | BatchLike, received_ms: int) -> tuple[bytes, int]:
        points = points_for(message, received_ms)
        return (self.encode(points) if points else b""), len(points)

    def _write(self, body: bytes) -> None:
        rows = []
        for number, line in enumerate(body.splitlines(), 1):
            try:
                measurement, series, t_ms, tags, fields = json.loads(line)
                rows.append((str(measurement), str(series), int(t_ms), json.dumps(tags), json.dumps(fields)))
            except (ValueError, TypeError) as exc:
                raise SinkRejected(f"embedded store: line {number} is not a point ({exc})", 400, str(exc)) from exc
        with self._lock:
            try:
                with self._db:
                    self._db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?)", rows)
            except sqlite3.Error as exc:
                raise SinkUnavailable(f"embedded store {self._path}: {exc}") from exc

    def prune(self, raw_days: int, now_ms: int) -> int:
        """Delete raw feature points older than ``raw_days`` before ``now_ms``; rollups and events stay."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "DELETE FROM points WHERE measurement = 'features' AND t_ms < ?", (now_ms - raw_days * 86_400_000,)
            )
            return int(cursor.rowcount)

    def count(self, measurement: str) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM points WHERE measurement = ?", (measurement,)).fetchone()
            return int(n)

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()
