"""Repeated notifications: the same GATT notification delivered twice. Pure (time from the data).

BlueZ with bleak is known to deliver every notification twice, about 1 ms apart, after a reconnection (two
subscriptions to one characteristic). A repeat is byte for byte the notification it repeats; what keeps a real
notification from being taken for one depends on the profile:

- a sample counter (Kinetic DIY) or a device timestamp (Polar PMD) in every notification: no two real ones are
  equal, so the same bytes as any of the last ``memory`` notifications are a repeat, however late it comes. (The
  counter or timestamp alone would not do: a device clock set back gives timestamps already seen to new samples.)
- nothing but the reading (InfiniTime, micro:bit, Heart Rate Measurement): the same bytes as a notification
  received less than ``window_ms`` of host time before. The window is half the profile's notification period, so a
  real reading is only taken for a repeat when it is identical to one received less than half a period before
  (two readings that a slow connection interval delivered together); docs/collector.md says how likely that is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class RepeatFilter(Generic[K]):
    """Remembers the keys of the last ``memory`` notifications taken (and, with ``window_ms``, when they arrived).

    ``is_repeat(key, received_ms)`` is True for a repeat (drop it; counted in ``repeats``); otherwise the
    notification is taken and remembered. A repeat is timed from the notification it repeats, so a third copy is
    a repeat too. Host time may step back (NTP): the window is measured both ways."""

    window_ms: int | None = None
    memory: int = 64
    repeats: int = 0
    _last_ms: dict[K, int] = field(default_factory=dict)
    _order: deque[tuple[K, int]] = field(default_factory=deque)

    def is_repeat(self, key: K, received_ms: int) -> bool:
        taken_ms = self._last_ms.get(key)
        if taken_ms is not None and (self.window_ms is None or abs(received_ms - taken_ms) < self.window_ms):
            self.repeats += 1
            return True
        self._last_ms[key] = received_ms
        self._order.append((key, received_ms))
        if len(self._order) > self.memory:
            old_key, old_ms = self._order.popleft()
            if self._last_ms.get(old_key) == old_ms:
                del self._last_ms[old_key]
        return False
