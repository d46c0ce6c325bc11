"""How an emulator's notifications go out: each on its own schedule (``due_s``, seconds after the stream started),
and, to reproduce BlueZ after a reconnection, optionally every one of them twice (``duplicate_after_s`` apart).

A ``Pace`` decides what waiting until ``due_s`` means: the wall clock (``realtime``), not at all (``no_wait``), or a
test's own clock (a lockstep with the collector, so that the same stream always gives the same time stamps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bumble.device import Device
from bumble.gatt import Characteristic

Pace = Callable[[float], Awaitable[None]]


def realtime(speed: float = 1.0) -> Pace:
    """Wait for the wall clock: ``due_s`` after now (the stream's start), ``speed`` times faster."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def pace(due_s: float) -> None:
        await asyncio.sleep(max(0.0, start + due_s / speed - loop.time()))

    return pace


async def no_wait(due_s: float) -> None:
    """As fast as the radio takes them (yields to the loop once)."""
    await asyncio.sleep(0)


@dataclass
class Notifier:
    """Sends an emulator's notifications (and indications): every one twice, ``duplicate_after_s`` apart, when set
    (BlueZ's known behaviour after a reconnection: 0.001). ``sent`` counts the notifications that went on air to a
    subscriber, copies included; ``duplicates`` the copies."""

    device: Device
    duplicate_after_s: float | None = None
    sent: int = 0
    duplicates: int = 0

    async def notify(self, characteristic: Characteristic[Any], value: bytes, due_s: float, pace: Pace) -> None:
        await pace(due_s)
        await self._notify(characteristic, value)
        if self.duplicate_after_s is not None:
            await pace(due_s + self.duplicate_after_s)
            self.duplicates += await self._notify(characteristic, value)

    async def _notify(self, characteristic: Characteristic[Any], value: bytes) -> int:
        subscribers = sum(1 for s in self.device.gatt_server.subscribers.values() if s.get(characteristic.handle))
        await self.device.notify_subscribers(characteristic, value)
        self.sent += subscribers
        return subscribers

    async def indicate(self, characteristic: Characteristic[Any], value: bytes) -> None:
        await self.device.indicate_subscribers(characteristic, value)
        if self.duplicate_after_s is not None:
            await asyncio.sleep(self.duplicate_after_s)
            await self.device.indicate_subscribers(characteristic, value)
