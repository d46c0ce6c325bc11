"""Embedded store: one SQLite file, the same points as InfluxDB, for ``kinetic demo`` and single-user installs.

A point is keyed by (measurement, series, time) and a rewrite replaces it, as InfluxDB does, so a
redelivered message is harmless. One dedicated connection is used from a worker thread at a time.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ingest.errors import SinkUnavailable
from ingest.store.points import Point

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


class EmbeddedSink:
    """PointSink on SQLite."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise SinkUnavailable(f"embedded store {path}: {exc}") from exc

    async def write(self, points: list[Point]) -> None:
        if points:
            await asyncio.to_thread(self._write, points)

    def _write(self, points: list[Point]) -> None:
        rows = [(p.measurement, p.series, p.t_ms, json.dumps(dict(p.tags)), json.dumps(dict(p.fields))) for p in points]
        with self._lock:
            try:
                with self._db:
                    self._db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?)", rows)
            except sqlite3.Error as exc:
                raise SinkUnavailable(f"embedded store {self._path}: {exc}") from exc

    def rows(self, measurement: str, **tags: str) -> list[dict[str, Any]]:
        """Points of one measurement whose tags match, in time order: ``{"t_ms":..., **tags, **fields}``."""
        with self._lock:
            cursor = self._db.execute(
                "SELECT t_ms, tags, fields FROM points WHERE measurement = ? ORDER BY t_ms", (measurement,)
            )
            out = []
            for t_ms, tag_json, field_json in cursor:
                row_tags = json.loads(tag_json)
                if all(row_tags.get(k) == v for k, v in tags.items()):
                    out.append({"t_ms": t_ms, **row_tags, **json.loads(field_json)})
            return out

    def count(self, measurement: str) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM points WHERE measurement = ?", (measurement,)).fetchone()
            return int(n)

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()
