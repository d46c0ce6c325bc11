"""The audit trail (issue 20, item 4): who read which wearer's data, when, through which of Kinetic's read paths.

One SQLite file apart from the data (``KINETIC_AUDIT__PATH``, mode 600), append-only: the database itself refuses to
change or remove an entry (triggers), except removing entries older than the retention (``KINETIC_AUDIT__
RETENTION_DAYS``), which each new entry does. An entry: the time (Unix ms, the reader's clock), the actor (who read:
``KINETIC_AUDIT__ACTOR``, else the operating-system user and host of the process), the action (``report weekly``,
``data export``, ...), the wearer and a short detail (a week, an output folder). A wearer's entries are part of
``kinetic data export`` (a person can see who looked at their data); ``kinetic data delete`` keeps them (the record of
who read what outlives the data read; say so in a record of processing: docs/privacy.md).
"""

from __future__ import annotations

import getpass
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ingest.settings import AuditSettings
from ingest.store.private import private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    at_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, wearer TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_wearer ON audit (wearer, at_ms);
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_only_expired_go BEFORE DELETE ON audit
WHEN OLD.at_ms >= (SELECT value FROM audit_meta WHERE key = 'expired_before_ms')
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only until their retention ends'); END;
"""
MAX_DETAIL = 500
DAY_MS = 86_400_000


def default_actor() -> str:
    """``user@host`` of this process: who ran the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class AuditLog:
    """Append-only entries in ``path``; ``retention_days`` > 0. Thread-safe."""

    def __init__(self, path: Path, retention_days: int) -> None:
        self.path = path
        self.retention_ms = retention_days * DAY_MS
        self._lock = threading.Lock()
        self._db = sqlite3.connect(private_file(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO audit_meta VALUES ('expired_before_ms', 0)")

    def record(self, actor: str, action: str, wearer: str, detail: str = "", at_ms: int | None = None) -> None:
        """Add one entry (``at_ms``: now by default), and remove the entries past the retention."""
        now = round(time.time() * 1000) if at_ms is None else at_ms
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cutoff = now - self.retention_ms
                self._db.execute("UPDATE audit_meta SET value = ? WHERE key = 'expired_before_ms'", (cutoff,))
                self._db.execute("DELETE FROM audit WHERE at_ms < ?", (cutoff,))
                self._db.execute(
                    "INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                    (now, actor[:200], action[:100], wearer, detail[:MAX_DETAIL]),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise

    def for_wearer(self, wearer: str) -> list[dict[str, Any]]:
        """The wearer's entries, oldest first: ``{time, actor, action, detail}`` (time in Unix ms)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT at_ms, actor, action, detail FROM audit WHERE wearer = ? ORDER BY at_ms, rowid", (wearer,)
            ).fetchall()
        return [{"time": t, "actor": a, "action": act, "detail": d} for t, a, act, d in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def record_read(settings: AuditSettings, action: str, wearer: str, detail: str = "") -> None:
    """One entry in the configured trail, by the configured actor (or this process's user@host)."""
    log = AuditLog(settings.path, settings.retention_days)
    try:
        log.record(settings.actor or default_actor(), action, wearer, detail)
    finally:
        log.close()


def wearer_entries(settings: AuditSettings) -> AuditLog | None:
    """The trail if there is one here (None: nobody read anything through this installation yet)."""
    return AuditLog(settings.path, settings.retention_days) if settings.path.is_file() else None
