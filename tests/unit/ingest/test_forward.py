"""The senders' store-and-forward queue (ingest/forward.py) when another process erases entries under it
(`kinetic data delete` while a collector or `kinetic phone` runs): the sender's counts follow the file, a full queue
does not spin, and a stop does not wait for entries that are gone."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.forward import Forwarder, entry
from ingest.store.spool import Spool


@dataclass
class Counts:
    batches_published: int = 0
    dropped_batches: int = 0


class Publisher:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append(topic)


def test_entries_erased_by_another_process_free_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite"
    payload = b"x" * 1000
    size = len(entry("kinetic/v1/zoe/zoe-phone/features", payload, False))
    counts = Counts()
    sender = Forwarder(Spool(path, 9 * size), counts, "phone")
    for _ in range(9):
        sender.put("kinetic/v1/zoe/zoe-phone/features", payload, False, 1)
    assert sender.spool.batches == 9
    # kinetic data delete, in another process, removes zoe's entries
    other = Spool(path, 9 * size)
    other.remove(other.entries(lambda body: body.startswith(b"kinetic/v1/zoe/")))
    other.close()
    started = time.monotonic()
    sender.put("kinetic/v1/ann/ann-phone/features", payload, False, 1)  # full by stale counts: must not spin
    assert time.monotonic() - started < 5
    assert sender.spool.batches == 1 and counts.dropped_batches == 0

    async def stop_at_once() -> list[str]:
        publisher, stop = Publisher(), asyncio.Event()
        stop.set()
        async with asyncio.timeout(5):  # what is there is sent, and the stop does not wait for erased entries
            await sender.send(publisher, stop)
        return publisher.sent

    assert asyncio.run(stop_at_once()) == ["kinetic/v1/ann/ann-phone/features"]
    assert sender.spool.batches == 0
