"""``kinetic consent grant|withdraw|show``: the wearer decides which clinic sees which of their data (issue 20,
item 3; ingest/consent.py). Each change is written to the consent records (``KINETIC_STORE__CONSENT_PATH``) and
published as an event (QoS 1) on the wearer's consent topic, from which alone the bridge routes (ingest/wall.py).
``withdraw --delete-shared`` also takes the clinic's copy back into the private database (``kinetic data move``'s
rerouting: needs the wall and the operator's InfluxDB credential)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime

import aiomqtt

from ingest.clinics import load_clinics
from ingest.consent import ConsentChange, ConsentLedger
from ingest.errors import ConfigError, Unreachable
from ingest.mqtt import connect
from ingest.wall import CATEGORIES
from ingest.wire import Topics, check_id, encode
from kinetic.settings import KineticSettings

SETTLE_CHECKS = 3  # a running bridge may write what it had in hand before it saw the withdrawal: move again


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``consent`` to the ``kinetic`` command's subcommands."""
    consent = sub.add_parser(
        "consent",
        help="which clinic may see which of a wearer's data: grant, withdraw, show (docs/privacy.md)",
        description="Records the wearer's consent (KINETIC_STORE__CONSENT_PATH) and tells the services (an event "
        "on the wearer's consent topic). With the wall between clinics (KINETIC_STORE__CLINIC_WALL) the bridge "
        "stores a wearer's data in their clinic's database only for what they granted; the rest stays private.",
    )
    actions = consent.add_subparsers(dest="consent_command", metavar="ACTION", required=True)
    data_help = f"comma-separated, of: {', '.join(CATEGORIES)} (default: all)"
    grant = actions.add_parser("grant", help="let a clinic see some of your data from a time on")
    grant.add_argument("wearer")
    grant.add_argument("--clinic", required=True, help="the clinic's uid (the clinics file)")
    grant.add_argument("--data", default=",".join(CATEGORIES), help=data_help)
    grant.add_argument("--since", help="ISO 8601 time with zone (default: now); not in the future")
    grant.add_argument("--until", help="ISO 8601 time with zone (default: until withdrawn)")
    withdraw = actions.add_parser("withdraw", help="stop sharing with a clinic from now on")
    withdraw.add_argument("wearer")
    withdraw.add_argument("--clinic", required=True)
    withdraw.add_argument("--data", default=",".join(CATEGORIES), help=data_help)
    withdraw.add_argument(
        "--delete-shared",
        action="store_true",
        help="also take back what the clinic holds: moved from its database into your private one",
    )
    for parser in (grant, withdraw):
        parser.add_argument("--no-broker", action="store_true", help="record only; tell no running service")
    show = actions.add_parser("show", help="what you granted, and to whom, now and before (JSON)")
    show.add_argument("wearer")


def _ms(text: str | None, default_ms: int, name: str) -> int:
    if text is None:
        return default_ms
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{name} {text!r}: an ISO 8601 time with zone, e.g. 2026-12-01T09:00:00+01:00") from None
    if at.tzinfo is None:
        raise ConfigError(f"{name} {text!r}: give the time zone (e.g. +01:00 or Z)")
    return round(at.timestamp() * 1000)


def cmd_consent(args: argparse.Namespace, settings: KineticSettings) -> int:
    wearer = check_id(args.wearer)
    now_ms = round(time.time() * 1000)
    if args.consent_command == "show":
        print(json.dumps(ConsentLedger(settings.store.consent_path).read(wearer, now_ms), indent=2))
        return 0
    # a clinic the clinics file does not know is a typo: the ledger refuses it (the web app's consent page too)
    clinics = None if settings.store.clinics_file is None else load_clinics(settings.store.clinics_file)
    ledger = ConsentLedger(settings.store.consent_path, clinics)
    data = [d.strip() for d in args.data.split(",") if d.strip()]
    if args.consent_command == "grant":
        since_ms = _ms(args.since, now_ms, "--since")
        until_ms = _ms(args.until, 0, "--until") or None
        change = ledger.grant(wearer, args.clinic, data, since_ms, until_ms, now_ms=now_ms)
    else:
        change = ledger.withdraw(wearer, args.clinic, data, now_ms, delete_shared=args.delete_shared)
    if not args.no_broker:
        asyncio.run(_publish(settings, change))
    print(f"consent {change.action} recorded for {wearer}: {change.clinic}, {', '.join(change.data)}", file=sys.stderr)
    if args.consent_command == "withdraw" and args.delete_shared:
        from kinetic.data import move  # noqa: PLC0415

        return move(settings, wearer, None, SETTLE_CHECKS)
    return 0


async def _publish(settings: KineticSettings, change: ConsentChange) -> None:
    mqtt = settings.mqtt
    try:
        async with connect(mqtt, f"{mqtt.client_id_prefix}-consent", max_attempts=3) as client:
            await client.publish(Topics(mqtt.topic_root).consent(change.wearer), encode(change.event()), qos=1)
    except (Unreachable, aiomqtt.MqttError) as exc:
        raise ConfigError(
            f"mqtt {mqtt.host}:{mqtt.port}: {exc}: the change is recorded but the services were not told; run the "
            "same command again when the broker is back (or say --no-broker where none serves this installation)"
        ) from exc
