"""Data rights on the ingest side: everything ingest holds for one wearer, and its erasure.

Ingest holds a wearer's data in four places; each would bring it back if left behind:

- the store: every measurement tagged with the wearer (the query port's ``export`` and ``delete``);
- the bridge's spool: points received but not yet written (a database outage), and the minute each of the wearer's
  devices has open in the rollup; the bridge writes both at its next start;
- the broker: retained messages under ``<root>/v1/<wearer>/#`` (the device status), which the broker hands to every
  new subscriber, the bridge included; erased by publishing an empty retained message on each topic;
- the senders' store-and-forward queues on this host (``kinetic collect``'s and ``kinetic phone``'s): messages not
  yet published (a broker outage), which they publish when the broker is back.

The alert service's state is the alerts package's (alerts/state.py); ``kinetic data`` (kinetic/data.py) puts both
together.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import aiomqtt

from ingest.bridge import ROLLUP_STATE
from ingest.errors import ConfigError, IngestError, Unreachable
from ingest.forward import parse_entry
from ingest.mqtt import MqttClient, clear_retained, connect, retained_messages
from ingest.phone.tokens import TokenStore
from ingest.settings import IngestConfig
from ingest.store import make_wall
from ingest.store.export import describe_store, open_queries
from ingest.store.rollup import MinuteRollup
from ingest.store.spool import Spool, line_wearer, open_spool
from ingest.store.walled import WalledHoldings
from ingest.wire import Topics, check_id

T = TypeVar("T")


class HeldData(Protocol):
    """What data rights need of the store: the query port's ``wearers``, ``export`` and ``delete``
    (``ingest.store.queries.Queries``, or ``ingest.store.walled.WalledHoldings`` across the wall's databases)."""

    async def wearers(self) -> list[str]: ...
    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]: ...
    async def delete(self, wearer: str) -> None: ...


class BrokerUnreachable(IngestError):
    """The broker could not be reached, so a wearer's retained messages could be neither read nor cleared."""


@dataclass(frozen=True, slots=True)
class IngestHoldings:
    """What ingest holds for one wearer."""

    measurements: dict[str, list[dict[str, Any]]]  # the store: measurement -> rows (time in ms, tags, fields)
    spooled: list[str]  # points in the bridge's spool, in the sink's line format
    open_minutes: dict[str, dict[str, object]]  # device -> the minute the bridge's rollup has open
    retained: dict[str, str]  # topic -> retained payload on the broker
    queued: list[dict[str, str]] = field(default_factory=list)  # {topic, payload} a collector or phone has not sent
    # the wearer's phones with a push token (device, platform, placement, times; never the token's hash)
    phones: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "stored rows": sum(len(rows) for rows in self.measurements.values()),
            "spooled points": len(self.spooled),
            "open minutes": len(self.open_minutes),
            "retained messages": len(self.retained),
            "queued messages": len(self.queued),
            "phone push tokens": len(self.phones),
        }


class IngestRights:
    """Reads and erases what ingest holds for a wearer: through the store's query port, the spool file the
    settings name (when it exists: the command must not create one) and, with ``broker``, the broker."""

    def __init__(self, settings: IngestConfig, queries: HeldData, *, broker: bool = True) -> None:
        self.settings = settings
        self.queries = queries
        self.broker = broker
        self.topics = Topics(settings.mqtt.topic_root)

    def retained_filter(self, wearer: str) -> str:
        return f"{self.topics.base}/{check_id(wearer)}/#"

    def places(self, wearer: str) -> list[str]:
        """Where this looks, in words (for the command's summary)."""
        spool = self.settings.bridge.spool_path
        queues = (self.settings.collector.queue_path, self.settings.phone.queue_path)
        mqtt = self.settings.mqtt
        return [
            f"store: {describe_store(self.settings.store, self.settings.influx)}"
            + (f" (and {', '.join(self.queries.databases[1:])})" if isinstance(self.queries, WalledHoldings) else ""),
            f"spool: {spool}" + ("" if spool.is_file() else " (none here)"),
            *(f"queue: {q}" + ("" if q.is_file() else " (none here)") for q in queues),
            f"phone tokens: {self.settings.phone.tokens_path}"
            + ("" if self.settings.phone.tokens_path.is_file() else " (none here)"),
            f"broker: {self.retained_filter(wearer)} at {mqtt.host}:{mqtt.port}"
            if self.broker
            else "broker: not asked (--no-broker)",
        ]

    async def wearers(self) -> list[str]:
        return await self.queries.wearers()

    async def holdings(self, wearer: str) -> IngestHoldings:
        wearer = check_id(wearer)
        measurements = await self.queries.export(wearer)
        spooled, open_minutes = await asyncio.to_thread(self._spooled, wearer)
        retained = await self._retained(wearer) if self.broker else {}
        queued = await asyncio.to_thread(self._queued, wearer, False)
        phones = await asyncio.to_thread(self._phones, wearer, False)
        return IngestHoldings(
            measurements,
            [line.decode("utf-8", "replace") for line in spooled],
            open_minutes,
            {topic: payload.decode("utf-8", "replace") for topic, payload in retained.items()},
            queued,
            phones,
        )

    async def erase(self, wearer: str) -> None:
        """Erase in the order that keeps anything from coming back: the broker's retained messages (a bridge
        starting meanwhile gets nothing), the spool (a running bridge could still write it), then the store."""
        wearer = check_id(wearer)
        if self.broker:
            topics = await self._retained(wearer)
            await self._with_broker(wearer, lambda client: clear_retained(client, topics))
        await asyncio.to_thread(self._queued, wearer, True)
        await asyncio.to_thread(self._phones, wearer, True)
        await asyncio.to_thread(self._erase_spooled, wearer)
        await self.queries.delete(wearer)

    def _phones(self, wearer: str, erase: bool) -> list[dict[str, Any]]:
        """The wearer's phones in the push-token file (``KINETIC_PHONE__TOKENS_PATH``; none when there is no file:
        the command must not create one), without the tokens' hashes; with ``erase``, their tokens revoked."""
        path = self.settings.phone.tokens_path
        if not path.is_file():
            return []
        tokens = TokenStore(path)
        devices = tokens.devices(wearer)
        if erase:
            for device in devices:
                tokens.revoke(wearer, device.device)
        return [d.model_dump(exclude={"sha256"}) for d in devices]

    def _queued(self, wearer: str, erase: bool) -> list[dict[str, str]]:
        """The wearer's messages (topic, payload) in the senders' store-and-forward queues here (the collector's and
        the phone service's; one message an entry: ingest/forward.py); with ``erase``, removed. A sender running
        meanwhile counts its file again (ingest/forward.py); the one message it may be publishing still goes out."""
        prefix = f"{self.topics.base}/{wearer}/".encode()
        found: list[dict[str, str]] = []
        for path, max_mb in (
            (self.settings.collector.queue_path, self.settings.collector.queue_max_mb),
            (self.settings.phone.queue_path, self.settings.phone.queue_max_mb),
        ):
            if not path.is_file():
                continue
            try:
                queue = Spool(path, int(max_mb * 1_000_000))
            except (OSError, sqlite3.Error) as exc:
                setting = (
                    "KINETIC_COLLECTOR__QUEUE_PATH"
                    if path == self.settings.collector.queue_path
                    else ("KINETIC_PHONE__QUEUE_PATH")
                )
                raise ConfigError(f"setting {setting}: {path} is not a sender's queue ({exc})") from None
            try:
                entries = queue.entries(lambda body: body.startswith(prefix))
                for queued in entries:
                    topic, _, payload = parse_entry(queued.body)
                    found.append({"topic": topic, "payload": payload.decode("utf-8", "replace")})
                if erase:
                    queue.remove(entries)
            finally:
                queue.close()
        return found

    def _open_spool(self) -> Spool | None:
        bridge = self.settings.bridge
        return open_spool(bridge) if bridge.spool_path.is_file() else None

    def _spooled(self, wearer: str) -> tuple[list[bytes], dict[str, dict[str, object]]]:
        spool = self._open_spool()
        if spool is None:
            return [], {}
        try:
            lines = spool.lines(lambda line: line_wearer(line) == wearer)
            return lines, MinuteRollup(spool.state(ROLLUP_STATE)).open_minutes(wearer)
        finally:
            spool.close()

    def _erase_spooled(self, wearer: str) -> None:
        spool = self._open_spool()
        if spool is None:
            return

        def without_wearer(state: str | None) -> str | None:
            if state is None:
                return None
            rollup = MinuteRollup(state)
            rollup.forget(wearer)
            return rollup.state()

        try:
            spool.erase(lambda line: line_wearer(line) == wearer, {ROLLUP_STATE: without_wearer})
        finally:
            spool.close()

    async def _retained(self, wearer: str) -> dict[str, bytes]:
        return await self._with_broker(wearer, lambda client: retained_messages(client, self.retained_filter(wearer)))

    async def _with_broker(self, wearer: str, action: Callable[[MqttClient], Awaitable[T]]) -> T:
        mqtt = self.settings.mqtt
        try:
            async with connect(mqtt, f"{mqtt.client_id_prefix}-data", max_attempts=3) as client:
                return await action(client)
        except (Unreachable, aiomqtt.MqttError) as exc:
            raise BrokerUnreachable(
                f"mqtt {mqtt.host}:{mqtt.port}: {exc}: the retained messages under {self.retained_filter(wearer)} "
                "cannot be read or cleared; check KINETIC_MQTT__HOST / KINETIC_MQTT__PORT (or, where no broker "
                "serves this installation, say --no-broker)"
            ) from exc


@contextlib.asynccontextmanager
async def ingest_rights(settings: IngestConfig, *, broker: bool = True) -> AsyncIterator[IngestRights]:
    """``IngestRights`` over the configured store; closes the store's connection on exit."""
    wall = make_wall(settings.store, settings.influx)
    if wall is not None:  # the wearer's data may be in any of the wall's databases
        walled = WalledHoldings(settings.influx, wall)
        try:
            yield IngestRights(settings, walled, broker=broker)
        finally:
            await walled.aclose()
        return
    queries, close = open_queries(settings.store, settings.influx)
    try:
        yield IngestRights(settings, queries, broker=broker)
    finally:
        await close()
