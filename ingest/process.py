"""Running a service in this process: until SIGINT or SIGTERM asks it to stop, and as the only one of its kind with
its settings (``one_instance``)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
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
def one_instance(path: Path, service: str, setting: str, *, what: str | None = None) -> Iterator[None]:
    """Hold, while the block runs, an exclusive lock beside ``path``, the file the service owns (the alert service's
    state, the bridge's spool); raises AlreadyRunning in one line when another process holds it. Two services with
    the same settings would otherwise share that file and the MQTT client id: the broker drops the older connection
    for the newer one, which reconnects at once, and so on, for as long as both run.

    An advisory ``flock`` (POSIX) on ``<path>.lock``, which holds the holder's pid for the message: the kernel drops
    it when the process ends, however it ends (kill -9 too), so there is nothing stale to clean up. Readers of the
    file (``kinetic data export``) take no lock. It guards one host (and one mount of the file): a second service
    elsewhere with the same client id is not seen. ``setting`` names where the path comes from; ``what`` (default:
    ``service`` and "is already running with these settings") says what runs already."""
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
            runs = what or f"{service} is already running with these settings"
            raise AlreadyRunning(
                f"{runs} (process {holder or '?'} holds {lock}): stop it first, or give this one its own {setting}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


CLIENT_ID_SETTING = "KINETIC_MQTT__CLIENT_ID_PREFIX"
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


def client_lock_path(host: str, port: int, client_id: str, folder: Path) -> Path:
    """The lock file of a persistent MQTT session on this host: ``<folder>/<client id>@<host>_<port>.lock`` (the
    services use ``<data dir>/locks``, ``ingest.settings.user_data_dir``; characters other than letters, digits,
    '.', '_', '-' as '_')."""
    name = "@".join(_UNSAFE_IN_NAME.sub("_", part) for part in (client_id, f"{host}_{port}"))
    return folder / f"{name}.lock"


@contextlib.contextmanager
def one_client(host: str, port: int, client_id: str, folder: Path) -> Iterator[None]:
    """While the block runs, the only process on this host with a persistent MQTT session as ``client_id`` at the
    broker ``host``:``port`` (the collector, ``kinetic phone``, the bridge, the alert service: ``ingest.mqtt.serve``);
    a second one raises AlreadyRunning in one line naming the client id, the holder's process, the lock file and the
    setting to change. A broker keeps one connection per client id and drops the older one for the newer (MQTT 3.1.1,
    3.1.4-2): two such processes knock each other off, and both lose the messages queued meanwhile. The lock is
    ``one_instance``'s ``flock`` on ``client_lock_path`` (released by the kernel however the process ends: no stale
    lock after a crash)."""
    path = client_lock_path(host, port, client_id, folder)
    runs = f"a process already runs as MQTT client {client_id!r} at {host}:{port} (a persistent session)"
    with one_instance(path.with_suffix(""), client_id, CLIENT_ID_SETTING, what=runs):
        yield
