"""Deliver prompts on HTTP channels: each delivery is its own task, retried with backoff for the prompt's time to
live, bounded per channel. A channel that is down delays only its own deliveries: other channels and the alert
engine never wait for it (the engine only submits). Failures are counted, logged once when a channel goes down
and once when it recovers, and reported to ``on_result`` (the outbox; expired and rejected ones are
dead-lettered by the service).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from alerts.channels.base import Channel, ChannelError, ChannelRejected
from ingest.backoff import backoff_delay_s
from ingest.wire import PromptV1

_LOGGER = logging.getLogger(__name__)

# (the prompt, channel, outcome: done | rejected | expired | failed_attempt, the error or None)
ResultHook = Callable[[PromptV1, str, str, str | None], None]


@dataclass
class ChannelCounters:
    delivered: int = 0
    failed_attempts: int = 0
    rejected: int = 0
    expired: int = 0
    down: bool = False


class Dispatcher:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        on_result: ResultHook,
        *,
        concurrency: int = 16,
        timeout_s: float = 10.0,
        retry_base_s: float = 1.0,
        retry_cap_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channels = dict(channels)
        self._on_result = on_result
        self._limits = {name: asyncio.Semaphore(concurrency) for name in self.channels}
        self._timeout_s, self._retry_base_s, self._retry_cap_s = timeout_s, retry_base_s, retry_cap_s
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters = {name: ChannelCounters() for name in self.channels}

    def submit(self, prompt: PromptV1, channel: str, target: str | None, ttl_s: float) -> bool:
        """Start delivering; False if the channel is not configured here."""
        if channel not in self.channels:
            return False
        task = asyncio.create_task(self._deliver(prompt, channel, target, ttl_s), name=f"deliver-{channel}-{prompt.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def _deliver(self, prompt: PromptV1, name: str, target: str | None, ttl_s: float) -> None:
        channel, counters = self.channels[name], self.counters[name]
        deadline = self._clock() + ttl_s
        attempt = 0
        while True:
            async with self._limits[name]:
                try:
                    async with asyncio.timeout(self._timeout_s):
                        await channel.deliver(prompt, target)
                except ChannelRejected as exc:
                    counters.rejected += 1
                    _LOGGER.warning("%s: prompt %s rejected for good: %s", name, prompt.id, exc)
                    self._on_result(prompt, name, "rejected", str(exc))
                    return
                except (ChannelError, TimeoutError) as exc:
                    error = str(exc) or f"no answer within {self._timeout_s:g}s"
                else:
                    counters.delivered += 1
                    if counters.down:
                        counters.down = False
                        _LOGGER.warning("%s: delivering again", name)
                    self._on_result(prompt, name, "done", None)
                    return
            counters.failed_attempts += 1
            if not counters.down:
                counters.down = True
                _LOGGER.warning("%s: delivery failed, retrying with backoff: %s", name, error)
            self._on_result(prompt, name, "failed_attempt", error)
            delay = backoff_delay_s(attempt, base_s=self._retry_base_s, cap_s=self._retry_cap_s)
            attempt += 1
            if self._clock() + delay > deadline:
                counters.expired += 1
                _LOGGER.warning(
                    "%s: prompt %s expired undelivered after %d attempts: %s", name, prompt.id, attempt, error
                )
                self._on_result(prompt, name, "expired", error)
                return
            await asyncio.sleep(delay)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop retrying (what is pending stays in the outbox and is retried after a restart)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
