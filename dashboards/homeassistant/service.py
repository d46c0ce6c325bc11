"""``kinetic homeassistant``: Kinetic's topics -> Home Assistant's MQTT discovery and states; HA's buttons and number
-> Kinetic commands. The thin adapter around ``entities``, ``states`` and ``commands`` (docs/home-assistant.md).

One MQTT connection (clean session: what HA is shown is rebuilt from the broker's retained messages and the live
stream; nothing needs keeping while the service is away) with a last will: ``<root>/ha/status`` ``offline``,
retained, which makes every entity unavailable in HA. It reads the device and collector status (retained), events,
prompts and commands (QoS 1) and the feature batches (QoS 0: only their times are read, as the wearer's clock), HA's
command topics and HA's birth message. Whatever it cannot take is counted, logged and dead-lettered
(``<root>/v1/_deadletter/homeassistant``) with the reason; the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from alerts.engine import policy_book
from dashboards.homeassistant.commands import command_for
from dashboards.homeassistant.entities import OFFLINE, ONLINE, HaTopics, HomeAssistantError
from dashboards.homeassistant.settings import HomeAssistantConfig
from dashboards.homeassistant.states import Publication, StateTracker
from ingest.errors import WireError
from ingest.mqtt import (
    DeadLetters,
    MqttClient,
    Publisher,
    Will,
    message_batches,
    payload_bytes,
    retained_messages,
    serve,
)
from ingest.wire import (
    CommandV1,
    DeviceStatusV1,
    EventV1,
    FeatureBatchV1,
    Payload,
    PromptV1,
    Topics,
    decode,
    encode,
    frames_not_ahead,
    retained_command_problem,
)

_LOGGER = logging.getLogger(__name__)

SERVICE = "homeassistant"
Clock = Callable[[], float]  # seconds since the epoch: this host's clock, for a command's time and future frames


@dataclass
class HomeAssistantCounters:
    messages: int = 0
    published: int = 0
    commands_sent: int = 0  # Kinetic commands made from HA's buttons and number


def kinetic_version() -> str:
    try:
        return version("kinetic")
    except PackageNotFoundError:
        return "0"


@dataclass(frozen=True, slots=True)
class _Stamp:
    """One message's time, judged like a frame's."""

    t_ms: int


class HomeAssistantService:
    def __init__(
        self,
        *,
        topics: Topics,
        ha: HaTopics,
        tracker: StateTracker,
        birth_topic: str = "homeassistant/status",
        max_ahead_ms: int | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.topics = topics
        self.ha = ha
        self.tracker = tracker
        self.birth_topic = birth_topic
        self.max_ahead_ms = max_ahead_ms
        self.clock = clock
        self.dead_letters = DeadLetters(SERVICE, topics)
        self.counters = HomeAssistantCounters()
        self.ready = asyncio.Event()
        self._last_seen: dict[str, float] = {}  # wearer -> time.monotonic() of their last message

    def will(self) -> Will:
        """The last will to connect with: every entity unavailable when the service is gone."""
        return Will(self.ha.service_status(), OFFLINE.encode(), retain=True)

    async def run(self, client: MqttClient, stop: asyncio.Event) -> None:
        await client.publish(self.ha.service_status(), ONLINE.encode(), qos=1, retain=True)
        t = self.topics
        for topic_filter in (t.all_status(), t.all_collector_status(), t.all_events(), t.all_prompts()):
            await client.subscribe(topic_filter, qos=1)
        await client.subscribe(t.all_commands(), qos=1)
        await client.subscribe(t.all_erasure(), qos=1)  # forget (kinetic data delete): the entities go
        await client.subscribe(t.all_features(), qos=0)
        await client.subscribe(self.ha.all_commands(), qos=1)
        await client.subscribe(self.birth_topic, qos=1)
        await self._publish(client, self.tracker.configs())  # a reconnection: HA may have restarted meanwhile
        self.ready.set()
        _LOGGER.info("%s: Kinetic under %s, Home Assistant under %s", SERVICE, t.base, self.ha.discovery_prefix)
        tasks = {
            asyncio.create_task(self._consume(client), name=f"{SERVICE}-consume"),
            asyncio.create_task(self._flush_quiet(client), name=f"{SERVICE}-flush"),
            asyncio.create_task(stop.wait(), name=f"{SERVICE}-stop"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            # a clean stop: no last will is sent, so say it
            await client.publish(self.ha.service_status(), OFFLINE.encode(), qos=1, retain=True)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _consume(self, client: MqttClient) -> None:
        async for batch in message_batches(client):
            for message in batch:
                await self.handle(client, str(message.topic), payload_bytes(message), message.retain)

    async def _flush_quiet(self, client: MqttClient) -> None:
        """Once a wearer has sent nothing for the rate limit's interval (of this host's clock), what the limit still
        held back for them is published (``StateTracker.flush``)."""
        quiet_s = self.tracker.min_interval_ms / 1000
        while True:
            await asyncio.sleep(min(5.0, quiet_s / 2))
            now = time.monotonic()
            for wearer, seen in list(self._last_seen.items()):
                if now - seen >= quiet_s:
                    del self._last_seen[wearer]
                    await self._publish(client, self.tracker.flush(wearer))

    async def handle(self, publisher: Publisher, topic: str, payload: bytes, retained: bool = False) -> None:
        """One message from the broker; what it refuses is dead-lettered with the reason, never raised."""
        self.counters.messages += 1
        try:
            if topic == self.birth_topic:
                if payload.strip() == ONLINE.encode():  # HA (re)started: it forgets what it was told
                    _LOGGER.info("%s: Home Assistant is online: publishing every config", SERVICE)
                    await self._publish(publisher, self.tracker.configs())
                return
            if topic.startswith(self.ha.base + "/"):
                await self._ha_command(publisher, topic, payload, retained)
                return
            if not payload:  # a retained message cleared (kinetic data delete): nothing to say
                return
            _, message = decode(self.topics, topic, payload)
            if isinstance(message, CommandV1) and retained:
                raise WireError(retained_command_problem())
            now_ms = int(self.clock() * 1000)
            if isinstance(message, FeatureBatchV1):
                kept, reason = frames_not_ahead(message.frames, now_ms, self.max_ahead_ms)
                if reason is not None:
                    if not kept:
                        raise WireError(reason)
                    message = message.model_copy(update={"frames": kept})
            else:
                self._check_not_ahead(message, now_ms)
            await self._publish(publisher, self.tracker.feed(message))
            wearer = getattr(message, "wearer", None)
            if isinstance(wearer, str):
                self._last_seen[wearer] = time.monotonic()
        except (WireError, HomeAssistantError) as exc:
            await self.dead_letters.send(publisher, topic, payload, str(exc))
        except Exception as exc:  # a bug the data found: this message is set aside, the service goes on
            _LOGGER.exception("%s %s: handling failed, dead-lettered", SERVICE, topic)
            await self.dead_letters.send(publisher, topic, payload, f"internal error: {exc!r}"[:500])

    def _check_not_ahead(self, message: Payload, now_ms: int) -> None:
        """A status, event or prompt is the wearer's clock here (``StateTracker``): one stamped more than
        ``max_ahead_ms`` ahead of this host's clock would move their day to tomorrow and forget today. Judged by the
        rule every receiver uses for frames (``ingest.wire.frames_not_ahead``); raises WireError naming the time."""
        stamped: tuple[str, int] | None = None
        if isinstance(message, DeviceStatusV1) and message.t_ms is not None:
            stamped = ("status t_ms", message.t_ms)
        elif isinstance(message, EventV1):
            stamped = (f"{message.kind} event t", round(message.t.timestamp() * 1000))
        elif isinstance(message, PromptV1):
            stamped = ("prompt created", round(message.created.timestamp() * 1000))
        if stamped is None:
            return
        what, t_ms = stamped
        kept, _ = frames_not_ahead([_Stamp(t_ms)], now_ms, self.max_ahead_ms)
        if not kept:
            when = datetime.fromtimestamp(t_ms / 1000, UTC).isoformat()
            raise WireError(
                f"{what} {when} is {(t_ms - now_ms) / 1000:.0f} s ahead of this host's clock "
                "(KINETIC_CLOCK__MAX_AHEAD_S)"
            )

    async def _ha_command(self, publisher: Publisher, topic: str, payload: bytes, retained: bool) -> None:
        """A button pressed or a number set in HA -> a Kinetic command on ``<root>/v1/<wearer>/commands``."""
        if not payload:
            return
        if retained:  # HA publishes commands without retain; a retained one would be obeyed at every start
            raise HomeAssistantError(f"{topic}: a retained command is refused (publish it without retain)")
        wearer, _ = self.ha.parse_command(topic)
        at = datetime.fromtimestamp(self.clock(), UTC)
        command = command_for(self.ha, topic, payload, at, self.tracker.policy(wearer))
        await publisher.publish(self.topics.commands(command.wearer), encode(command), qos=1)
        self.counters.commands_sent += 1
        _LOGGER.info("%s %s: %s from Home Assistant (%s)", SERVICE, command.wearer, command.kind, topic)

    async def _publish(self, publisher: Publisher, publications: list[Publication]) -> None:
        for p in publications:
            await publisher.publish(p.topic, p.payload, qos=1, retain=p.retain)
        self.counters.published += len(publications)


def build_service(settings: HomeAssistantConfig, clock: Clock = time.time) -> HomeAssistantService:
    """The service from settings: Kinetic's topic root, HA's discovery prefix, the alert service's policy file."""
    ha_settings = settings.homeassistant
    ha = HaTopics(settings.mqtt.topic_root, ha_settings.discovery_prefix)
    tracker = StateTracker(
        ha,
        policy_book(settings.alerts),
        sw_version=kinetic_version(),
        min_interval_ms=round(ha_settings.min_interval_s * 1000),
    )
    return HomeAssistantService(
        topics=Topics(settings.mqtt.topic_root),
        ha=ha,
        tracker=tracker,
        birth_topic=ha_settings.birth_topic,
        max_ahead_ms=settings.clock.max_ahead_ms,
        clock=clock,
    )


async def run_homeassistant(settings: HomeAssistantConfig, stop: asyncio.Event) -> None:
    """``kinetic homeassistant`` until ``stop``: connected (and reconnected) by ``ingest.mqtt.serve``."""
    service = build_service(settings)
    client_id = f"{settings.mqtt.client_id_prefix}-homeassistant"
    await serve(service.run, settings.mqtt, client_id, stop, clean_session=True, will=service.will())


async def wearer_retained(client: MqttClient, ha: HaTopics, wearer: str) -> dict[str, bytes]:
    """What the broker retains of one wearer for Home Assistant: the discovery configs of its entities and their
    states (``kinetic data export / delete``)."""
    found = await retained_messages(client, ha.wearer_configs(wearer))
    found.update(await retained_messages(client, ha.wearer_states(wearer)))
    return found
