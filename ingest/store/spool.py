"""A bounded on-disk FIFO of encoded batches between MQTT and the database.

The bridge appends every batch here (one SQLite transaction, WAL, ``synchronous=FULL``: on disk before the
commit returns), only then acknowledges the MQTT messages it came from, and a drainer writes the spool to
the database in order, removing what was written. So a database outage fills the spool instead of losing
data, and a crash (kill -9) loses nothing: what was acknowledged is on disk, what was not is redelivered
by the broker (QoS 1, persistent session).

When the spool holds ``max_bytes``, ``append`` raises SpoolFull: the bridge stops acknowledging and
consuming (the broker keeps the messages for its persistent session, up to its own queue limit) and says
so in a log line and a counter, until the drainer makes room.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import ConfigError, IngestError
from ingest.settings import BridgeSettings
from ingest.store.private import private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    points INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta_part (key TEXT NOT NULL, part TEXT NOT NULL, value TEXT,  -- NULL: removed
                                      PRIMARY KEY (key, part)) WITHOUT ROWID;
"""


SPOOL_PAGE_BYTES = 16_384


class SpoolFull(IngestError):
    """The spool holds its maximum; nothing more is accepted until the drainer makes room."""


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    id: int
    points: int
    body: bytes


class Spool:
    """FIFO of byte batches in one SQLite file. Thread-safe; callers run it off the event loop."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(private_file(path), check_same_thread=False, isolation_level=None)
        # A batch is a few hundred kB: in pages of 16 KiB instead of SQLite's 4 KiB, writing, reading and deleting it
        # handles a quarter of the pages (bench/bridge_throughput.py). Takes effect only in a new, empty file (before
        # WAL mode is set); a spool made before keeps its page size and works as it did.
        self._db.execute(f"PRAGMA page_size={SPOOL_PAGE_BYTES}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.recount()

    def recount(self) -> None:
        """Count what the file holds again: another process (``kinetic data delete``) may have removed entries, which
        this object's counts would otherwise still hold."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(points), 0), COALESCE(SUM(LENGTH(body)), 0) FROM spool"
            )
            self.batches, self.points, self.bytes = (int(v) for v in row.fetchone())

    def append(
        self,
        body: bytes,
        points: int,
        state: dict[str, str] | None = None,
        parts: Mapping[str, Mapping[str, str | None]] | None = None,
    ) -> int:
        """Add a batch, and with it (same transaction) any state that must stay consistent with what was spooled:
        ``state`` replaces whole values; ``parts`` changes members of a value that is a JSON object (key -> member
        -> its JSON, or None to remove it), so that a large state is written by what changed (``state`` reads the
        object back whole)."""
        with self._lock:
            if self.bytes and self.bytes + len(body) > self.max_bytes:
                raise SpoolFull(f"spool {self.path} holds {self.bytes} bytes (max {self.max_bytes})")
            self._db.execute("BEGIN")
            try:
                cursor = self._db.execute("INSERT INTO spool (points, body) VALUES (?, ?)", (points, body))
                for key, value in (state or {}).items():
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
                for key, members in (parts or {}).items():
                    self._db.executemany(
                        "INSERT OR REPLACE INTO meta_part VALUES (?, ?, ?)",
                        [(key, part, member) for part, member in members.items()],
                    )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            self.batches += 1
            self.points += points
            self.bytes += len(body)
            return int(cursor.lastrowid or 0)

    def state(self, key: str) -> str | None:
        """The value saved under ``key``: as ``append``'s ``state`` wrote it, with the members its ``parts`` wrote
        since set into it (then a JSON object); None if nothing was saved."""
        with self._lock:
            return self._state(key)

    def _state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        base = None if row is None else str(row[0])
        members = self._db.execute("SELECT part, value FROM meta_part WHERE key = ?", (key,)).fetchall()
        if not members:
            return base
        whole: dict[str, object] = json.loads(base) if base else {}
        for part, value in members:
            if value is None:
                whole.pop(str(part), None)
            else:
                whole[str(part)] = json.loads(value)
        return json.dumps(whole)

    def peek(self, max_points: int, after_id: int = 0) -> list[SpoolEntry]:
        """The oldest entries after ``after_id``, at least one, until ``max_points`` would be exceeded."""
        with self._lock:
            out: list[SpoolEntry] = []
            total = 0
            rows = self._db.execute("SELECT id, points, body FROM spool WHERE id > ? ORDER BY id", (after_id,))
            for row_id, points, body in rows:
                if out and total + points > max_points:
                    break
                out.append(SpoolEntry(int(row_id), int(points), bytes(body)))
                total += points
            return out

    def remove(self, entries: list[SpoolEntry]) -> None:
        if not entries:
            return
        ids = [e.id for e in entries]
        marks = ",".join("?" * len(ids))
        with self._lock:
            # A removal lost to a power cut only means rewriting points the database already has (harmless),
            # so it need not wait for fsync; appends do (the MQTT acknowledgement depends on them).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN")
            # Count what is really deleted, so the counters stay right even if an entry was removed before.
            row = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(points), 0), COALESCE(SUM(LENGTH(body)), 0) FROM spool "
                f"WHERE id IN ({marks})",
                ids,
            ).fetchone()
            self._db.execute(f"DELETE FROM spool WHERE id IN ({marks})", ids)
            self._db.execute("COMMIT")
            self._db.execute("PRAGMA synchronous=FULL")
            self.batches -= int(row[0])
            self.points -= int(row[1])
            self.bytes -= int(row[2])

    def entries(self, matches: Callable[[bytes], bool]) -> list[SpoolEntry]:
        """Every entry whose body ``matches``, oldest first (a sender's queue: one message per entry)."""
        with self._lock:
            rows = self._db.execute("SELECT id, points, body FROM spool ORDER BY id").fetchall()
        return [SpoolEntry(int(i), int(n), bytes(body)) for i, n, body in rows if matches(bytes(body))]

    def lines(self, matches: Callable[[bytes], bool]) -> list[bytes]:
        """Every spooled line (one point each, in the sink's format) for which ``matches`` is true, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM spool ORDER BY id").fetchall()
        return [line for (body,) in rows for line in bytes(body).splitlines() if matches(line)]

    def erase(
        self,
        matches: Callable[[bytes], bool],
        states: Mapping[str, Callable[[str | None], str | None]] | None = None,
    ) -> int:
        """Remove every line for which ``matches`` is true, and rewrite the named state values (``None``: remove
        the key), in one transaction; returns how many lines went (data rights: ``kinetic data delete``).

        Another process may do this while a bridge drains the spool: entries are rewritten in place, never removed
        (an emptied one is written as nothing), so the bridge's count of batches stays right; its count of points
        and bytes stays high by what was erased until it restarts. A batch the drainer had already read is written
        as it was read: erase the store after the spool."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                erased = erased_bytes = 0
                for row_id, body in self._db.execute("SELECT id, body FROM spool").fetchall():
                    lines = bytes(body).splitlines(keepends=True)
                    kept = [line for line in lines if not matches(line.rstrip(b"\n"))]
                    if len(kept) == len(lines):
                        continue
                    new_body = b"".join(kept)
                    self._db.execute(
                        "UPDATE spool SET body = ?, points = points - ? WHERE id = ?",
                        (new_body, len(lines) - len(kept), row_id),
                    )
                    erased += len(lines) - len(kept)
                    erased_bytes += len(body) - len(new_body)
                for key, edit in (states or {}).items():
                    value = edit(self._state(key))  # written back whole: its parts are in it
                    self._db.execute("DELETE FROM meta_part WHERE key = ?", (key,))
                    if value is None:
                        self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
                    else:
                        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            self.points -= erased
            self.bytes -= erased_bytes
            return erased

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_spool(settings: BridgeSettings, path: Path | None = None) -> Spool:
    """The spool the settings describe; a path that cannot be used is a ConfigError naming the setting."""
    target = path or settings.spool_path
    try:
        return Spool(target, int(settings.spool_max_mb * 1_000_000))
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"setting KINETIC_BRIDGE__SPOOL_PATH: cannot use {target} as the spool ({exc})") from exc


def line_wearer(line: bytes) -> str | None:
    """The ``wearer`` tag of one spooled point, in either format Kinetic's sinks write: the embedded store's JSON
    array ``[measurement, series, t_ms, tags, fields]`` or InfluxDB line protocol, whose series key runs to the first
    unescaped space and whose tags follow the measurement after unescaped commas."""
    if line.startswith(b"["):
        try:
            tags = json.loads(line)[3]
        except (ValueError, IndexError, TypeError):
            return None
        wearer = tags.get("wearer") if isinstance(tags, dict) else None
        return wearer if isinstance(wearer, str) else None
    parts: list[bytes] = []
    start, i = 0, 0
    while i < len(line):
        byte = line[i]
        if byte == 0x5C:  # a backslash escapes the next byte
            i += 2
            continue
        if byte in (0x2C, 0x20):  # ',' ends a tag, ' ' the series key
            parts.append(line[start:i])
            start = i + 1
            if byte == 0x20:
                break
        i += 1
    for tag in parts[1:]:  # parts[0] is the measurement
        if tag.startswith(b"wearer="):
            return tag[len(b"wearer=") :].decode("utf-8", "replace")
    return None
