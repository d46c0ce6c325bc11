"""The bridge's drainer never loses a wake-up: a message spooled while the drainer looks at an empty spool is written
(session 7: the fuzz test hung on one entry left in the spool; the drainer cleared its wake-up event after looking,
so a message committed during the look was forgotten until the next one came, and ``Bridge.drain`` waited for ever).

The race is made certain here, not left to timing: the spool's first look blocks until the consumer's commit (spool
append + wake-up) has run on the event loop, then reports what it saw before: nothing."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from ingest.bridge import Bridge
from ingest.settings import BridgeSettings
from ingest.store.embedded import EmbeddedSink
from ingest.store.points import Point
from ingest.store.spool import Spool, SpoolEntry
from ingest.wire import Topics
from tests.support.publisher import PublishedMessages

POINT = Point("posture_1s", (("device", "thigh"), ("wearer", "ann")), {"sitting": 1}, 1_796_630_400_000)


class RacingSpool(Spool):
    """A spool whose first look is overtaken by a commit: the look saw an empty spool, the commit lands before it
    returns (what a busy two-core machine does now and then)."""

    def __init__(self, path: Path, commit: asyncio.Future[None], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(path, 10_000_000)
        self.looks = 0
        self._commit = commit
        self._loop = loop
        self.committed = threading.Event()

    def peek(self, max_points: int, after_id: int = 0) -> list[SpoolEntry]:
        self.looks += 1
        seen = super().peek(max_points, after_id)
        if self.looks == 1:
            assert seen == []
            self._loop.call_soon_threadsafe(self._commit.set_result, None)
            assert self.committed.wait(10), "the consumer's commit did not run"
        return seen


def test_a_message_spooled_while_the_drainer_looks_is_written(tmp_path: Path) -> None:
    async def run() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        commit: asyncio.Future[None] = loop.create_future()
        spool = RacingSpool(tmp_path / "spool.sqlite", commit, loop)
        sink = EmbeddedSink(tmp_path / "k.sqlite")
        bridge = Bridge(
            topics=Topics("kinetic"),
            sink=sink,
            spool=spool,
            settings=BridgeSettings(spool_path=tmp_path / "spool.sqlite"),
        )
        drainer = asyncio.create_task(bridge._drain(PublishedMessages()))
        try:
            await commit  # the drainer is inside its first look, which found nothing
            await bridge._commit(sink.encode([POINT]), 1)  # spooled, and the drainer woken
            spool.committed.set()
            # a hang guard, not a timing claim: before the fix this never finished
            await asyncio.wait_for(bridge.drain(), 30)
            return bridge.counters.points_written, spool.points, sink.count("posture_1s")
        finally:
            bridge._closing = True
            bridge._spooled.set()
            await asyncio.wait_for(drainer, 30)
            await sink.aclose()

    written, left, stored = asyncio.run(run())
    assert (written, left, stored) == (1, 0, 1)
