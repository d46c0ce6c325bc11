"""`kinetic data audit WEARER`: a wearer sees who read their data (issue 20, item 4), from the trail alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.audit import AuditLog

pytestmark = pytest.mark.integration
T0 = 1_764_000_000_000


def test_a_wearer_sees_who_read_their_data_and_no_one_elses(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    trail = AuditLog(path, 400)
    trail.record("dr.north@clinic", "report weekly", "ann", "2026-W48 for clinic physio-north", at_ms=T0)
    trail.record("operator@host", "data export", "bob", "/tmp/out", at_ms=T0 + 1)
    trail.record("ops@host", "dashboards push", "ann", "offered to clinic physio-north", at_ms=T0 + 2)
    trail.close()
    env = {"PATH": os.environ.get("PATH", ""), "KINETIC_AUDIT__PATH": str(path), "XDG_DATA_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "kinetic", "data", "audit", "ann"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("dr.north@clinic", "report weekly"),
        ("ops@host", "dashboards push"),
    ]
    assert rows[0]["at"] == "2025-11-24T16:00:00.000+00:00" and rows[0]["time"] == T0
    assert "2 audit entries for ann" in done.stderr
