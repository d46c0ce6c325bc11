"""A checkpoint holds the alert service only for its cut (issue 18 item 1): messages handled while it runs change
neither what it stores nor what it acknowledges, and a wearer forgotten meanwhile is not written back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pytest

import alerts.service
from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.service import AlertService
from alerts.state import AlertState
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, FeatureBatchV1, Topics, encode
from tests.support.prompts import numbered_prompt
from tests.support.publisher import QueuedClient

T0 = datetime.fromisoformat("2026-11-23T09:00:00+01:00")
SCENARIO = parse_scenario(
    "start: 2026-11-23T09:00:00+01:00\nwearers:\n"
    "  - wearer: ann\n    placement: thigh\n    segments: [sit 12m]\n"
    "  - wearer: bob\n    placement: thigh\n    segments: [walk 2m, sit 10m]\n"
    "  - wearer: cy\n    placement: thigh\n    segments: [sit 12m]\n"
)
TOPICS = Topics("k")


class Broker:
    """Takes publications at once (no PUBACK to wait for)."""

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        pass


class Client(Broker):
    """A client that notes the acknowledgements the service sends."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)


def minutes(wearer: str) -> list[FeatureBatchV1]:
    (script,) = [s for s in SCENARIO.wearers if s.wearer == wearer]
    return list(batches_for(SCENARIO, script, 60))


async def handle(service: AlertService, client: Broker, batch: FeatureBatchV1 | CommandV1, mid: int) -> None:
    """As the consumer does: handled, then owed an acknowledgement."""
    # a forget on the erasure topic, as `kinetic data delete` sends it
    topic = TOPICS.command_topic(batch) if isinstance(batch, CommandV1) else TOPICS.features(batch.wearer, batch.device)
    await service.handle(client, topic, encode(batch), int(T0.timestamp() * 1000) + 86_400_000)
    service._unacked.append((mid, 1))


def service_in(tmp_path: Path) -> tuple[AlertService, AlertState]:
    state = AlertState(tmp_path / "s.sqlite")
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy(sitting_threshold_min=10)))
    return AlertService(topics=TOPICS, engine=engine, state=state, send_expired=True), state


def stored(state: AlertState) -> dict[str, bytes]:
    return dict(state._db.execute("SELECT wearer, state FROM snap.wearers").fetchall())


def test_messages_handled_during_a_checkpoint_are_neither_stored_nor_acknowledged_by_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts.service, "SNAPSHOT_SLICE_S", 0.0)  # one wearer per slice: the consumer runs between
    service, state = service_in(tmp_path)
    client = Client()
    streams = {w: minutes(w) for w in ("ann", "bob", "cy")}

    async def run() -> None:
        mid = 0
        for k in range(5):
            for batches in streams.values():
                mid += 1
                await handle(service, client, batches[k], mid)
        at_cut = {w: state.encode(s) for w, s in service.engine.wearers.items()}
        checkpoint = asyncio.create_task(service.checkpoint(client))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the cut, and the first wearer encoded
        assert len(service._to_snapshot) == 2
        for batches in streams.values():  # one encoded already, two to be: encoded before this changes them
            mid += 1
            await handle(service, client, batches[5], mid)
        assert all(state.encode(s) != at_cut[w] for w, s in service.engine.wearers.items())  # they changed
        await checkpoint
        assert stored(state) == at_cut
        assert client.acked == list(range(1, 16))  # the cut's messages; the three after it wait for the next one
        assert service._unacked == [(16, 1), (17, 1), (18, 1)]
        after = {w: state.encode(s) for w, s in service.engine.wearers.items()}
        await service.checkpoint(client)  # type: ignore[arg-type]
        assert stored(state) == after
        assert client.acked == list(range(1, 19))

    asyncio.run(run())


def test_a_wearer_forgotten_during_a_checkpoint_is_not_written_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts.service, "SNAPSHOT_SLICE_S", 0.0)
    service, state = service_in(tmp_path)
    client = Client()

    async def run() -> None:
        for k in range(3):
            for mid, wearer in enumerate(("ann", "bob", "cy")):
                await handle(service, client, minutes(wearer)[k], 10 * k + mid)
        checkpoint = asyncio.create_task(service.checkpoint(client))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        await handle(service, client, CommandV1(kind="forget", wearer="bob", at=T0, source="cli"), 99)
        await checkpoint
        assert set(stored(state)) == {"ann", "cy"}
        assert set(service.engine.wearers) == {"ann", "cy"}
        assert state.holdings("bob") == {"snapshot": None, "outbox": []}

    asyncio.run(run())


def test_a_checkpoint_acknowledges_only_once_its_outputs_are_with_the_broker(tmp_path: Path) -> None:
    """A prompt's publication still waiting for its PUBACK holds the checkpoint's acknowledgements back, not the
    consumer: the next messages are handled meanwhile."""
    service, state = service_in(tmp_path)
    client = Client()
    puback = asyncio.Event()

    class SlowBroker(Client):
        async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
            await puback.wait()

    slow = SlowBroker()
    slow.acked = client.acked
    ann = minutes("ann")

    async def run() -> None:
        for k in range(11):  # the 10-min sitting threshold is crossed: a prompt and its events are published
            await handle(service, slow, ann[k], k + 1)
        assert service.prompts_published == 1 and service._publishing
        checkpoint = asyncio.create_task(service.checkpoint(slow))  # type: ignore[arg-type]
        for _ in range(5):
            await asyncio.sleep(0)
        await handle(service, slow, ann[11], 12)  # the consumer goes on
        assert not checkpoint.done() and client.acked == [] and stored(state) == {}
        puback.set()
        await checkpoint
        assert client.acked == list(range(1, 12)) and set(stored(state)) == {"ann"}

    asyncio.run(run())


class Take(QueuedClient):
    """A client whose messages are all waiting at once: the consumer takes them in one go (``message_batches``).
    Notes, for each publication, how many feature batches the engine had handled when it started."""

    def __init__(self, service: AlertService, batches: list[FeatureBatchV1]) -> None:
        super().__init__([(TOPICS.features(b.wearer, b.device), encode(b)) for b in batches])
        self.service = service
        self.started_after: dict[str, int] = {}

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        if topic.endswith("/prompts"):
            self.started_after[json.loads(payload)["wearer"]] = self.service.engine.counters.batches


def test_a_prompt_goes_out_before_the_rest_of_its_take_is_handled(tmp_path: Path) -> None:
    """Ann's 11th minute crosses her threshold; 500 other messages wait behind it in the same take. Her prompt's
    publication starts before the next of them is handled, not after the take (issue 18: it waited for the take)."""
    service, _ = service_in(tmp_path)
    ann, cy = minutes("ann"), minutes("cy")
    others = [b.model_copy(update={"wearer": f"w{i}"}) for i in range(500) for b in cy[:1]]
    client = Take(service, [*ann[:11], *others])

    async def run() -> None:
        consumer = asyncio.create_task(service._consume(client))  # type: ignore[arg-type]
        while service.engine.counters.batches < 511:
            await asyncio.sleep(0.01)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        assert client.started_after == {"ann": 11}
        assert service.paths.taken[0] == 511  # one take

    asyncio.run(run())


def test_the_message_that_makes_a_prompt_due_is_handled_before_the_others_waiting(tmp_path: Path) -> None:
    """Ann's tenth minute leaves her a minute from her threshold: her eleventh, which crosses it, waits behind 500
    other wearers' messages that came first. It is handled first (the intake's urgent line, issue 18 item 1), her
    prompt goes out before the others are handled, and the acknowledgements still go in the order received."""
    service, _ = service_in(tmp_path)
    ann, cy = minutes("ann"), minutes("cy")
    others = [b.model_copy(update={"wearer": f"w{i}"}) for i in range(500) for b in cy[:1]]
    client = Take(service, [*others, ann[10]])

    async def run() -> None:
        for k, batch in enumerate(ann[:10]):
            await handle(service, client, batch, 1000 + k)
        assert service._reach["ann"] == (ann[9].frames[-1].t_ms, 60_000)
        service._unacked = []
        consumer = asyncio.create_task(service._consume(client))  # type: ignore[arg-type]
        while len(service._unacked) < 501:  # all handled, each owed its acknowledgement
            await asyncio.sleep(0.01)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        assert client.started_after == {"ann": 11}  # her ten minutes, then the crossing one: before the 500
        assert service.paths.taken[0] == 501
        assert service._intake.urgent_handled == 1
        await service.checkpoint(client)  # type: ignore[arg-type]
        assert client.acked == list(range(1, 502))
        assert not service.engine.prompt_due_by("ann", ann[10].frames[-1].t_ms + 60_000)  # prompted: nothing due

    asyncio.run(run())


def test_a_wearer_forgotten_while_the_snapshots_are_written_is_not_brought_back(tmp_path: Path) -> None:
    """The snapshots are written in a worker thread; an erasure handled on the loop meanwhile wins."""
    service, state = service_in(tmp_path)
    client = Client()
    writing, release = threading.Event(), threading.Event()
    write = state.store_apart

    def slow_write(rows: Iterable[tuple[str, bytes]]) -> None:
        writing.set()
        release.wait(10)
        write(rows)

    state.store_apart = slow_write  # type: ignore[method-assign]

    async def run() -> None:
        for k in range(3):
            for mid, wearer in enumerate(("ann", "bob", "cy")):
                await handle(service, client, minutes(wearer)[k], 10 * k + mid)
        checkpoint = asyncio.create_task(service.checkpoint(client))  # type: ignore[arg-type]
        while not writing.is_set():
            await asyncio.sleep(0.001)
        await handle(service, client, CommandV1(kind="forget", wearer="bob", at=T0, source="cli"), 99)
        release.set()
        await checkpoint
        assert set(stored(state)) == {"ann", "cy"}
        assert state.holdings("bob") == {"snapshot": None, "outbox": []}

    asyncio.run(run())


def test_a_checkpoints_acknowledgements_let_the_consumer_run_between_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of PUBACKs are written a slice at a time (``SNAPSHOT_SLICE_S``; 0 here: a turn after every 64), in
    order, and a message waiting meanwhile is taken between two slices, not after the last."""
    monkeypatch.setattr(alerts.service, "SNAPSHOT_SLICE_S", 0.0)
    service, state = service_in(tmp_path)
    client = Client()
    taken_after: list[int] = []

    async def run() -> None:
        service._unacked = [(mid, 1) for mid in range(1, 5001)]
        checkpoint = asyncio.create_task(service.checkpoint(client))
        await asyncio.sleep(0)  # the checkpoint has cut and begun acknowledging
        while not client.acked:
            await asyncio.sleep(0)
        taken_after.append(len(client.acked))  # as the consumer: it ran while the acknowledgements were written
        await checkpoint

    asyncio.run(run())
    state.close()
    assert client.acked == list(range(1, 5001))
    assert 0 < taken_after[0] < 5000


def test_the_outbox_is_copied_from_its_wal_with_no_snapshot_to_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outbox writes with no message to checkpoint (delivery marks, sessions, prunes): the service's tick copies the
    outbox's WAL into its file all the same (``OUTBOX_COPY_S``; 0 here), in a worker thread."""
    monkeypatch.setattr(alerts.service, "OUTBOX_COPY_S", 0.0)
    service, state = service_in(tmp_path)
    path = tmp_path / "s.sqlite"
    empty = path.stat().st_size
    for n in range(300):
        state.record_prompt(numbered_prompt(n), ["mqtt"])
    assert path.stat().st_size == empty  # in the WAL only

    async def run() -> int:
        tick = asyncio.create_task(service._tick(Client()))  # type: ignore[arg-type]
        for _ in range(200):  # at most 10 s
            await asyncio.sleep(0.05)
            if path.stat().st_size > empty:
                break
        tick.cancel()
        return path.stat().st_size

    assert asyncio.run(run()) > empty
    state.close()
