"""The audit trail (issue 20, item 4): append-only entries of who read which wearer's data; the database refuses to
change or remove one until its retention ends; owner-only."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from ingest.audit import DAY_MS, AuditLog

T0 = 1_796_000_000_000


def test_entries_are_kept_in_order_per_wearer_and_expire_after_the_retention(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite", retention_days=30)
    log.record("physio@clinic", "report weekly", "ann", "2026-W48", at_ms=T0)
    log.record("ann@laptop", "data export", "ann", "export/", at_ms=T0 + 1000)
    log.record("physio@clinic", "report weekly", "bob", "2026-W48", at_ms=T0 + 2000)
    assert [(e["actor"], e["action"]) for e in log.for_wearer("ann")] == [
        ("physio@clinic", "report weekly"),
        ("ann@laptop", "data export"),
    ]
    # 31 days on, a new entry removes what is past the retention
    log.record("physio@clinic", "report weekly", "bob", "2026-W52", at_ms=T0 + 31 * DAY_MS)
    assert log.for_wearer("ann") == [] and [e["detail"] for e in log.for_wearer("bob")] == ["2026-W52"]
    log.close()
    assert stat.S_IMODE((tmp_path / "audit.sqlite").stat().st_mode) == 0o600


def test_the_database_refuses_to_change_or_remove_an_entry(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path, retention_days=30)
    log.record("physio@clinic", "report weekly", "ann", "2026-W48", at_ms=T0)
    log.close()
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET actor = 'nobody'")
    with pytest.raises(sqlite3.IntegrityError, match="until their retention ends"):
        db.execute("DELETE FROM audit WHERE wearer = 'ann'")
    db.close()
    assert len(AuditLog(path, retention_days=30).for_wearer("ann")) == 1
