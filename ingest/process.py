"""Running a service in this process until SIGINT or SIGTERM asks it to stop."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


def run_until_signal(factory: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run a service; SIGINT/SIGTERM set ``stop`` so it flushes and returns cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await factory(stop)

    asyncio.run(runner())
