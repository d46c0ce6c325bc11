"""Files that hold health data (the embedded store, the spools and queues, the alert state) are the owner's only."""

from __future__ import annotations

import contextlib
import os
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
