"""``ingest.textfile.CachedFile``: the one "read a file again when its stat changes" of the logins file, the phone
tokens and the consent record (h-mend12, item 4; each had its own copy). A change is seen whatever it keeps equal:
a rewrite of the same size within the same second (a time in seconds would miss it: the nanoseconds differ), an
atomic replace of the same size with the modification time set back (the inode differs); nothing changed costs one
stat and no read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.textfile import CachedFile, file_stamp


class Reads:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, path: Path) -> str:
        self.count += 1
        return path.read_text()


def test_a_change_of_the_same_size_within_the_same_second_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "logins.json"
    path.write_text("aaaa")
    reads = Reads()
    cached = CachedFile(path, reads, lambda: "none")
    assert (cached.get(), cached.get(), reads.count) == ("aaaa", "aaaa", 1)
    before = os.stat(path)

    path.write_text("bbbb")  # in place: the same inode and size, written within the same second
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, int(after.st_mtime)) == (before.st_ino, before.st_size, int(before.st_mtime))
    assert (cached.get(), reads.count) == ("bbbb", 2)

    replacement = tmp_path / "logins.json.new"
    replacement.write_text("cccc")
    os.replace(replacement, path)  # as an atomic writer does: a new inode, the same size and modification time
    os.utime(path, ns=(after.st_atime_ns, after.st_mtime_ns))
    stamp = file_stamp(path)
    assert stamp is not None and (stamp.size, stamp.mtime_ns) == (after.st_size, after.st_mtime_ns)
    assert (cached.get(), reads.count) == ("cccc", 3)


def test_an_unchanged_file_costs_one_stat_and_no_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("x")
    reads = Reads()
    cached = CachedFile(path, reads, lambda: "none")
    cached.get()
    stats: list[object] = []
    real_stat = os.stat

    def counting(target: object, *args: object, **kwargs: object) -> os.stat_result:
        stats.append(target)
        return real_stat(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("ingest.textfile.os.stat", counting)
    for _ in range(5):
        assert cached.get() == "x"
    assert (len(stats), reads.count) == (5, 1)


def test_no_file_a_new_file_a_failed_read_and_forget(tmp_path: Path) -> None:
    path = tmp_path / "consent.jsonl"
    reads = Reads()
    cached = CachedFile(path, reads, lambda: "none")
    assert (cached.get(), reads.count) == ("none", 0)
    path.write_text("grant")
    assert cached.get() == "grant"
    path.unlink()
    assert cached.get() == "none"

    def failing(_: Path) -> str:
        raise ValueError("not a record")

    broken = CachedFile(tmp_path / "broken", failing, lambda: "none")
    (tmp_path / "broken").write_text("?")
    for _ in range(2):  # nothing is cached from a failed read: each look tries again
        with pytest.raises(ValueError, match="not a record"):
            broken.get()

    path.write_text("one")
    assert cached.get() == "one" and reads.count == 2
    cached.forget()  # the owner's own write: read back at the next look even if the stat were the same
    assert cached.get() == "one" and reads.count == 3
