from __future__ import annotations

from pathlib import Path

import pytest

from ingest.store.spool import SPOOL_PAGE_BYTES, Spool, SpoolFull


def test_first_in_first_out_and_peek_respects_the_point_budget(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 10_000)
    for i in range(5):
        spool.append(f"batch{i}\n".encode(), 10)
    first = spool.peek(25)
    assert [e.body for e in first] == [b"batch0\n", b"batch1\n"]
    spool.remove(first)
    assert [e.body for e in spool.peek(1000)] == [b"batch2\n", b"batch3\n", b"batch4\n"]
    assert (spool.batches, spool.points) == (3, 30)
    # one entry bigger than the budget still comes out alone
    assert len(spool.peek(1)) == 1


def test_what_was_appended_survives_a_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 10_000)
    spool.append(b"a\n", 1)
    spool.append(b"b\n", 2)
    spool.close()  # (a crash leaves the same: every append is its own durable transaction)
    again = Spool(tmp_path / "s.sqlite", 10_000)
    assert (again.batches, again.points, again.bytes) == (2, 3, 4)
    assert [e.body for e in again.peek(10)] == [b"a\n", b"b\n"]


def test_a_full_spool_refuses_and_says_so(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 100)
    spool.append(b"x" * 60, 1)
    with pytest.raises(SpoolFull, match="holds 60 bytes"):
        spool.append(b"y" * 60, 1)
    spool.remove(spool.peek(10))
    spool.append(b"y" * 60, 1)  # room again
    assert spool.batches == 1


def test_removing_twice_keeps_the_counters_right(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 10_000)
    spool.append(b"a\n", 5)
    entries = spool.peek(10)
    spool.remove(entries)
    spool.remove(entries)
    assert (spool.batches, spool.points, spool.bytes) == (0, 0, 0)


def test_a_new_spool_has_large_pages_and_one_made_before_keeps_its_own(tmp_path: Path) -> None:
    """New spools use SPOOL_PAGE_BYTES pages (fewer pages per batch); a spool file made with SQLite's default pages
    (before this) opens with its page size and keeps what it held."""
    import sqlite3

    new = Spool(tmp_path / "new.sqlite", 10_000)
    assert new._db.execute("PRAGMA page_size").fetchone()[0] == SPOOL_PAGE_BYTES
    old_path = tmp_path / "old.sqlite"
    db = sqlite3.connect(old_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(
        "CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, points INTEGER NOT NULL, body BLOB NOT NULL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO spool (points, body) VALUES (1, x'610a');"
    )
    db.commit()
    db.close()
    old = Spool(old_path, 10_000)
    assert old._db.execute("PRAGMA page_size").fetchone()[0] == 4096
    old.append(b"b\n", 1)
    assert [e.body for e in old.peek(10)] == [b"a\n", b"b\n"]


def test_a_state_in_parts_reads_back_whole_and_an_erase_writes_it_whole(tmp_path: Path) -> None:
    """The bridge saves its rollup by the devices a batch touched (``parts``); ``state`` reads the object whole, over
    a value saved whole before (a spool of an earlier version), and ``erase`` edits the whole and writes it back."""
    import json

    spool = Spool(tmp_path / "s.sqlite", 10_000)
    spool.append(b"a\n", 1, {"rollup": json.dumps({"ann/d1": {"frames": 1}, "bob/d1": {"frames": 2}})})
    spool.append(b"b\n", 1, parts={"rollup": {"ann/d1": json.dumps({"frames": 5}), "cid/d1": '{"frames": 1}'}})
    spool.append(b"c\n", 1, parts={"rollup": {"bob/d1": None}})
    assert json.loads(spool.state("rollup") or "") == {"ann/d1": {"frames": 5}, "cid/d1": {"frames": 1}}
    assert spool.state("consent") is None
    spool.close()
    again = Spool(tmp_path / "s.sqlite", 10_000)  # a restart reads the same
    assert json.loads(again.state("rollup") or "") == {"ann/d1": {"frames": 5}, "cid/d1": {"frames": 1}}

    def without_ann(state: str | None) -> str | None:
        whole = json.loads(state or "{}")
        whole.pop("ann/d1")
        return json.dumps(whole)

    again.erase(lambda line: False, {"rollup": without_ann})
    assert json.loads(again.state("rollup") or "") == {"cid/d1": {"frames": 1}}
    assert again._db.execute("SELECT COUNT(*) FROM meta_part").fetchone()[0] == 0
