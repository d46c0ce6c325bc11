"""The cyclic garbage collector's policy for Kinetic's long-running services (``kinetic alerts``, ``kinetic bridge``).

CPython frees most objects by reference counting; its cyclic collector only looks for reference cycles. A *full*
collection (generation 2) walks every object the collector tracks, and every thread of the process waits while it
runs. A service holding 10,000 wearers' states tracks some 310,000 objects (``bench.gc_pause``: a full pass over them
takes about 0.1 s on an idle machine), and with CPython's default thresholds (700, 10, 10: a full pass after every
tenth generation-1 pass, once the objects new to generation 2 since the last full pass are a quarter of those there
before) ``kinetic alerts`` made 8 full passes in a 70-s stage of ``bench/alerts_scale.py`` at 10,000 wearers, each
holding the service 0.26 s at p50 and up to 1.1 s on a loaded machine (issue 18 item 1: ``gc_ms`` in
``alerts.latency``'s summary), the largest single wait a prompt met.

``settle_heap`` is called once the service has started and restored its state:
- ``gc.freeze()`` moves every object tracked so far (the modules, classes, schemas and restored states of start-up)
  to the permanent generation, which no later collection walks (Python's documentation of ``gc.freeze``: for
  objects that live as long as the process); reference counting still frees them;
- the generation-2 threshold becomes ``FULL_EVERY_GEN1`` (1,000 instead of 10): young cycles are still collected as
  often as before (generations 0 and 1 unchanged), and full passes come a hundred times less often (about every
  15 minutes at 10,000 wearers with 10-s batches: 115 generation-1 passes in a 70-s stage and its wait of some
  40 s), still paced by the process's allocations, so a growing heap is still walked.

Paced by allocations, a full pass waits long at low traffic: cyclic garbage that reached generation 2 (a wearer
forgotten, a reconnection's objects) stays until a thousand generation-1 passes have come, hours or days on a quiet
installation. So a service also makes one full pass when it has been idle (no message) for ``IDLE_COLLECT_S``, once
per idle spell (``IdleCollection``): nobody waits for that pause, and a busy service never makes it. The alert
service's tick asks it; the bridge runs ``collect_when_idle``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_LOGGER = logging.getLogger(__name__)

FULL_EVERY_GEN1 = 1000  # generation-1 passes before a full one (CPython's default: 10)
IDLE_COLLECT_S = 60.0  # idle this long (no message), a service makes one full pass (once per idle spell)
IDLE_POLL_S = 5.0  # how often the bridge looks (collect_when_idle); the alert service's tick looks every 0.1 s


def settle_heap(name: str) -> None:
    """Collect once, freeze what start-up built, and space full collections ``FULL_EVERY_GEN1`` generation-1 passes
    apart (module docstring). ``name``: the service, for the log line."""
    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_EVERY_GEN1)
    _LOGGER.info(
        "%s: %d objects of start-up frozen out of the collector's passes; full passes every %d generation-1 passes",
        name,
        gc.get_freeze_count(),
        FULL_EVERY_GEN1,
    )


@dataclass(slots=True)
class IdleCollection:
    """When a full collection is due: once per idle spell, ``idle_s`` after the last sign of activity (module
    docstring). ``activity`` is any value that changes with each message (a count of messages, the time of the last
    one); times are seconds on a monotonic clock, given by the caller. Pure but for ``collect``."""

    idle_s: float = field(default_factory=lambda: IDLE_COLLECT_S)
    _activity: object = None
    _since_s: float | None = None  # when ``activity`` was first seen as it is now
    _collected: bool = False  # this spell's pass made

    def due(self, now_s: float, activity: object) -> bool:
        """True once per idle spell: the first time ``activity`` has stayed as it is for ``idle_s``."""
        if self._since_s is None or activity != self._activity:
            self._activity, self._since_s, self._collected = activity, now_s, False
            return False
        if self._collected or now_s - self._since_s < self.idle_s:
            return False
        self._collected = True
        return True

    def collect(self, now_s: float, activity: object, name: str) -> bool:
        """A full collection (``gc.collect()``) if one is ``due``; ``name``: the service, for the debug line. Whether
        it ran."""
        if not self.due(now_s, activity):
            return False
        started = time.perf_counter()
        found = gc.collect()
        _LOGGER.debug(
            "%s: idle for %.0f s, a full collection: %d objects unreachable, %.3f s",
            name,
            self.idle_s,
            found,
            time.perf_counter() - started,
        )
        return True


async def collect_when_idle(
    name: str,
    activity: Callable[[], object],
    collection: IdleCollection | None = None,
    poll_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until cancelled: every ``poll_s`` (None: ``IDLE_POLL_S``), a full collection when the service has been idle
    long enough (``IdleCollection``); ``activity`` reads the value that changes with each message (the bridge: its
    count of messages). For a service without a tick of its own."""
    collection = IdleCollection() if collection is None else collection
    every_s = IDLE_POLL_S if poll_s is None else poll_s
    while True:
        await asyncio.sleep(every_s)
        collection.collect(clock(), activity(), name)
