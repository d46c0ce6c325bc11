"""``kinetic prescription``: the clinician edits a prescriptions file and runs the weekly progression (issue 19).

- ``show [WEARER]``: each wearer's prescribed exercises and dose, and the pending progression proposals;
- ``set WEARER EXERCISE KEY=VALUE ...`` (``hold_s=25``, ``tempo.down_s=3``, ``progression.automatic=true``; a
  value ``default`` removes the field) and ``remove WEARER EXERCISE``: the file is validated whole before it is
  written (file, wearer, entry and reason on error);
- ``propose [--week 2026-W49]``: after a week (default: the last whole ISO week), each prescription with a
  progression rule gets the next dose from the rule and the week's stored ``session_outcomes``
  (``alerts.prompts.progression``); every proposal is a ``progression_proposed`` event; an ``automatic`` rule's
  step is applied at once, the others wait in ``<prescriptions file>.proposals.yaml`` for the clinician; and each
  exercise prescribed in that week gets a ``session_adherence`` event (sessions done / prescribed, the weekly report's
  figures: ``dashboards.report.weekly.week_adherence_events``), which the Weekly review's adherence panel reads;
- ``accept WEARER EXERCISE [KEY=VALUE ...]`` applies a pending proposal (edited by the pairs given), ``reject``
  drops it (a ``prescription_changed`` event "unchanged; progression of ... rejected" records the decision).

Every change to the file is first published as a ``prescription_changed`` event on the wearer's prescriptions topic
(``<root>/v1/<wearer>/prescriptions``, which only the clinicians' logins and the operator may write; the bridge stores
it), then written: with the broker unreachable nothing changes. The alert service reads the file
again when it changes (``alerts.prompts.prescription.PrescriptionsFile``). Writing drops the file's YAML comments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiomqtt

from alerts.cli import prescription_changes as parse_settings
from alerts.engine import policy_book
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook
from alerts.prompts.prescription import (
    PlannedChange,
    Prescribed,
    describe_change,
    dose_text,
    load_pending,
    load_prescriptions,
    plan_change,
    plan_decision,
    save_pending,
)
from alerts.prompts.progression import proposal_event, propose, proposed_changes, week_facts
from dashboards.report.sessions import doses_on_file
from dashboards.report.weekly import iso_week, parse_week, week_adherence_events
from ingest.errors import ConfigError, Unreachable
from ingest.mqtt import connect
from ingest.store.export import open_queries
from ingest.store.queries import SessionRow
from ingest.wire import EventV1, Topics, check_id, encode
from kinetic.settings import KineticSettings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``prescription`` to the ``kinetic`` command's subcommands."""
    pr = sub.add_parser(
        "prescription",
        help="show and edit the wearers' prescribed exercises; propose and accept the weekly progression",
        description="Edits KINETIC_ALERTS__PRESCRIPTIONS_FILE (or --file); every change is published as a "
        "prescription_changed event on <root>/v1/<wearer>/prescriptions before the file is written "
        "(docs/exercises.md).",
    )
    pr.add_argument("--file", type=Path, help="the prescriptions file (default: KINETIC_ALERTS__PRESCRIPTIONS_FILE)")
    ps = pr.add_subparsers(dest="prescription_command", metavar="ACTION", required=True)
    show = ps.add_parser("show", help="the prescriptions and pending proposals")
    show.add_argument("wearer", nargs="?")
    st = ps.add_parser(
        "set",
        help="prescribe an exercise or change its dose: KEY=VALUE (YAML values; 'default' removes a field)",
        description="Example: kinetic prescription set ann side-plank-hold sets=3 hold_s=20 per_week=3 "
        "progression.add_hold_s=5 progression.max_hold_s=60. The keys are those of docs/exercises.md.",
    )
    st.add_argument("wearer")
    st.add_argument("exercise")
    st.add_argument("settings", nargs="+", metavar="KEY=VALUE")
    rm = ps.add_parser("remove", help="stop prescribing an exercise")
    rm.add_argument("wearer")
    rm.add_argument("exercise")
    pp = ps.add_parser(
        "propose",
        help="after a week: propose each prescription's next dose from its rule and the week's sessions",
        description="Run it weekly (a timer on Monday morning). Reads the week's session outcomes from the store "
        "(KINETIC_STORE__*), publishes a progression_proposed event per prescription with a progression rule "
        "and a session_adherence event (sessions done / prescribed) per exercise prescribed that week, applies "
        "automatic ones and keeps the others pending for 'accept'.",
    )
    pp.add_argument("--week", help="ISO week, e.g. 2026-W49 (default: the last whole week)")
    pp.add_argument("--wearer", help="only this wearer")
    pp.add_argument(
        "--tz",
        default=None,
        help="time zone of the week's days (default: each wearer's, from their policy, as the weekly report)",
    )
    ac = ps.add_parser("accept", help="apply a pending proposal, edited by KEY=VALUE pairs if given")
    ac.add_argument("wearer")
    ac.add_argument("exercise")
    ac.add_argument("settings", nargs="*", metavar="KEY=VALUE")
    rj = ps.add_parser("reject", help="drop a pending proposal (the dose stays)")
    rj.add_argument("wearer")
    rj.add_argument("exercise")


def cmd_prescription(args: argparse.Namespace, settings: KineticSettings) -> int:
    path: Path | None = args.file or settings.alerts.prescriptions_file
    if path is None:
        raise ConfigError("prescription: no prescriptions file: set KINETIC_ALERTS__PRESCRIPTIONS_FILE or give --file")
    catalog = {e.id for e in load_catalog(settings.alerts.catalog_dirs)}
    action = args.prescription_command
    if action == "show":
        return _show(path, catalog, args.wearer)
    if action == "propose":
        return _propose(path, catalog, settings, args)
    wearer, exercise = check_id(args.wearer), args.exercise
    if action in ("set", "remove"):
        changes = parse_settings(args.settings) if action == "set" else None
        why = "set by the clinician (cli)" if action == "set" else "removed by the clinician (cli)"
        _change(path, catalog, settings, wearer, exercise, changes, why)
        return 0
    if (wearer not in (pending := load_pending(path))) or exercise not in pending[wearer]:
        raise ConfigError(f"prescription {action}: no pending proposal for {wearer} / {exercise} (prescription show)")
    week = pending[wearer][exercise]["week"]
    edits = parse_settings(args.settings) if action == "accept" else {}
    _apply(settings, plan_decision(path, catalog, wearer, exercise, action == "accept", edits, datetime.now(UTC)))
    if action == "reject":
        print(f"{wearer} / {exercise}: the proposal of {week} dropped, the dose stays", file=sys.stderr)
    return 0


def _change(
    path: Path,
    catalog: set[str],
    settings: KineticSettings,
    wearer: str,
    exercise: str,
    changes: Mapping[str, Any] | None,
    why: str,
) -> None:
    """Validate the change, publish its event, then write the file (nothing is written if the broker is down)."""
    _apply(settings, plan_change(path, catalog, wearer, exercise, changes, why, datetime.now(UTC)))


def _apply(settings: KineticSettings, planned: PlannedChange) -> None:
    _publish(settings, [planned.event])
    planned.commit()
    print(planned.text, file=sys.stderr)


def _publish(settings: KineticSettings, events: list[EventV1]) -> None:
    mqtt = settings.mqtt
    topics = Topics(mqtt.topic_root)

    async def job() -> None:
        async with connect(mqtt, f"{mqtt.client_id_prefix}-prescription", max_attempts=3) as client:
            for event in events:
                await client.publish(topics.event_topic(event), encode(event), qos=1)  # its prescriptions topic

    if not events:
        return
    try:
        asyncio.run(job())
    except (Unreachable, aiomqtt.MqttError) as exc:
        raise ConfigError(
            f"mqtt {mqtt.host}:{mqtt.port}: {exc}: nothing was changed (every change is an event); run the same "
            "command again when the broker is back"
        ) from exc


def _show(path: Path, catalog: set[str], wearer: str | None) -> int:
    prescriptions = load_prescriptions(path, catalog) if path.exists() else {}
    pending = load_pending(path)
    if wearer is not None and wearer not in prescriptions:
        raise ConfigError(f"prescription show: {wearer!r} has no prescription in {path}")
    for w in sorted(prescriptions) if wearer is None else [wearer]:
        print(w)
        for p in prescriptions[w]:
            rule = ""
            if p.progression is not None:
                step = p.progression.add_hold_s if p.hold_s is not None else p.progression.add_reps
                top = p.progression.max_hold_s if p.hold_s is not None else p.progression.max_reps
                rule = f"; progression +{step:g} to {top:g}{', automatic' if p.progression.automatic else ''}"
            print(f"  {p.exercise:32} {dose_text(p)}{rule}")
            waiting = pending.get(w, {}).get(p.exercise)
            if waiting is not None:
                print(f"    pending ({waiting['week']}): {waiting['reason']}")
    return 0


def _propose(path: Path, catalog: set[str], settings: KineticSettings, args: argparse.Namespace) -> int:
    book = policy_book(settings.alerts)
    now = datetime.now(UTC)
    prescriptions = load_prescriptions(path, catalog)
    wearers = [check_id(args.wearer)] if args.wearer else sorted(prescriptions)
    weeks = proposal_weeks(wearers, book, args.tz, args.week, now)
    outcomes = asyncio.run(_outcomes(settings, weeks))
    zones = {w: args.tz or book.for_wearer(w).timezone for w in wearers}
    adherence = asyncio.run(_adherence(settings, weeks, zones, prescriptions))
    pending = load_pending(path)
    events: list[EventV1] = []
    automatic: list[tuple[str, str, dict[str, Any], str]] = []
    for wearer in wearers:
        week = weeks[wearer][0]
        for p in prescriptions.get(wearer, []):
            if p.progression is None:
                continue
            proposal = propose(p, week_facts(p, [_event(wearer, r) for r in outcomes[wearer]]))
            events.append(proposal_event(wearer, p, proposal, week, now))
            print(f"{wearer} / {p.exercise} ({week}): {proposal.change}: {proposal.reason}", file=sys.stderr)
            changes = proposed_changes(proposal)
            pending.get(wearer, {}).pop(p.exercise, None)  # a newer week's proposal replaces an older one
            if not changes:
                continue
            if proposal.automatic:
                automatic.append((wearer, p.exercise, changes, f"automatic progression of {week}"))
            else:
                pending.setdefault(wearer, {})[p.exercise] = {
                    "week": week,
                    "change": proposal.change,
                    **changes,
                    "reason": f"{describe_change(p, proposal.prescribed)}: {proposal.reason}",
                    "proposed": now.isoformat(timespec="seconds"),
                }
    for wearer in wearers:
        for event in adherence[wearer]:
            print(f"{wearer} / {event.exercise}: {event.reason}", file=sys.stderr)
        events.extend(adherence[wearer])
    _publish(settings, events)
    save_pending(path, pending)
    for wearer, exercise, changes, why in automatic:
        _change(path, catalog, settings, wearer, exercise, changes, why)
    return 0


def proposal_weeks(
    wearers: list[str], book: PolicyBook, tz: str | None, week: str | None, now: datetime
) -> dict[str, tuple[str, int, int]]:
    """Each wearer's week to judge: ``(ISO week name, start ms, end ms)``, cut at midnight on the wearer's own clock
    (their policy's ``timezone``, as the weekly report cuts it; ``tz`` for everyone when given). ``week`` (e.g.
    '2026-W49'; None: the last whole week before ``now`` on that clock). Raises ConfigError naming a bad zone or week.
    """
    weeks: dict[str, tuple[str, int, int]] = {}
    for wearer in wearers:
        name = tz or book.for_wearer(wearer).timezone
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"--tz {name!r} is not a known time zone") from None
        try:
            monday = parse_week(week) if week else (now.astimezone(zone) - timedelta(7)).date()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        monday -= timedelta(monday.weekday())
        start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
        weeks[wearer] = (
            iso_week(monday),
            round(start.timestamp() * 1000),
            round((start + timedelta(7)).timestamp() * 1000),
        )
    return weeks


async def _outcomes(
    settings: KineticSettings, weeks: Mapping[str, tuple[str, int, int]]
) -> dict[str, list[SessionRow]]:
    """Each wearer's session outcomes in their week ``(name, start ms, end ms)``."""
    queries, close = open_queries(settings.store, settings.influx)
    try:
        return {w: await queries.session_outcomes(w, start, end) for w, (_, start, end) in weeks.items()}
    finally:
        await close()


async def _adherence(
    settings: KineticSettings,
    weeks: Mapping[str, tuple[str, int, int]],
    zones: Mapping[str, str],
    prescriptions: Mapping[str, list[Prescribed]],
) -> dict[str, list[EventV1]]:
    """Each wearer's ``session_adherence`` events for their week (the weekly report's figures of that week)."""
    queries, close = open_queries(settings.store, settings.influx)
    try:
        return {
            w: await week_adherence_events(queries, w, name, zones[w], doses_on_file(prescriptions.get(w, [])))
            for w, (name, _, _) in weeks.items()
        }
    finally:
        await close()


def _event(wearer: str, row: SessionRow) -> EventV1:
    """A stored session outcome as the event it was (what ``week_facts`` reads)."""
    return EventV1(
        kind="session_outcome",
        wearer=wearer,
        t=datetime.fromtimestamp(row.t_ms / 1000, UTC),
        exercise=row.exercise or None,
        outcome=row.outcome if row.outcome in ("done", "partial", "skipped") else None,
        metrics=row.figures or None,
    )
