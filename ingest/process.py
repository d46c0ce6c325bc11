"""Running a service in this process: until SIGINT or SIGTERM asks it to stop, and as the only one of its kind with
its settings (``one_instance``)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from ingest.errors import IngestError


class AlreadyRunning(IngestError):
    """Another process runs this service with the same settings (it holds the lock on their file)."""


def run_until_signal(factory: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run a service; SIGINT/SIGTERM set ``stop`` so it flushes and returns cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await factory(stop)

    asyncio.run(runner())


def lock_path(path: Path) -> Path:
    """The lock file of a service's own file (``state.sqlite`` -> ``state.sqlite.lock``)."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def one_instance(path: Path, service: str, setting: str) -> Iterator[None]:
    """Hold, while the block runs, an exclusive lock beside ``path``, the file the service owns (the alert service's
    state, the bridge's spool); raises AlreadyRunning in one line when another process holds it. Two services with
    the same settings would otherwise share that file and the MQTT client id: the broker drops the older connection
    for the newer one, which reconnects at once, and so on, for as long as both run.

    An advisory ``flock`` (POSIX) on ``<path>.lock``, which holds the holder's pid for the message: the kernel drops
    it when the process ends, however it ends (kill -9 too), so there is nothing stale to clean up. Readers of the
    file (``kinetic data export``) take no lock. It guards one host (and one mount of the file): a second service
    elsewhere with the same client id is not seen. ``setting`` names where the path comes from."""
    lock = lock_path(path)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IngestError(f"{service}: cannot create the lock file {lock} ({exc.strerror or exc}; {setting})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise AlreadyRunning(
                f"{service} is already running with these settings (process {holder or '?'} holds {lock}): stop it "
                f"first, or give this one its own {setting}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
