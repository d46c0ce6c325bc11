"""A demo's spool belongs to its database. The fresh-clone pass found that ``kinetic demo`` run again after its
database was removed (the spool beside it kept) stored the day's per-second frames but not its minute rollups: the
spool's rollup state still said those minutes were folded, so the replayed frames were taken as repeats. A new
database must start from a new spool: both runs store the same minutes."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.processes import Proc

pytestmark = pytest.mark.integration

DAY = f"""
start: {datetime(2026, 11, 10, 9, 0, tzinfo=UTC).isoformat()}
wearers:
  - wearer: ann
    placement: thigh
    segments: [walk 3m, sit 20m, walk 3m]
"""


def minutes_stored(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM points WHERE measurement = 'features_1m'").fetchone()
    return int(count)


def play(tmp_path: Path, scenario: Path, db: Path, name: str) -> None:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    demo = Proc(
        ["demo", "--scenario", str(scenario), "--speed", "0", "--json", "--db", str(db)],
        environment,
        tmp_path / f"{name}.log",
    )
    assert demo.process.wait(300) == 0, demo.text()


def test_a_demo_on_a_removed_database_stores_every_minute_again(tmp_path: Path) -> None:
    scenario = tmp_path / "day.yaml"
    scenario.write_text(DAY)
    db = tmp_path / "demo.sqlite"
    play(tmp_path, scenario, db, "first")
    first = minutes_stored(db)
    assert first >= 26  # 26 minutes of one thigh sensor
    for leftover in tmp_path.glob("demo.sqlite*"):
        leftover.unlink()  # the database goes; demo-spool.sqlite stays, as a newcomer starting over leaves it
    assert (tmp_path / "demo-spool.sqlite").exists()
    play(tmp_path, scenario, db, "second")
    assert minutes_stored(db) == first
