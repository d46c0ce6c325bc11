"""Files that hold health data (the embedded store, the spools and queues, the alert state) are the owner's only."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists with mode 600 (read and write by its owner only), its folder created; an existing
    file readable by others is tightened (when this user may: a file of another owner is left as it is). SQLite gives
    its ``-wal`` and ``-shm`` files the database file's mode. Returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_MODE))
    if path.stat().st_mode & 0o077:
        with contextlib.suppress(PermissionError):
            path.chmod(PRIVATE_MODE)
    return path


def replace_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 600: a temporary file beside it (mode 600 from the start),
    flushed to disk, then renamed over ``path`` (a reader sees the old file or the new one, never half of one).
    Raises OSError (the temporary file removed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
