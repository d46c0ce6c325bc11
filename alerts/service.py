"""The alert service: feature batches from MQTT through the pure AlertEngine, prompts and events back out.

Subscribes at QoS 1 with a persistent session; publishes prompts on ``<root>/v1/<wearer>/prompts`` (the canonical
channel, which the collector relays to wearables) and events on ``<root>/v1/<wearer>/events``; hands prompts to the
HTTP channels (ntfy, webhook) through the dispatcher. Talks to ingest only through the wire contract. With a
``SessionVerifier`` it also runs exercise sessions (issue 19): ``session_start`` / ``session_end`` commands and the
session streams (``<root>/v1/<wearer>/<device>/session``) go to it, its ``session_outcome`` events go out as events.

With a state store (alerts.state) the service is restart-safe: messages are acknowledged only after a checkpoint
holds the state they produced, and every prompt passes through the outbox, so a kill -9 gives neither a duplicate
nor a missed prompt (docs/prompts.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

import aiomqtt

from alerts.calendars import CalendarRefresher
from alerts.channels.dispatch import Dispatcher
from alerts.engine import AlertEngine, Output
from alerts.intake import Intake
from alerts.latency import KEEP, GcPauses, MessageTrace, PromptPaths, PromptTrace, loop_lag
from alerts.prompts.policy.in_force import policy_message, same_policy
from alerts.prompts.policy.model import PromptPolicy
from alerts.prompts.sessions import SessionRefused, SessionVerifier
from alerts.shard import Shard, topic_wearer
from alerts.state import AlertState, StateError
from ingest.errors import WireError
from ingest.heap import IdleCollection
from ingest.mqtt import DeadLetters, MessageTaker, MqttClient, Publisher, ack, payload_bytes, waiting_messages
from ingest.settings import DEFAULT_MAX_AHEAD_MS
from ingest.wire import (
    CommandV1,
    EventV1,
    FeatureBatchV1,
    PolicyV1,
    PromptV1,
    SessionSamplesV1,
    Topics,
    decode_salvaging,
    encode,
    frames_not_ahead,
    retained_command_problem,
    time_ahead_problem,
)

_LOGGER = logging.getLogger(__name__)
MAX_PUBLISHING = 10_000  # publications in flight before the consumer waits for the broker
PRUNE_EVERY_S = 600.0
CHUNK_S = 0.005  # the consumer handles messages this long, then lets the client read (urgent ones first)
OUTBOX_COPY_S = 5.0  # the outbox's WAL copied into its file this often (a worker thread; the tick, nothing else)
# a checkpoint's slices (encoding, acknowledging) wait while an urgent wearer's message waits, this long at most
DEFER_TO_URGENT_S = 1.0
SNAPSHOT_SLICE_S = 0.002  # a checkpoint encodes states (or acknowledges) for this long, then lets the consumer run
# the outbox forgets prompts that expired two days (of event time) before the newest one; outcomes are stored
OUTBOX_KEEP_MS = 2 * 86_400_000


class AlertService:
    def __init__(
        self,
        *,
        topics: Topics,
        engine: AlertEngine,
        on_prompt: Callable[[PromptV1], None] | None = None,
        on_event: Callable[[EventV1], None] | None = None,
        name: str = "alerts",
        state: AlertState | None = None,
        dispatcher: Dispatcher | None = None,
        checkpoint_s: float = 1.0,
        max_unacked: int = 50_000,
        idle_checkpoint_s: float = 0.1,
        max_ahead_ms: int | None = DEFAULT_MAX_AHEAD_MS,
        send_expired: bool = False,
        calendars: CalendarRefresher | None = None,
        sessions: SessionVerifier | None = None,
        shard: Shard | None = None,
    ) -> None:
        self.topics = topics
        # one of several instances (alerts.shard): only this shard's wearers; the others' messages are acknowledged
        # unread (``others_ignored``), never dead-lettered
        self.shard = shard
        self.others_ignored = 0
        # the wearers' calendar feeds (alerts.calendars), refreshed by a task of ``run`` into ``engine.busy``
        self.calendars = calendars
        self.max_ahead_ms = max_ahead_ms
        # False: a prompt already past its ``expires`` by this host's clock when it is decided (its data came late:
        # a collector replaying its queue) is not sent; True: sent all the same (a dated scenario replayed as if now)
        self.send_expired = send_expired
        self.prompts_expired = 0  # decided after they expired: not sent, a prompt_cancelled event says why
        self.internal_errors = 0  # messages whose handling raised: dead-lettered, the service carried on
        # forgets whose erasure of the state failed: left unacknowledged, so the broker delivers them again
        self.erasures_failed = 0
        self._withhold_ack = False  # the message just handled is not to be acknowledged (an erasure that failed)
        self.engine = engine
        # exercise sessions (issue 19): session_start / session_end commands and the session streams; None: refused
        self.sessions = sessions
        self.on_prompt = on_prompt
        self.on_event = on_event  # each event as it is published (the demo shows held and cancelled prompts)
        self.name = name
        self.state = state
        self.dispatcher = dispatcher
        self.checkpoint_s = checkpoint_s
        self.max_unacked = max_unacked
        self.idle_checkpoint_s = idle_checkpoint_s
        self.dead_letters = DeadLetters(name, topics)
        self.ready = asyncio.Event()
        self.prompts_published = 0
        self.prompts_replayed = 0  # decided again while replaying after a restart: known to the outbox, not resent
        self.events_published = 0
        self.client: MqttClient | None = None
        self._dirty: set[str] = set()
        # each wearer's newest frame time and the span of their last message (ms): how far their next messages reach
        self._reach: dict[str, tuple[int, int]] = {}
        self._intake: Intake[tuple[aiomqtt.Message, float, int]] = Intake()  # the consumer's (a new one per connection)
        self._unacked: list[tuple[int, int]] = []
        self._last_checkpoint = time.monotonic()
        self._last_message = time.monotonic()
        self._last_prune = 0.0
        self._outbox_copied = time.monotonic()
        self._idle_heap = IdleCollection()  # a full collection once per idle spell, by the tick (ingest/heap.py)
        self._late: list[tuple[str, str, bytes]] = []  # dead letters from delivery results, published by the loop
        # Publications in flight: QoS 1 waits for the broker's PUBACK, so they run side by side (one at a time, a
        # busy broker's round trip would hold every wearer up); a checkpoint waits for them before acknowledging.
        self._publishing: set[asyncio.Future[None]] = set()
        self._unsent = 0  # publications made since the event loop last ran (their packets are not written yet)
        self._lock = asyncio.Lock()  # held while a take is handled, and for a checkpoint's cut
        self._checkpointing = asyncio.Lock()
        self._to_snapshot: set[str] = set()  # touched before the running checkpoint's cut, not encoded yet
        self._snapshots: dict[str, bytes] = {}  # encoded for the running checkpoint, as they were at its cut
        self._storing: set[str] | None = None  # while a checkpoint's store runs: the wearers erased meanwhile
        self.paths = PromptPaths()  # where prompts' time goes (alerts.latency), logged at a stop
        self._trace: MessageTrace | None = None  # the message being handled, while the consumer handles it
        # the policy in force last published per wearer (retained), with the engine's policy it was made from
        self._policies_sent: dict[str, tuple[PromptPolicy, PolicyV1]] = {}
        if state is not None:
            restored = state.load()
            if shard is not None:
                others = [w for w in restored if not shard.owns(w)]
                for wearer in others:
                    del restored[wearer]
                if others:
                    _LOGGER.warning(
                        "%s: %d wearers in %s belong to other shards than %s (a state file of another shard?): not "
                        "taken up here, they start afresh on their own shard",
                        name,
                        len(others),
                        state.path,
                        shard.name,
                    )
            engine.wearers.update(restored)
            if restored:
                _LOGGER.info("%s: restored the state of %d wearers from %s", name, len(restored), state.path)
        self._sessions_stored: dict[tuple[str, str], str] = {}  # the running sessions as last stored
        if state is not None and sessions is not None:
            self._sessions_stored = {
                key: header for key, header in state.sessions().items() if shard is None or shard.owns(key[0])
            }
            for problem in sessions.restore(self._sessions_stored):
                _LOGGER.warning("%s: a running exercise session cannot be taken up: %s", name, problem)
            if self._sessions_stored:
                _LOGGER.info("%s: took up %d exercise sessions", name, len(self._sessions_stored))

    @property
    def manual_ack(self) -> bool:
        """Acknowledge after checkpoints (only with a state store to checkpoint into)."""
        return self.state is not None

    async def run(self, client: MqttClient, stop: asyncio.Event) -> None:
        self._unacked = []  # message ids of an earlier connection mean nothing on this one
        self.client = client
        if self.calendars is not None and not self.calendars.loaded:
            await self.calendars.load_kept()  # the meetings known before the first message (a restart replays)
        await client.subscribe(self.topics.all_features(), qos=1)
        await client.subscribe(self.topics.all_commands(), qos=1)
        await client.subscribe(self.topics.all_erasure(), qos=1)  # forget: from there only (ingest/wire.py)
        if self.sessions is not None:
            await client.subscribe(self.topics.all_sessions(), qos=1)
        await self.resume_deliveries(client)
        self._policies_sent = {}  # a broker restarted without its retained messages: published again
        for wearer in sorted(set(self.engine.wearers) | set(self.engine.policies.wearers)):
            if self.shard is None or self.shard.owns(wearer):  # a policy file names every shard's wearers
                await self.publish_policy(client, wearer)
        self.ready.set()
        of_shard = f" ({self.shard.name}: the wearers whose id hashes to it)" if self.shard else ""
        _LOGGER.info("%s: watching %s%s", self.name, self.topics.all_features(), of_shard)
        tasks = {
            asyncio.create_task(self._consume(client), name=f"{self.name}-consume"),
            asyncio.create_task(self._tick(client), name=f"{self.name}-checkpoint"),
            asyncio.create_task(stop.wait(), name=f"{self.name}-stop"),
            asyncio.create_task(loop_lag(self.paths), name=f"{self.name}-loop-lag"),
        }
        if self.calendars is not None:
            tasks.add(asyncio.create_task(self.calendars.run(), name=f"{self.name}-calendars"))
        try:
            with GcPauses(self.paths):
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
                await self.checkpoint(client)  # a clean stop: everything processed is stored and acknowledged
        finally:
            # with the messages the last connection's intake handled out of turn, their wearer urgent (alerts.intake)
            summary = self.paths.summary() | {"urgent_handled": self._intake.urgent_handled}
            _LOGGER.info("%s: prompt path %s", self.name, json.dumps(summary))
            if self.shard is not None:
                ignored = self.others_ignored
                _LOGGER.info("%s: %d messages of other shards' wearers acknowledged unread", self.name, ignored)
            self.client = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _consume(self, client: MqttClient) -> None:
        """Handle the client's messages: everything waiting is taken into the intake (alerts.intake: a wearer whose
        prompt is about to come due goes first), handled for ``CHUNK_S`` at a time, then the client reads what came
        meanwhile and that is taken in its turn. A prompt is let out as soon as its message is handled."""
        intake: Intake[tuple[aiomqtt.Message, float, int]] = Intake()
        self._intake = intake
        taker = MessageTaker(client)  # what is queued at once, a wait only when nothing is (MqttError: link lost)
        try:
            while True:
                first = await taker.take()
                self._take(intake, first + waiting_messages(client, None))  # all that waits: urgent ones go first
                await self._handle_intake(client, intake)
        finally:
            taker.close()

    async def _handle_intake(
        self,
        client: MqttClient,
        intake: Intake[tuple[aiomqtt.Message, float, int]],
    ) -> None:
        """Handle what the intake holds, urgent wearers first, ``CHUNK_S`` at a time under the lock; between chunks the
        client reads what came meanwhile and that is taken in its turn. Returns when the intake is empty."""
        while intake:
            async with self._lock:
                locked = time.perf_counter()
                now_ms = int(time.time() * 1000)
                while intake:
                    number, (message, taken, waiting), wearer = intake.pop()
                    if self.shard is not None and wearer is not None and not self.shard.owns(wearer):
                        self.others_ignored += 1  # another instance's wearer: acknowledged in order, never read
                    else:
                        started = time.perf_counter()
                        urgent = intake.urgent_now
                        trace = MessageTrace(taken, waiting=waiting, urgent=urgent, locked=locked, started=started)
                        self._trace = trace
                        await self.handle(client, str(message.topic), payload_bytes(message), now_ms, message.retain)
                        self._trace = None
                        if self._unsent:  # a prompt goes out now, not after the rest of what waits
                            await self._let_out(client)
                    if wearer is not None and intake.waiting(wearer) and self._due_soon(wearer, intake):
                        intake.urge(wearer)  # what this message taught says the wearer's next ones are due
                    if self.manual_ack:
                        # a withheld one (a failed erasure) counts as handled, owed nothing: redelivered later
                        owed = None if self._withheld() else (message.mid, message.qos)
                        intake.handled(number, owed, self._unacked)
                    if time.perf_counter() - locked >= CHUNK_S:
                        break
                self._last_message = time.monotonic()
            if len(self._unacked) >= self.max_unacked or len(self._publishing) >= MAX_PUBLISHING:
                await self.checkpoint(client)
            await self._flush_late(client)
            if intake:  # more waits: the client reads what came meanwhile (two turns of the loop: its reader
                await asyncio.sleep(0)  # runs after this task's first turn), and it is taken in its line
                await asyncio.sleep(0)
                self._take(intake, waiting_messages(client, None))

    def _take(self, intake: Intake[tuple[aiomqtt.Message, float, int]], batch: list[aiomqtt.Message]) -> None:
        """``batch`` (taken from the client, in order) into the intake; its wearer urged when their waiting messages
        will make a prompt due (``_due_soon``)."""
        taken = time.perf_counter()
        for message in batch:
            wearer = topic_wearer(str(message.topic), self.topics.base)
            intake.put((message, taken, len(intake)), wearer)
            if wearer is not None and self._due_soon(wearer, intake):
                intake.urge(wearer)
        if batch and len(self.paths.taken) < KEEP:
            self.paths.taken.append(len(batch))

    def _withheld(self) -> bool:
        """Whether the message just handled is left unacknowledged (``_erase``), for the consumer; cleared."""
        withheld, self._withhold_ack = self._withhold_ack, False
        return withheld

    async def _tick(self, client: MqttClient) -> None:
        while True:
            await asyncio.sleep(min(0.1, self.idle_checkpoint_s))
            now = time.monotonic()
            if self._unacked and (
                now - self._last_checkpoint >= self.checkpoint_s or now - self._last_message >= self.idle_checkpoint_s
            ):
                await self.checkpoint(client)
            if self.state is not None and now - self._outbox_copied >= OUTBOX_COPY_S:
                # prompts, delivery marks, sessions, prunes: the outbox's WAL copied into its file here, and only
                # here (``AlertState.copy_outbox``), checkpoints or none
                self._outbox_copied = now
                await asyncio.to_thread(self.state.copy_outbox)
            await self._flush_late(client)
            await self._sessions_due(client)
            self._idle_heap.collect(now, self._last_message, self.name)  # idle a minute: nobody waits for it

    async def flush(self) -> None:
        """Wait until every publication so far has been acknowledged by the broker (or has failed)."""
        while self._publishing:
            await asyncio.gather(*list(self._publishing), return_exceptions=True)

    async def checkpoint(self, client: MqttClient | None) -> None:
        """Store the state of the wearers touched since the last checkpoint, then acknowledge the messages that
        produced it (in that order: a crash in between redelivers them), once their outputs are with the broker.

        The consumer is held only for the cut, an instant: the messages handled so far, the wearers they touched and
        the publications they made are taken, and it goes on with the next messages. Each touched wearer's state is
        encoded as it was at the cut, a few at a time between messages (``SNAPSHOT_SLICE_S``), and at once, before
        the consumer changes it, when a message for that wearer comes first (``_snapshot_before``); the snapshots
        are written in one transaction, in a worker thread, when the cut's publications have their PUBACKs, and only
        then are the cut's messages acknowledged. So a prompt never waits for the checkpoint that makes its input's
        state durable: it is in the outbox and on its way when its message is handled (docs/prompts.md, "Restart
        safety")."""
        async with self._checkpointing:  # one at a time: each stores what was touched before its cut
            async with self._lock:
                cut = time.perf_counter()
                touched, self._dirty = self._dirty, set()
                unacked, self._unacked = self._unacked, []
                in_flight = list(self._publishing)
                self._to_snapshot = {w for w in touched if w in self.engine.wearers} if self.state else set()
                self._snapshots = {}
            try:
                encoding_s = 0.0
                deferred_until = time.perf_counter() + DEFER_TO_URGENT_S
                while self._to_snapshot:
                    if self._intake.urgent_waiting and time.perf_counter() < deferred_until:
                        await asyncio.sleep(0)  # an urgent wearer's message first (alerts.intake)
                        continue
                    began = time.perf_counter()
                    for wearer in list(self._to_snapshot):  # at least one, then for SNAPSHOT_SLICE_S
                        self._snapshot_before(wearer)
                        if time.perf_counter() - began >= SNAPSHOT_SLICE_S:
                            break
                    encoding_s += time.perf_counter() - began
                    await asyncio.sleep(0)  # the consumer's turn
                encoded = time.perf_counter()
                while in_flight:  # every output of the cut's messages is with the broker (or failed)
                    await asyncio.gather(*in_flight, return_exceptions=True)
                    in_flight = [f for f in in_flight if not f.done()]
                flushed = time.perf_counter()
                if self.state is not None and self._snapshots:
                    rows = list(self._snapshots.items())
                    self._storing = set()
                    try:  # in a worker thread: the consumer goes on; a wearer erased meanwhile is dropped after
                        await asyncio.to_thread(self.state.store_apart, rows)
                    finally:
                        erased, self._storing = self._storing, None
                    if erased:
                        self.state.drop_snapshots(erased)
                stored = time.perf_counter()
            except BaseException:  # cancelled (the link dropped, a stop): the next checkpoint stores them
                self._dirty |= touched
                self._to_snapshot = set()
                raise
            finally:
                self._snapshots = {}
            if client is not None:
                await self._acknowledge(client, unacked)
            self._last_checkpoint = time.monotonic()
            if len(self.paths.checkpoint_total_s) < KEEP:
                self.paths.checkpoint_encode_s.append(encoding_s)
                self.paths.checkpoint_flush_s.append(flushed - encoded)
                self.paths.checkpoint_store_s.append(stored - flushed)
                self.paths.checkpoint_total_s.append(time.perf_counter() - cut)
            if self.state is not None and self._last_checkpoint - self._last_prune > PRUNE_EVERY_S:
                self._last_prune = self._last_checkpoint
                pruned = self.state.prune(keep_ms=OUTBOX_KEEP_MS)
                if pruned:
                    _LOGGER.info("%s: the outbox forgot %d old prompts", self.name, pruned)

    async def _acknowledge(self, client: MqttClient, unacked: list[tuple[int, int]]) -> None:
        """The cut's PUBACKs, in order, for ``SNAPSHOT_SLICE_S`` at a time between messages: each is a packet the MQTT
        client queues and writes (a few microseconds), and a checkpoint at 1,000 messages a second has 5,000 of
        them, which written at once held the consumer tens of milliseconds (issue 18 item 1)."""
        began = time.perf_counter()
        deferred_until = began + DEFER_TO_URGENT_S
        for i, (mid, qos) in enumerate(unacked):
            ack(client, mid, qos)
            if i % 64 == 63 and time.perf_counter() - began >= SNAPSHOT_SLICE_S:
                await asyncio.sleep(0)  # the consumer's turn
                while self._intake.urgent_waiting and time.perf_counter() < deferred_until:
                    await asyncio.sleep(0)  # and an urgent wearer's message before the next slice
                began = time.perf_counter()

    def _snapshot_before(self, wearer: str) -> None:
        """Encode the wearer's state for the checkpoint under way, as it was at its cut, if it is still to be (the
        consumer calls this before a message changes the wearer's state)."""
        if wearer in self._to_snapshot:
            self._to_snapshot.discard(wearer)
            assert self.state is not None
            self._snapshots[wearer] = self.state.encode(self.engine.wearers[wearer])

    def _publish(
        self,
        publisher: Publisher,
        topic: str,
        payload: bytes,
        on_done: Callable[[], None] | None = None,
        trace: PromptTrace | None = None,
        retain: bool = False,
    ) -> None:
        nowait = getattr(publisher, "publish_nowait", None)  # MqttClient's: no task, no wait per publication
        future: asyncio.Future[None]
        if nowait is None:
            future = asyncio.ensure_future(_publish_traced(publisher, topic, payload, trace, retain))
        else:
            if trace is not None:
                trace.sending = time.perf_counter()
            try:
                future = nowait(topic, payload, qos=1, retain=retain)
            except Exception as exc:  # refused by the client (no connection, its queue full): logged as a failure
                future = asyncio.get_running_loop().create_future()
                future.set_exception(exc)
        self._publishing.add(future)
        self._unsent += 1

        def finished(f: asyncio.Future[None]) -> None:
            self._publishing.discard(f)
            if f.cancelled():
                return
            if f.exception() is not None:
                _LOGGER.warning("%s: publishing on %s failed: %s", self.name, topic, f.exception())
                return
            if trace is not None:
                trace.acked = time.perf_counter()
            if on_done is not None:
                on_done()

        future.add_done_callback(finished)

    async def _let_out(self, client: MqttClient) -> None:
        """Send the publications just made before the next message is handled (a chunk of messages is handled without
        a pause): with Kinetic's client at once, in one write (``MqttClient.send_now``); with another, three turns of
        the loop: the publish tasks start (paho queues each packet and asks the loop to watch the socket), the loop
        polls the socket, its writer sends; each turn runs whatever else is ready first, and costs a poll of its own
        (issue 18 item 1; alerts.latency measures ``sending``)."""
        self._unsent = 0
        send_now = getattr(client, "send_now", None)
        if send_now is not None:
            send_now()
            return
        for _ in range(3):
            await asyncio.sleep(0)

    def _command(self, command: CommandV1) -> list[Output]:
        applied, outputs = self.engine.command(command)
        _LOGGER.info(
            "%s %s: %s%s%s",
            self.name,
            command.wearer,
            command.kind,
            f" {command.prompt_id}" if command.prompt_id else "",
            "" if applied else " not applied (unknown device or prompt, the bout is over, or a repeat)",
        )
        return outputs

    async def handle(
        self, publisher: Publisher, topic: str, payload: bytes, now_ms: int | None = None, retained: bool = False
    ) -> None:
        """One message: decoded against the contract, times checked against this host's clock (``now_ms``, read
        here if not given), through the engine. Whatever it refuses is dead-lettered with the reason; an error
        inside the engine is logged, counted and dead-lettered too: one message never stops the service.
        ``retained``: the broker sent it because it was retained (a new subscription), not because it was just
        published; a retained command is refused (``retained_command_problem``)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        self._withhold_ack = False
        if not payload and topic.endswith(("/commands", "/erasure")):
            return  # a retained command cleared (MQTT deletes a retained message with an empty one): no message
        try:
            batch, partial = decode_salvaging(self.topics.parse(topic), payload)
            if isinstance(batch, SessionSamplesV1):
                await self._session_samples(publisher, topic, payload, batch)
                return
            if not isinstance(batch, FeatureBatchV1 | CommandV1):
                raise WireError(f"expected a feature batch or a command on {topic}")
            if isinstance(batch, CommandV1):
                if retained:
                    raise WireError(retained_command_problem())
                ahead = time_ahead_problem(batch, now_ms, self.max_ahead_ms)  # the one rule (a 1970 clock: none)
                if ahead is not None:
                    raise WireError(ahead)
            else:
                kept, reason = frames_not_ahead(batch.frames, now_ms, self.max_ahead_ms)
                if reason is not None:  # refused, and the other frames kept
                    partial = reason if partial is None else f"{partial}; {reason}"
                    if not kept:
                        raise WireError(partial)
                    batch = batch.model_copy(update={"frames": kept})
            if partial is not None:  # the good frames go on; the message is set aside with what was left out
                await self.dead_letters.send(publisher, topic, payload, partial)
        except WireError as exc:
            await self.dead_letters.send(publisher, topic, payload, str(exc))
            return
        if isinstance(batch, CommandV1) and batch.kind in ("session_start", "session_end"):
            await self._session_command(publisher, topic, payload, batch, now_ms)
            return
        trace = self._trace
        if trace is not None:
            trace.decoded = time.perf_counter()
            if isinstance(batch, FeatureBatchV1) and batch.frames:
                trace.age_ms = now_ms - batch.frames[-1].t_ms
        self._snapshot_before(batch.wearer)  # a checkpoint under way stores the state before this message
        self._dirty.add(batch.wearer)
        try:
            await self._act(publisher, batch, now_ms)
        except Exception as exc:  # a bug the data found: this message is set aside, every other wearer goes on
            self.internal_errors += 1
            _LOGGER.exception("%s %s: handling failed, dead-lettered", self.name, topic)
            await self.dead_letters.send(publisher, topic, payload, f"internal error: {exc!r}"[:500])
        self._foresee(batch)
        await self.publish_policy(
            publisher, batch.wearer, forgotten=isinstance(batch, CommandV1) and batch.kind == "forget"
        )
        while self.engine.refused:  # a frame held as a jump ahead, refused as a clock glitch (ingest/order.py)
            await self.dead_letters.send(publisher, topic, payload, self.engine.refused.pop(0))

    def _foresee(self, batch: FeatureBatchV1 | CommandV1) -> None:
        """After a wearer's message: note how far it reached (its last frame) and its span, from which
        ``_due_soon`` tells how far the wearer's next messages will reach."""
        if isinstance(batch, CommandV1):  # a command moves no clock; a forgotten wearer is forgotten here too
            if batch.kind == "forget":
                self._reach.pop(batch.wearer, None)
            return
        if batch.frames:
            last_ms = batch.frames[-1].t_ms
            self._reach[batch.wearer] = (last_ms, last_ms - batch.frames[0].t_ms + 1000)

    def _due_soon(self, wearer: str, intake: Intake[tuple[aiomqtt.Message, float, int]]) -> bool:
        """Will the wearer's waiting messages make a prompt due (``AlertEngine.prompt_due_by``)? Each is expected to
        span what the wearer's last handled message spanned (a collector sends batches of one length), so the ``k``
        waiting reach ``k`` spans past its last frame. A hint for the intake's order only (alerts.intake)."""
        reach = self._reach.get(wearer)
        if reach is None:
            return False
        return self.engine.prompt_due_by(wearer, reach[0] + intake.waiting(wearer) * reach[1])

    async def publish_policy(self, publisher: Publisher, wearer: str, forgotten: bool = False) -> None:
        """Retain the policy the engine applies to ``wearer`` on their policy topic (``PolicyV1``) when it differs
        from the one last published: at start, after a ``policy`` command, at a wearer's first message. A ``forget``
        (``forgotten``) clears it (an empty retained message). Published as the service's other outputs
        (``_publish``): the consumer does not wait for the PUBACK; a checkpoint does, before it acknowledges."""
        topic = self.topics.policy(wearer)
        if forgotten:
            self._policies_sent.pop(wearer, None)
            self._publish(publisher, topic, b"", retain=True)
            return
        if wearer not in self.engine.wearers and wearer not in self.engine.policies.wearers:
            return  # a command for a wearer the service keeps nothing of (an unknown prompt's ack)
        policy = self.engine.policy(wearer)
        sent = self._policies_sent.get(wearer)
        if sent is not None and sent[0] is policy:
            return  # the engine resolves a wearer's policy again only after a change: nothing new (every batch)
        state = self.engine.wearers.get(wearer)
        live = state.live_policy if state is not None else None
        message = policy_message(self.engine.policies, wearer, live, policy, int(time.time() * 1000))
        self._policies_sent[wearer] = (policy, message)
        if sent is not None and same_policy(sent[1], message):
            return
        _LOGGER.info("%s %s: policy in force published on %s", self.name, wearer, topic)
        self._publish(publisher, topic, encode(message), retain=True)

    async def _session_samples(self, publisher: Publisher, topic: str, payload: bytes, chunk: SessionSamplesV1) -> None:
        """A session stream chunk into its running session (its final chunk may conclude the session: the outcome is
        published); what is refused is dead-lettered with the reason."""
        if self.sessions is None:
            await self.dead_letters.send(publisher, topic, payload, "exercise sessions are not enabled here")
            return
        try:
            events, problem = self.sessions.samples(chunk)
        except SessionRefused as exc:
            events, problem = [], str(exc)
        if problem is not None:
            await self.dead_letters.send(publisher, topic, payload, problem)
        for event in events:
            await self._event(publisher, event)
        if events:
            self._store_sessions()

    async def _sessions_due(self, publisher: Publisher) -> None:
        """Sessions ended whose stream never closed: concluded after their wait (``alerts.prompts.sessions``)."""
        if self.sessions is None or not self.sessions.closing:
            return
        async with self._lock:
            for event in self.sessions.due(int(time.time() * 1000)):
                await self._event(publisher, event)
            self._store_sessions()

    def _store_sessions(self) -> None:
        """Store the running sessions' headers when they changed (a start, an end, an outcome), so that a restart
        takes them up again (``SessionVerifier.restore``); their samples are not stored."""
        if self.state is None or self.sessions is None:
            return
        records = self.sessions.records()
        if records != self._sessions_stored:
            self.state.store_sessions(records)
            self._sessions_stored = records

    async def _session_command(
        self, publisher: Publisher, topic: str, payload: bytes, command: CommandV1, now_ms: int
    ) -> None:
        """A session_start or session_end: the outcome events it concludes are published; a refusal is
        dead-lettered with the reason. Timed as every command is (``AlertEngine.judged``: on the data's clock with
        ``commands_on_data_clock``); ``now_ms`` (this host's) only times the wait for a session's stream to close."""
        if self.sessions is None:
            await self.dead_letters.send(publisher, topic, payload, "exercise sessions are not enabled here")
            return
        if command.kind == "session_start" and command.exercise is None and command.prompt_id is not None:
            # the "Start" action of a prompt: its exercise, from the prompt the engine tracks
            state = self.engine.wearers.get(command.wearer)
            tracked = state.responses.find(command.prompt_id) if state is not None else None
            if tracked is not None:
                command = command.model_copy(update={"exercise": tracked.exercise})
        command = self.engine.judged(command)  # its start and end on the clock other commands are judged on
        try:
            events = self.sessions.command(command, now_ms)
        except SessionRefused as exc:
            await self.dead_letters.send(publisher, topic, payload, str(exc))
            return
        except Exception as exc:  # a bug the data found: this session is set aside, the service goes on
            self.internal_errors += 1
            _LOGGER.exception("%s %s: session handling failed, dead-lettered", self.name, topic)
            await self.dead_letters.send(publisher, topic, payload, f"internal error: {exc!r}"[:500])
            return
        _LOGGER.info("%s %s: %s %s", self.name, command.wearer, command.kind, command.session)
        for event in events:
            await self._event(publisher, event)
        self._store_sessions()

    async def _act(self, publisher: Publisher, batch: FeatureBatchV1 | CommandV1, now_ms: int) -> None:
        """A valid message through the engine, and what it decides out to the outbox and the channels. A prompt
        already expired by this host's clock (``now_ms``) is not sent (``send_expired``): its ``prompt_sent`` event
        becomes a ``prompt_cancelled`` with the reason."""
        outputs = self._command(batch) if isinstance(batch, CommandV1) else self.engine.process(batch)
        if self._trace is not None:
            self._trace.decided = time.perf_counter()
        if isinstance(batch, CommandV1) and batch.kind == "forget":  # kinetic data delete: not written back
            self._dirty.discard(batch.wearer)
            if self.state is not None:
                # first: a checkpoint under way must not write it back, even if the erasure below fails
                self._snapshots.pop(batch.wearer, None)
                if self._storing is not None:
                    self._storing.add(batch.wearer)
                self._erase(batch.wearer)
            if self.sessions is not None:
                self.sessions.forget(batch.wearer)
                self._sessions_stored = {k: v for k, v in self._sessions_stored.items() if k[0] != batch.wearer}
            if self.calendars is not None:
                await asyncio.to_thread(self.calendars.forget, batch.wearer)
        replayed: set[str] = set()
        expired: dict[str, EventV1] = {}
        for output in outputs:
            if isinstance(output, PromptV1):
                if not self.send_expired and output.expires.timestamp() * 1000 <= now_ms:
                    expired[output.id] = self._expired(output, now_ms)
                elif not await self._prompt(publisher, output):
                    replayed.add(output.id)
            elif output.kind == "prompt_sent" and output.prompt_id in expired:
                await self._event(publisher, expired[output.prompt_id])
            elif not (output.kind == "prompt_sent" and output.prompt_id in replayed):
                await self._event(publisher, output)

    def _erase(self, wearer: str) -> None:
        """The wearer's state erased (``AlertState.forget``). When the store refuses (SQLite busy past its timeout,
        a full disk), the forget is not dead-lettered and acknowledged as a bad message would be: the wearer's data
        would stay for good if nothing sent it again. It is left unacknowledged (``_withheld``): the broker delivers
        it again on the next connection of this persistent session (a reconnect, a restart), and the erasure runs
        again. One line says so; counted in ``erasures_failed``."""
        assert self.state is not None
        try:
            self.state.forget(wearer)
        except StateError as exc:
            self.erasures_failed += 1
            self._withhold_ack = True
            _LOGGER.warning(
                "%s %s: forget: the alert state was not erased (%s); the command is left unacknowledged, so the "
                "broker delivers it again after a reconnect or a restart and the erasure runs again",
                self.name,
                wearer,
                exc,
            )

    def _expired(self, prompt: PromptV1, now_ms: int) -> EventV1:
        """A prompt decided after it expired: not sent (the wearer would be told of a bout hours over, maybe while
        walking), no outcome followed (``AlertEngine.not_sent``); the event that says so, in its place."""
        self.engine.not_sent(prompt.wearer, prompt.id)
        self.prompts_expired += 1
        late_min = (now_ms - prompt.created.timestamp() * 1000) / 60_000
        _LOGGER.info(
            "%s %s: prompt %s expired at %s, %.0f min before its data arrived: not sent",
            self.name,
            prompt.wearer,
            prompt.id,
            prompt.expires.isoformat(),
            late_min - (prompt.expires - prompt.created).total_seconds() / 60,
        )
        return EventV1(
            kind="prompt_cancelled",
            wearer=prompt.wearer,
            t=prompt.created,
            prompt_id=prompt.id,
            trigger=prompt.trigger,
            exercise=prompt.exercise,
            bout_start=prompt.bout_start,
            reason=f"expired: decided {late_min:.0f} min late by this host's clock (its data came late), not sent",
        )

    async def _event(self, publisher: Publisher, event: EventV1) -> None:
        self._publish(publisher, self.topics.events(event.wearer), encode(event))
        self.events_published += 1
        if self.on_event is not None:
            self.on_event(event)

    async def _prompt(self, publisher: Publisher, prompt: PromptV1) -> bool:
        """Send a new prompt on the wearer's channels; False if the outbox knows it (a replay after a restart)."""
        channels = self.engine.policy(prompt.wearer).channels
        if self.state is not None and not self.state.record_prompt(prompt, channels):
            self.prompts_replayed += 1
            _LOGGER.info(
                "%s %s: prompt %s was decided before the restart, not sent again", self.name, prompt.wearer, prompt.id
            )
            return False
        _LOGGER.info(
            "%s %s: prompt %s (%s) at %s",
            self.name,
            prompt.wearer,
            prompt.id,
            prompt.exercise,
            prompt.created.isoformat(),
        )
        trace = self.paths.prompt(self._trace) if self._trace is not None else None
        if trace is not None:
            trace.outbox = time.perf_counter()
        for channel in channels:
            await self._deliver(publisher, prompt, channel, trace)
        if self.on_prompt is not None:
            self.on_prompt(prompt)
        return True

    async def _deliver(
        self, publisher: Publisher, prompt: PromptV1, channel: str, trace: PromptTrace | None = None
    ) -> None:
        if channel == "mqtt":
            self.prompts_published += 1
            self._publish(
                publisher,
                self.topics.prompts(prompt.wearer),
                encode(prompt),
                lambda: self.delivery_result(prompt, "mqtt", "done", None),
                trace,
            )
            return
        policy = self.engine.policy(prompt.wearer)
        target = policy.ntfy_topic if channel == "ntfy" else None
        ttl_s = (prompt.expires - prompt.created).total_seconds()
        if self.dispatcher is None or not self.dispatcher.submit(prompt, channel, target, ttl_s):
            self.delivery_result(
                prompt, channel, "rejected", f"channel {channel!r} is not configured in this alert service"
            )

    async def resume_deliveries(self, publisher: Publisher) -> None:
        """After a restart: deliver what the outbox still holds as pending."""
        if self.state is None:
            return
        pending = self.state.pending()
        if pending:
            _LOGGER.info("%s: resuming %d pending deliveries from the outbox", self.name, len(pending))
        for delivery in pending:
            await self._deliver(publisher, delivery.prompt, delivery.channel)

    def delivery_result(self, prompt: PromptV1, channel: str, outcome: str, error: str | None) -> None:
        """A delivery finished (or an attempt failed): the outbox records it; a prompt that could not be delivered
        is dead-lettered with the reason."""
        if self.state is not None:
            if outcome == "failed_attempt":
                self.state.failed_attempt(prompt.id, channel, error or "")
            else:
                self.state.mark(prompt.id, channel, outcome, error)
        if outcome in ("rejected", "expired"):
            self._late.append((self.topics.prompts(prompt.wearer), f"{channel} {outcome}: {error}", encode(prompt)))

    async def _flush_late(self, publisher: Publisher) -> None:
        while self._late:
            topic, reason, payload = self._late.pop(0)
            await self.dead_letters.send(publisher, topic, payload, reason)


async def _publish_traced(
    publisher: Publisher, topic: str, payload: bytes, trace: PromptTrace | None, retain: bool = False
) -> None:
    """One QoS 1 publication; a prompt's trace notes when it started on the event loop."""
    if trace is not None:
        trace.sending = time.perf_counter()
    await publisher.publish(topic, payload, qos=1, retain=retain)
