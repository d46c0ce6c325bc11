"""``kinetic data``: a wearer's data rights, across the packages: export everything Kinetic holds for one wearer, or
delete it (and ``prune``, the embedded store's raw retention).

What is held for a wearer, and who reads and erases it (docs/data-model.md, "Data rights"):

- ingest (``ingest.rights``): the store, the bridge's spool (points not yet written, open rollup minutes), the
  broker's retained messages under ``<root>/v1/<wearer>/#`` and the senders' queues here (collector, phone);
- alerts (``alerts.state``): the alert service's state file, the wearer's snapshot and prompt outbox;
- Home Assistant (``dashboards.homeassistant``): the retained discovery configs of the wearer's entities and their
  retained states under ``<root>/ha/<wearer>/``; an empty retained config removes the entity from Home Assistant.

A running alert service also holds the wearer in memory and would write them back at its next checkpoint, so
``delete`` first sends it a ``forget`` command (on the wearer's erasure topic, which only the operator's and the
wearer's own logins may write, QoS 1: a stopped service gets it from its persistent session when it starts). Export
and delete need the broker unless ``--no-broker`` says there is none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt

from alerts.run import service_state_file
from alerts.state import AlertState, open_existing
from dashboards.homeassistant.entities import HaTopics
from dashboards.homeassistant.service import wearer_retained
from ingest.audit import record_read, wearer_entries
from ingest.consent import ConsentLedger
from ingest.errors import ConfigError, Unreachable
from ingest.mqtt import clear_retained, connect
from ingest.rights import BrokerUnreachable, IngestHoldings, IngestRights, ingest_rights
from ingest.store import make_wall
from ingest.store.embedded import EmbeddedSink
from ingest.store.export import check_output_folder, flatten, write_export
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.queries import unknown_wearer
from ingest.store.reroute import reroute
from ingest.store.reroute_v2 import reroute_v2
from ingest.wire import CommandV1, Topics, check_id, encode
from kinetic.settings import KineticSettings

T = TypeVar("T")
NO_BROKER = "no broker serves this installation (e.g. the embedded demo's): do not ask one"
SETTLE_CHECKS = 3  # a running bridge or alert service may still finish what it had in hand: look again, 1 s apart


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``data`` (export, delete, prune) to the ``kinetic`` command's subcommands."""
    data = sub.add_parser(
        "data",
        help="a wearer's data rights: export everything Kinetic holds for one wearer, or delete it",
        description="Looks in the store the settings name (KINETIC_STORE__KIND), the bridge's spool "
        "(KINETIC_BRIDGE__SPOOL_PATH), the broker's retained messages (KINETIC_MQTT__*) and the alert service's "
        "state (KINETIC_ALERTS__STATE_DIR): run it with the services' settings. See docs/data-model.md.",
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    export = data_sub.add_parser("export", help="write CSV (one file per table) and/or JSON for one wearer")
    export.add_argument("wearer", help="wearer id")
    export.add_argument("--out", type=Path, default=Path("."), help="folder to write into (default: here)")
    export.add_argument("--format", choices=["csv", "json", "both"], default="both")
    export.add_argument("--no-broker", action="store_true", help=NO_BROKER)
    delete = data_sub.add_parser("delete", help="delete everything Kinetic holds for one wearer")
    delete.add_argument("wearer", help="wearer id")
    delete.add_argument("--yes", action="store_true", help="really delete (without it, only says what would go)")
    delete.add_argument("--no-broker", action="store_true", help=NO_BROKER)

    audit = data_sub.add_parser(
        "audit",
        help="who read a wearer's data, when, through which command (the audit trail; JSON lines, oldest first)",
        description="Reads the audit trail (KINETIC_AUDIT__PATH) only: the entries of one wearer, kept for "
        "KINETIC_AUDIT__RETENTION_DAYS. The same entries are part of `kinetic data export`.",
    )
    audit.add_argument("wearer", help="wearer id")
    move = data_sub.add_parser(
        "move",
        help="with the wall between clinics: move a wearer's stored data to where the roster and consent say",
        description="After a wearer changes clinic (the clinics file lists them in the new one, the bridge was "
        "restarted to read it, the wearer granted the new clinic: kinetic consent grant), moves every point of "
        "theirs out of the other clinics' databases into the new one's (what they did not grant: into their "
        "private database). Needs the operator's InfluxDB credential (ALL on the wall's databases).",
    )
    move.add_argument("wearer", help="wearer id")
    move.add_argument("--to", required=True, help="the clinic uid the clinics file now lists the wearer in")

    prune = data_sub.add_parser(
        "prune", help="embedded store: delete raw feature points older than N days (rollups and events stay)"
    )
    prune.add_argument("--raw-days", type=int, required=True, help="keep this many days of raw points")


@dataclass(frozen=True, slots=True)
class Holdings:
    """Everything Kinetic holds for one wearer: ingest's part, the alert state's (None: no state file here) and
    Home Assistant's retained configs and states (topic -> payload)."""

    ingest: IngestHoldings
    alerts: dict[str, Any] | None
    homeassistant: dict[str, str]
    # who read this wearer's data (ingest/audit.py): exported, never counted as held (a delete keeps the trail)
    audit: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        alerts = self.alerts or {"snapshot": None, "outbox": []}
        return {
            **self.ingest.counts(),
            "alert snapshots": 0 if alerts["snapshot"] is None else 1,
            "outbox deliveries": len(alerts["outbox"]),
            "home assistant retained messages": len(self.homeassistant),
        }

    @property
    def total(self) -> int:
        return sum(self.counts().values())

    def summary(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in self.counts().items())

    def document(self) -> dict[str, Any]:
        """The export as one JSON document."""
        return {
            "measurements": self.ingest.measurements,
            "spooled": self.ingest.spooled,
            "open_minutes": self.ingest.open_minutes,
            "retained": {topic: _json_or_text(payload) for topic, payload in self.ingest.retained.items()},
            "queued": [{"topic": q["topic"], "payload": _json_or_text(q["payload"])} for q in self.ingest.queued],
            "phones": self.ingest.phones,
            "alert_state": self.alerts,
            "home_assistant": {topic: _json_or_text(payload) for topic, payload in self.homeassistant.items()},
            "audit": self.audit,
        }

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The export as tables, one CSV each (the alert snapshot as path/value rows)."""
        alerts = self.alerts or {"snapshot": None, "outbox": []}
        return {
            **self.ingest.measurements,
            "spooled": [{"line": line} for line in self.ingest.spooled],
            "open_minutes": [{"device": d, **minute} for d, minute in self.ingest.open_minutes.items()],
            "retained": [{"topic": t, "payload": p} for t, p in self.ingest.retained.items()],
            "queued": self.ingest.queued,
            "phones": self.ingest.phones,
            "alert_outbox": alerts["outbox"],
            "alert_snapshot": [] if alerts["snapshot"] is None else flatten(alerts["snapshot"]),
            "home_assistant": [{"topic": t, "payload": p} for t, p in self.homeassistant.items()],
            "audit": self.audit,
        }


def _json_or_text(payload: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def cmd_data(args: argparse.Namespace, settings: KineticSettings) -> int:
    if args.data_command == "prune":
        return _prune(args.raw_days, settings)
    if args.data_command == "audit":
        trail = wearer_entries(settings.audit)
        try:
            entries = trail.for_wearer(check_id(args.wearer)) if trail is not None else []
        finally:
            if trail is not None:
                trail.close()
        for entry in entries:
            at = datetime.fromtimestamp(entry["time"] / 1000, UTC).isoformat(timespec="milliseconds")
            print(json.dumps({"at": at, **entry}, sort_keys=True))
        print(f"{len(entries)} audit entries for {args.wearer} in {settings.audit.path}", file=sys.stderr)
        return 0
    if args.data_command == "move":
        return move(settings, check_id(args.wearer), check_id(args.to))
    wearer = check_id(args.wearer)
    if args.data_command == "export":
        check_output_folder(args.out)  # a wrong --out is one line before the work, not a traceback after it
    broker = not args.no_broker
    alerts_path = service_state_file(settings.alerts, settings.mqtt.topic_root, wearer)  # the wearer's shard's

    async def job() -> int:
        async with ingest_rights(settings, broker=broker) as ingest:
            held = await _holdings(settings, ingest, alerts_path, wearer)
            if held.total == 0:
                held_by_alerts = _in_state_file(alerts_path, AlertState.wearers, read_only=True)
                known = set(await ingest.wearers()) | set(held_by_alerts or [])
                places = [*ingest.places(wearer), f"alert state: {alerts_path or 'none'}"]
                raise unknown_wearer(wearer, known, f"({'; '.join(places)})")
            if args.data_command == "export":
                try:
                    files = write_export(wearer, held.document(), held.tables(), args.out, args.format)
                except OSError as exc:  # the folder was fine a moment ago: a full disk, a file made read-only
                    raise ConfigError(f"--out {args.out}: cannot write the export ({exc})") from None
                record_read(settings.audit, "data export", wearer, str(args.out))
                print(f"exported for {wearer}: {held.summary()}; {', '.join(map(str, files))}", file=sys.stderr)
                return 0
            if not args.yes:
                print(f"would delete for {wearer}: {held.summary()}; add --yes to delete", file=sys.stderr)
                return 1
            left = await _delete(settings, ingest, alerts_path, wearer, broker)
            record_read(settings.audit, "data delete", wearer)
            print(f"deleted for {wearer}: {held.summary()}", file=sys.stderr)
            if left.total:
                print(f"kinetic: error: still held for {wearer}: {left.summary()}", file=sys.stderr)
                return 1
            return 0

    return asyncio.run(job())


async def _delete(
    settings: KineticSettings, ingest: IngestRights, alerts_path: Path | None, wearer: str, broker: bool
) -> Holdings:
    """Delete in the order that lets nothing come back (docs/data-model.md); return what is still held after running
    services had a moment to finish what they had in hand."""
    if broker:
        await _tell_services_to_forget(settings, wearer)
    _in_state_file(alerts_path, lambda state: state.forget(wearer))
    await ingest.erase(wearer)
    await _homeassistant(settings, wearer, broker, clear=True)
    left = await _holdings(settings, ingest, alerts_path, wearer)
    for _ in range(SETTLE_CHECKS):
        if left.total == 0:
            break
        # a running bridge may still have been writing what it held when told to forget: erase again
        await asyncio.sleep(1.0)
        _in_state_file(alerts_path, lambda state: state.forget(wearer))
        await ingest.erase(wearer)
        await _homeassistant(settings, wearer, broker, clear=True)
        left = await _holdings(settings, ingest, alerts_path, wearer)
    return left


async def _holdings(settings: KineticSettings, ingest: IngestRights, alerts_path: Path | None, wearer: str) -> Holdings:
    trail = wearer_entries(settings.audit)
    try:
        audit = trail.for_wearer(wearer) if trail is not None else []
    finally:
        if trail is not None:
            trail.close()
    return Holdings(
        await ingest.holdings(wearer),
        _in_state_file(alerts_path, lambda state: state.holdings(wearer), read_only=True),
        await _homeassistant(settings, wearer, ingest.broker),
        audit,
    )


async def _homeassistant(
    settings: KineticSettings, wearer: str, broker: bool, *, clear: bool = False
) -> dict[str, str]:
    """The wearer's retained Home Assistant configs and states (topic -> payload); with ``clear``, removed (an empty
    retained message each: Home Assistant removes the entities). Nothing without a broker."""
    if not broker:
        return {}
    ha = HaTopics(settings.mqtt.topic_root, settings.homeassistant.discovery_prefix)
    mqtt = settings.mqtt
    try:
        async with connect(mqtt, f"{mqtt.client_id_prefix}-data", max_attempts=3) as client:
            found = await wearer_retained(client, ha, wearer)
            if clear:
                await clear_retained(client, found)
    except (Unreachable, aiomqtt.MqttError) as exc:
        raise BrokerUnreachable(
            f"mqtt {mqtt.host}:{mqtt.port}: {exc}: the Home Assistant entities of {wearer} "
            f"({ha.wearer_configs(wearer)}, {ha.wearer_states(wearer)}) cannot be read or removed; check "
            "KINETIC_MQTT__HOST / KINETIC_MQTT__PORT (or, where no broker serves this installation, say --no-broker)"
        ) from exc
    return {topic: payload.decode("utf-8", "replace") for topic, payload in found.items()}


def _in_state_file(path: Path | None, action: Callable[[AlertState], T], *, read_only: bool = False) -> T | None:
    """``action`` on the alert state, if there is any here (None if not): its state file, or its snapshots file alone
    (``open_existing``); ``read_only`` to read it without changing it (an export, or what a delete finds: a file of
    layout 1 stays as it is, not moved over to layout 2)."""
    state = open_existing(path, read_only=read_only) if path else None
    if state is None:
        return None
    try:
        return action(state)
    finally:
        state.close()


async def _tell_services_to_forget(settings: KineticSettings, wearer: str) -> None:
    mqtt = settings.mqtt
    command = CommandV1(kind="forget", wearer=wearer, at=datetime.now(UTC), source="cli")
    try:
        async with connect(mqtt, f"{mqtt.client_id_prefix}-data", max_attempts=3) as client:
            await client.publish(Topics(mqtt.topic_root).erasure(wearer), encode(command), qos=1)
    except (Unreachable, aiomqtt.MqttError) as exc:
        raise BrokerUnreachable(
            f"mqtt {mqtt.host}:{mqtt.port}: {exc}: the running services cannot be told to forget {wearer}; nothing was "
            "deleted; check KINETIC_MQTT__HOST / KINETIC_MQTT__PORT"
        ) from exc


def move(settings: KineticSettings, wearer: str, to: str | None, checks: int = 1) -> int:
    """Reroute the wearer's stored points by the wall as it is now (ingest/store/reroute.py); ``to``: the clinic the
    roster must list them in (None: wherever it does). ``checks`` > 1: a running bridge may still write what it had in
    hand under the old routing, so look again, 1 s apart, until nothing moves. Raises ConfigError."""
    wall = make_wall(settings.store, settings.influx)
    if wall is None:
        raise ConfigError(
            "setting KINETIC_STORE__CLINIC_WALL is off: without the wall every wearer's data is in one database, there "
            "is nothing to move (docs/privacy.md)"
        )
    if to is not None and wall.roster.get(wearer) != to:
        raise ConfigError(
            f"the clinics file ({settings.store.clinics_file}) lists {wearer} in "
            f"{wall.roster.get(wearer) or 'no clinic'}, not {to}: change it there first (and restart the bridge)"
        )
    wall.consent = ConsentLedger(settings.store.consent_path).book()
    sink = InfluxV1Sink(settings.influx)
    v2 = settings.influx.token is not None

    async def job() -> int:
        total = 0
        for attempt in range(checks):
            if attempt:
                await asyncio.sleep(1.0)
            # InfluxDB 2.x (a token): read, write to the new bucket, delete from the old (ingest/store/reroute_v2.py)
            moved = await (reroute_v2(settings.influx, wall, wearer) if v2 else reroute(sink, wall, wearer))
            for line in moved.lines():
                print(f"moved {line}", file=sys.stderr)
            total += moved.total
            if not moved.total and attempt:
                break
        record_read(settings.audit, "data move", wearer, f"to {to or 'the wall as it is now'}: {total} points")
        print(f"moved for {wearer}: {total} points", file=sys.stderr)
        return 0

    return asyncio.run(job())


def _prune(raw_days: int, settings: KineticSettings) -> int:
    if settings.store.kind != "embedded":
        print(
            "kinetic: error: prune is for the embedded store; InfluxDB 1.x expires raw points by itself with "
            "KINETIC_INFLUX__RAW_RETENTION_DAYS, 2.x by the bucket's retention",
            file=sys.stderr,
        )
        return 2
    if raw_days < 1:
        print("kinetic: error: --raw-days must be at least 1", file=sys.stderr)
        return 2
    if not settings.store.embedded_path.is_file():
        print(
            f"kinetic: error: setting KINETIC_STORE__EMBEDDED_PATH: {settings.store.embedded_path} does not exist "
            "(nothing to prune)",
            file=sys.stderr,
        )
        return 2
    sink = EmbeddedSink(settings.store.embedded_path)
    removed = sink.prune(raw_days, int(time.time() * 1000))
    asyncio.run(sink.aclose())
    print(
        f"pruned {removed} raw points older than {raw_days} days from {settings.store.embedded_path}", file=sys.stderr
    )
    return 0
