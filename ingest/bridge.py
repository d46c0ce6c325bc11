"""The bridge: MQTT -> on-disk spool -> database (InfluxDB or the embedded store). Nothing is lost.

    broker --QoS 1, persistent session, manual ack--> consumer --> Spool (SQLite, fsync) --> ack
                                                                   Spool --> drainer --> sink (in order)

1. The consumer decodes each message against the wire contract and encodes its points in the sink's line
   format. Bad messages are dead-lettered (with the reason) and acknowledged; they never stop the loop.
2. Batches go into the spool in one durable transaction; only then are their MQTT messages acknowledged.
   A crash before that makes the broker redeliver them; a crash after finds them in the spool. A transaction takes
   what came within ``commit_linger_s`` (or ``batch_max_points``), so its fixed costs are shared by many messages.
3. The drainer writes the spool to the database in order, many points per request (a write of fewer than
   ``batch_max_points`` waits up to ``write_linger_s`` for more), and removes what was
   written. An unreachable database is retried with backoff while the spool keeps filling; a batch the
   database rejects (HTTP 400, e.g. a field type conflict) is split until the bad lines are isolated: the
   good ones are written, each bad one is dead-lettered with the database's reason.
4. When the spool is full the consumer stops acknowledging and waits (counter ``spool_full_waits``, one
   warning line): the broker holds further messages for the bridge's session.
5. Every ``stats_interval_s`` the bridge writes its own counters as a ``bridge_stats`` point straight to the
   database (the Operations dashboard): messages, points, dead letters, rejected lines, spool size, and lag (the
   wall clock minus the event time of the newest frame, the largest in the interval). Best effort: not spooled,
   skipped while the database is down.

Rewriting a point is harmless (same series and timestamp replace it), so redelivery after a crash never
duplicates data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from ingest.backoff import Endpoint, backoff_delay_s, reached_line, retry_line_due, still_waiting_line, waiting_line
from ingest.errors import SinkRejected, SinkUnavailable, WireError
from ingest.heap import collect_when_idle
from ingest.mqtt import DeadLetters, MessageTaker, MqttClient, Publisher, ack, payload_bytes
from ingest.settings import DEFAULT_MAX_AHEAD_MS, BridgeSettings
from ingest.store.fast_features import BatchLike, decode_features, is_fast_batch
from ingest.store.points import Point, PointSink
from ingest.store.rollup import MinuteRollup
from ingest.store.spool import Spool, SpoolEntry, SpoolFull, line_wearer
from ingest.wall import ConsentBook, Wall
from ingest.wire import (
    CommandV1,
    DeviceStatusV1,
    EventV1,
    FeatureBatchV1,
    Payload,
    Topics,
    decode_salvaging,
    frames_not_ahead,
    payload_problem,
    retained_command_problem,
    time_ahead_problem,
)

ROLLUP_STATE = "rollup"
CONSENT_STATE = "consent"  # the wall's consent book (ingest/wall.py), committed with the batch that changed it

_LOGGER = logging.getLogger(__name__)
# After a take of fewer than GATHER_BELOW messages, while it holds messages not yet committed (whose commit waits for
# commit_linger_s anyway), the consumer pauses GATHER_S (at most until that commit is due) so that its next take finds
# many: a take that finds messages queued takes them from the queue (MessageTaker), one that finds none waits with two
# tasks and two waits (aiomqtt's iterator and MessageTaker's), which a steady trickle paid for every message or two,
# and the bridge's work per take is spread over more messages (session 16, before the queued take:
# bench.bridge_throughput --rate 5000 --per-message 1, 100 -> 90 CPU-us per point).
GATHER_S = 0.005
GATHER_BELOW = 64


@dataclass
class BridgeCounters:
    messages: int = 0
    points_spooled: int = 0
    points_written: int = 0
    writes: int = 0
    write_retries: int = 0
    rejected_lines: int = 0
    spool_full_waits: int = 0


class Bridge:
    def __init__(
        self,
        *,
        topics: Topics,
        sink: PointSink,
        spool: Spool,
        settings: BridgeSettings,
        name: str = "bridge",
        max_ahead_ms: int | None = DEFAULT_MAX_AHEAD_MS,
        store: Endpoint | None = None,
        wall: Wall | None = None,
    ) -> None:
        self.topics = topics
        self.wall = wall  # shared with a walled sink, which routes by it; the bridge applies consent events to it
        self.store = store or Endpoint("database", "the bridge's store", "KINETIC_STORE__KIND")
        self.max_ahead_ms = max_ahead_ms
        self.internal_errors = 0  # messages whose handling raised: dead-lettered, the bridge carried on
        self.sink = sink
        self.spool = spool
        self.settings = settings
        self.name = name
        self.counters = BridgeCounters()
        self.dead_letters = DeadLetters(name, topics)
        self.ready = asyncio.Event()
        self._spooled = asyncio.Event()  # the consumer added something
        self._room = asyncio.Event()  # the drainer removed something
        self._closing = False
        self._uncommitted = 0
        self._rollup = MinuteRollup()
        self._lag_max_ms = 0
        self._write_lock = asyncio.Lock()  # the drainer and the stats writer share the sink

    def subscriptions(self) -> list[str]:
        t = self.topics
        # erasure: ``forget`` (``kinetic data delete``), taken from the wearers' erasure topics only; commands: read so
        # that a forget forged there is refused and dead-lettered (ingest/wire.py), the rest is the alert service's
        # consent: only from the wearers' consent topics (a consent event on an events topic is refused: ingest/wire.py)
        return [
            *(t.all_features(), t.all_status(), t.all_prompts(), t.all_events(), t.all_consent()),
            t.all_prescriptions(),  # a clinician's prescription_changed / progression_proposed: from there only
            *(t.all_commands(), t.all_erasure()),
        ]

    async def run(self, client: MqttClient, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; then write what the spool holds (if the database answers)."""
        self._closing = False
        self._uncommitted = 0  # what a lost connection left unacknowledged comes again
        self._rollup = MinuteRollup(self.spool.state(ROLLUP_STATE))  # ... so restart from what was spooled
        if self.wall is not None:
            self.wall.consent = ConsentBook.from_state(self.spool.state(CONSENT_STATE))
        for topic in self.subscriptions():
            await client.subscribe(topic, qos=1)
        self.ready.set()
        _LOGGER.info(
            "%s: subscribed under %s; spool %s holds %d points",
            self.name,
            self.topics.base,
            self.spool.path,
            self.spool.points,
        )
        drainer = asyncio.create_task(self._drain(client), name=f"{self.name}-drain")
        consumer = asyncio.create_task(self._consume(client, stop), name=f"{self.name}-consume")
        stopper = asyncio.create_task(stop.wait(), name=f"{self.name}-stop")
        stats = (
            asyncio.create_task(self._write_stats(), name=f"{self.name}-stats")
            if self.settings.stats_interval_s
            else None
        )
        # a full collection once per idle spell (ingest/heap.py)
        idle_heap = asyncio.create_task(
            collect_when_idle(self.name, lambda: self.counters.messages), name=f"{self.name}-idle-heap"
        )
        try:
            done, _ = await asyncio.wait({consumer, stopper, drainer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    task.result()  # a consumer or drainer failure propagates (e.g. MQTT connection lost)
        finally:
            self._closing = True
            if stop.is_set() and not consumer.done():  # it commits and acknowledges what it holds, then returns
                await asyncio.wait({consumer}, timeout=self.settings.shutdown_flush_s)
            consumer.cancel()
            stopper.cancel()
            idle_heap.cancel()
            if stats is not None:
                stats.cancel()
            # return_exceptions: a consumer that died of a lost connection must not skip the drainer below
            await asyncio.gather(consumer, stopper, idle_heap, *([stats] if stats else []), return_exceptions=True)
            self._spooled.set()
            if not drainer.done():
                try:
                    await asyncio.wait_for(drainer, self.settings.shutdown_flush_s)
                except TimeoutError:
                    _LOGGER.warning(
                        "%s: stopped with %d points still in the spool; they are written at the next start",
                        self.name,
                        self.spool.points,
                    )

    async def _consume(self, client: MqttClient, stop: asyncio.Event) -> None:
        """Take, decode and spool messages. What was taken is committed (one spool transaction, then the messages'
        acknowledgements) when it reaches ``batch_max_points``, and when no message is waiting and the oldest of it
        has waited ``commit_linger_s``: under a steady trickle one transaction and its fixed costs carry many
        messages instead of the few each take finds (``bench.bridge_throughput --rate``); for the same reason a small
        take is followed by a pause of ``GATHER_S`` (within the linger) for more to gather. What came before an
        erasure is spooled before it. When ``stop`` is set, what is held is committed and acknowledged, and the
        consumer returns."""
        bodies: list[bytes] = []
        mids: list[tuple[int, int]] = []
        points = 0
        oldest_s = 0.0  # when the oldest uncommitted message was taken (time.monotonic)
        linger_s = self.settings.commit_linger_s
        taker = MessageTaker(client)
        stopping = asyncio.ensure_future(stop.wait())

        async def commit() -> None:
            nonlocal bodies, mids, points
            await self._commit(b"".join(bodies), points)
            for mid, qos in mids:
                ack(client, mid, qos)
            self._uncommitted -= len(mids)
            bodies, mids, points = [], [], 0

        try:
            while not stop.is_set():
                wait_s = None if not mids else max(0.0, oldest_s + linger_s - time.monotonic())
                batch = await taker.take(wait_s, stopping)
                for i, message in enumerate(batch, 1):
                    if not mids:
                        oldest_s = time.monotonic()
                    self.counters.messages += 1
                    self._uncommitted += 1
                    mids.append((message.mid, message.qos))
                    topic, payload = str(message.topic), payload_bytes(message)
                    if bodies and topic.endswith("/erasure"):  # a forget applies to what came before it too
                        await self._commit(b"".join(bodies), points)
                        bodies, points = [], 0
                    now_ms = int(time.time() * 1000)
                    body, count = await self._points_of(client, topic, payload, now_ms, message.retain)
                    if count:
                        bodies.append(body)
                        points += count
                    if i % 8 == 0:
                        await asyncio.sleep(0)  # let the drainer send its next write while a long backlog is decoded
                    if points >= self.settings.batch_max_points:
                        await commit()
                if mids and len(client.messages) == 0 and time.monotonic() - oldest_s >= linger_s:
                    await commit()
                elif mids and len(batch) < GATHER_BELOW and not stop.is_set():
                    left_s = oldest_s + linger_s - time.monotonic()
                    if left_s > 0:
                        await asyncio.sleep(min(GATHER_S, left_s))
            if mids:
                await commit()
        finally:
            taker.close()
            stopping.cancel()

    async def _points_of(
        self, publisher: Publisher, topic: str, payload: bytes, now_ms: int, retained: bool = False
    ) -> tuple[bytes, int]:
        """One message's points in the sink's format, and how many; ``(b"", 0)`` when it is refused, which is
        dead-lettered with the reason. Nothing a message holds stops the loop: an error while handling it is
        logged, counted (``internal_errors``) and dead-lettered like a refusal. A retained command is refused
        (``retained_command_problem``): a retained ``forget`` would erase at every resubscription."""
        try:
            decoded, partial = self._decode(topic, payload)
            if retained and isinstance(decoded, CommandV1):
                raise WireError(retained_command_problem())
            if isinstance(decoded, FeatureBatchV1) or is_fast_batch(decoded):
                kept, reason = frames_not_ahead(decoded.frames, now_ms, self.max_ahead_ms)
                if reason is not None:  # refused, and the other frames kept
                    partial = reason if partial is None else f"{partial}; {reason}"
                    if not kept:
                        raise WireError(partial)
                    decoded = _with_frames(decoded, kept)
                if partial is not None:  # the good frames are stored; the message is set aside with the rest
                    await self.dead_letters.send(publisher, topic, payload, partial)
                self._lag_max_ms = max(self._lag_max_ms, now_ms - decoded.frames[-1].t_ms)
            else:  # a status, prompt, event or command from the future would be stored as the wearer's tomorrow
                ahead = time_ahead_problem(decoded, now_ms, self.max_ahead_ms)
                if ahead is not None:
                    raise WireError(ahead)
        except WireError as exc:
            if payload or not topic.endswith(("/status", "/commands", "/erasure")):  # empty: a retained one cleared
                await self.dead_letters.send(publisher, topic, payload, str(exc))
            return b"", 0
        if isinstance(decoded, CommandV1):
            if decoded.kind == "forget":
                await self._forget(decoded.wearer)
            return b"", 0
        if isinstance(decoded, EventV1) and decoded.consent is not None and self.wall is not None:
            self._apply_consent(decoded)
        try:
            body, count = self.sink.encode_message(decoded, now_ms)
            rolled = self._rollup_points(decoded)
            if rolled:
                body += self.sink.encode(rolled)
                count += len(rolled)
        except ValueError as exc:  # valid on the wire, yet not storable: dead-letter it, carry on
            await self.dead_letters.send(publisher, topic, payload, f"cannot store: {exc}")
            return b"", 0
        except Exception as exc:  # a bug the data found: this message is set aside, the rest goes on
            self.internal_errors += 1
            _LOGGER.exception("%s %s: handling failed, dead-lettered", self.name, topic)
            await self.dead_letters.send(publisher, topic, payload, f"internal error: {exc!r}"[:500])
            return b"", 0
        return body, count

    async def _forget(self, wearer: str) -> None:
        """``kinetic data delete`` erases the wearer: drop the minutes this bridge has open for them (which it would
        otherwise write at the next minute or shutdown) and their points still in the spool, in one transaction.
        The CLI erases the spool file too; this closes the window in which a running bridge writes back what it
        held in memory."""
        forgotten = self._rollup.forget(wearer)
        erased = await asyncio.to_thread(
            self.spool.erase, lambda line: line_wearer(line) == wearer, {ROLLUP_STATE: lambda _: self._rollup.state()}
        )
        _LOGGER.info(
            "%s: forgot %s (%s, %d spooled points erased)",
            self.name,
            wearer,
            "open minutes dropped" if forgotten else "no open minute",
            erased,
        )

    def _apply_consent(self, event: EventV1) -> None:
        """A wearer's consent change (``kinetic consent``, the Sharing page), into the wall's book: the points the
        drainer writes from now on are routed by it (by their own time: ingest/wall.py); kept in the spool with this
        batch. Consent arrives only from the wearer's consent topic, which only the wearer's own logins may write
        (``Topics.consent``, deploy/mosquitto/acl); the same event on the events topic is refused by the decoder."""
        assert self.wall is not None and event.consent is not None
        c = event.consent
        at_ms = round(event.t.timestamp() * 1000)
        data = frozenset(c.data)
        if event.kind == "consent_granted":
            until_ms = None if c.until is None else round(c.until.timestamp() * 1000)
            self.wall.consent.grant(event.wearer, c.clinic, data, at_ms, until_ms)
        else:
            self.wall.consent.withdraw(event.wearer, c.clinic, data, at_ms)
        _LOGGER.info("%s %s: %s for %s (%s)", self.name, event.wearer, event.kind, c.clinic, ", ".join(c.data))

    def stats_point(self, now_ms: int) -> Point:
        """The bridge's counters as a point (measurement ``bridge_stats``, tag ``bridge``); resets the lag window."""
        c = self.counters
        fields: dict[str, float | int] = {
            "messages": c.messages,
            "points_spooled": c.points_spooled,
            "points_written": c.points_written,
            "dead_letters": self.dead_letters.count,
            "rejected_lines": c.rejected_lines,
            "write_retries": c.write_retries,
            "spool_full_waits": c.spool_full_waits,
            "spool_points": self.spool.points,
            "lag_s": round(self._lag_max_ms / 1000, 3),
        }
        self._lag_max_ms = 0
        return Point.make("bridge_stats", {"bridge": self.name}, fields, now_ms)

    async def _write_stats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.stats_interval_s)
            body = self.sink.encode([self.stats_point(int(time.time() * 1000))])
            try:
                async with self._write_lock:
                    await self.sink.write_lines(body)
            except (SinkUnavailable, SinkRejected) as exc:
                _LOGGER.debug("%s: stats not written (%s)", self.name, exc)

    def _decode(self, topic: str, payload: bytes) -> tuple[Payload | BatchLike, str | None]:
        """A wire message, and the reason some of its frames were left out (or None); feature batches for a
        line-protocol sink through the fast path when it takes them (ingest/store/fast_features.py), everything
        else - and whatever it refuses - through the contract's pydantic models, which keep a batch's good frames
        and name the reason for the rest (``decode_salvaging``). Raises WireError."""
        address = self.topics.parse(topic)
        too_large = payload_problem(payload)
        if too_large is not None:
            raise WireError(too_large)
        if address.kind == "features" and self.sink.writes_line_protocol:
            batch = decode_features(payload)
            if batch is not None and batch.wearer == address.wearer and batch.device == address.device:
                return batch, None
        return decode_salvaging(address, payload)

    def _rollup_points(self, message: Payload | BatchLike) -> list[Point]:
        if isinstance(message, FeatureBatchV1) or is_fast_batch(message):
            return self._rollup.add(message)
        if isinstance(message, DeviceStatusV1) and message.state == "offline":
            return self._rollup.close_device(message.wearer, message.device)
        return []

    async def _commit(self, body: bytes, points: int) -> None:
        if not body:
            return
        warned = False
        state: dict[str, str] = {}
        if self.wall is not None:
            state[CONSENT_STATE] = self.wall.consent.state()
        # the devices this batch touched, not every open minute (at 10,000 devices the whole is about 2.7 MB)
        parts = {ROLLUP_STATE: self._rollup.state_changes()}
        while True:
            try:
                await asyncio.to_thread(self.spool.append, body, points, state, parts)
                break
            except SpoolFull as exc:
                self.counters.spool_full_waits += 1
                if not warned:
                    _LOGGER.warning(
                        "%s: %s; not acknowledging new messages until the database catches up", self.name, exc
                    )
                    warned = True
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), 5.0)
        self.counters.points_spooled += points
        self._spooled.set()

    async def drain(self) -> None:
        """Wait until everything received so far is in the database (tests and the demo use this)."""
        while self._uncommitted or self.spool.batches:
            await asyncio.sleep(0.02)

    async def _drain(self, publisher: Publisher) -> None:
        # Off the critical path: the next batch is read from the spool, and the written one removed, while a
        # batch is being written. ``after_id`` keeps a read from seeing entries already written.
        after_id = 0
        removing: asyncio.Task[None] | None = None
        entries: list[SpoolEntry] = []
        held_since_s: float | None = None  # when the drainer first held fewer than batch_max_points, waiting for more
        try:
            while True:
                if not entries:
                    # cleared before looking, never after: a message spooled while this looks (or while a removal
                    # below is awaited) sets it again, so the wait below cannot miss it (a lost wake-up left the
                    # last message of a quiet spell unwritten until the next one came: found by the fuzz test)
                    self._spooled.clear()
                    entries = await asyncio.to_thread(self.spool.peek, self.settings.batch_max_points, after_id)
                if entries and not self._closing and sum(e.points for e in entries) < self.settings.batch_max_points:
                    # a write's fixed costs (request, peek, removal; influxd's own) carried by more points: wait up to
                    # write_linger_s for more commits, then write what there is (bench.bridge_throughput --rate)
                    now_s = time.monotonic()
                    held_since_s = now_s if held_since_s is None else held_since_s
                    left_s = held_since_s + self.settings.write_linger_s - now_s
                    if left_s > 0:
                        self._spooled.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._spooled.wait(), left_s)
                        entries = []  # looked at again, with what came meanwhile
                        continue
                held_since_s = None
                if not entries:
                    if removing is not None:
                        await removing
                        removing = None
                    if self._closing:
                        return
                    await self._spooled.wait()
                    continue
                upto = entries[-1].id
                prefetch = asyncio.create_task(asyncio.to_thread(self.spool.peek, self.settings.batch_max_points, upto))
                try:
                    written = await self._write_isolating(publisher, b"".join(e.body for e in entries))
                finally:
                    upcoming = await prefetch
                if not written:
                    return  # closing while the database is down: the spool keeps it for the next start
                after_id = upto
                self.counters.points_written += sum(e.points for e in entries)
                if removing is not None:
                    await removing
                removing = asyncio.create_task(self._remove(entries))
                entries = upcoming
        finally:
            if removing is not None:
                await asyncio.shield(removing)

    async def _remove(self, entries: list[SpoolEntry]) -> None:
        await asyncio.to_thread(self.spool.remove, entries)
        self._room.set()

    async def _write_isolating(self, publisher: Publisher, body: bytes) -> bool:
        """Write ``body``; split rejected batches down to the bad lines. False if closing while unavailable."""
        attempt = 0
        started_s = time.monotonic()
        last_line_s: float | None = None
        while True:
            try:
                async with self._write_lock:
                    await self.sink.write_lines(body)
            except SinkUnavailable as exc:
                if self._closing:
                    return False
                delay = backoff_delay_s(attempt, cap_s=10.0)
                self.counters.write_retries += 1
                attempt += 1
                waited_s = time.monotonic() - started_s
                if retry_line_due(waited_s, last_line_s):  # the first failure, then a line per 30 s at most
                    reason = f"{exc}; the spool holds {self.spool.points} points"
                    line = (
                        waiting_line(self.name, self.store, reason)
                        if last_line_s is None
                        else still_waiting_line(self.name, self.store, attempt, waited_s, reason, delay)
                    )
                    _LOGGER.warning("%s", line)
                    last_line_s = waited_s
                await asyncio.sleep(delay)
                continue
            except SinkRejected as exc:
                lines = body.splitlines(keepends=True)
                if len(lines) == 1:
                    self.counters.rejected_lines += 1
                    reason = f"database rejected the line: {(exc.body or str(exc)).strip()}"
                    await self.dead_letters.send(publisher, "(database)", body.rstrip(b"\n"), reason)
                    return True
                half = len(lines) // 2
                return await self._write_isolating(publisher, b"".join(lines[:half])) and (
                    await self._write_isolating(publisher, b"".join(lines[half:]))
                )
            self.counters.writes += 1
            if attempt:
                _LOGGER.warning("%s", reached_line(self.name, self.store, attempt + 1, time.monotonic() - started_s))
            return True


def _with_frames(batch: FeatureBatchV1 | BatchLike, frames: list[Any]) -> FeatureBatchV1 | BatchLike:
    """The batch with only ``frames`` (the others were refused)."""
    if isinstance(batch, FeatureBatchV1):
        return batch.model_copy(update={"frames": frames})
    return msgspec.structs.replace(batch, frames=frames)  # type: ignore[type-var]
