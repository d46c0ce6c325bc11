"""The alert side's commands: ``alerts`` (the service), ``prompts`` (act on a wearer's prompts, list the
catalog), ``calibrate`` and ``evaluate`` (detection on labelled recordings). Assembled by ``kinetic.cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from alerts.channels.base import ChannelError
from alerts.evaluate import report
from alerts.evaluate.run import evaluate
from alerts.prompts.catalog import load_catalog
from alerts.prompts.commands import DEFAULT, CommandRefused, checkin_command, prompt_command
from alerts.prompts.sessions import SessionRefused, session_command
from alerts.run import ask_checkin, run_alerts
from alerts.settings import AlertsConfig
from ingest.errors import ConfigError
from ingest.mqtt import send_command
from ingest.process import run_until_signal
from ingest.wire import MAX_PAUSE_MIN, MAX_SNOOZE_MIN, CommandV1, check_id


def _minutes_up_to(limit: float, words: str) -> Callable[[str], float]:
    """An argparse type for minutes: a finite number above 0 and at most ``limit`` (argparse names the option)."""

    def minutes(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
        if not 0 < value <= limit:  # also NaN and infinity
            raise argparse.ArgumentTypeError(f"{text!r}: minutes must be above 0 and at most {limit:g} ({words})")
        return value

    return minutes


_minutes = _minutes_up_to(MAX_PAUSE_MIN, "30 days")
# the wire's own bound (CommandV1.minutes): one limit, so the command line never sends what every service refuses
_snooze_minutes = _minutes_up_to(MAX_SNOOZE_MIN, "a day; longer is a pause")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``alerts``, ``prompts``, ``session``, ``calibrate`` and ``evaluate`` to the ``kinetic`` command's
    subcommands."""
    sub.add_parser(
        "alerts",
        help="posture, bouts and prompts per wearer, in event time, by each wearer's policy",
        description="Watches feature batches, tracks sitting and standing bouts and one-sided lean per wearer in "
        "event time and prompts by the wearer's policy (KINETIC_ALERTS__POLICY_FILE, docs/prompts.md) on MQTT, ntfy "
        "and a webhook; measures whether the wearer moved. Restart-safe with KINETIC_ALERTS__STATE_DIR.",
    )
    pr = sub.add_parser(
        "prompts",
        help="act on a wearer's prompts: done, snooze, pause, resume, policy; list the exercise catalog",
        description="Publishes a command on <root>/v1/<wearer>/commands for the alert service (the same path as "
        "ntfy's buttons). 'catalog' validates and lists the exercises, with clinicians' folders.",
    )
    pr_sub = pr.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    p_done = pr_sub.add_parser("done", help="the wearer did the prompt: no re-prompt for this bout")
    p_done.add_argument("wearer")
    p_done.add_argument("prompt_id")
    p_snooze = pr_sub.add_parser("snooze", help="remind again later if still sitting")
    p_snooze.add_argument("wearer")
    p_snooze.add_argument("prompt_id")
    p_snooze.add_argument("--minutes", type=_snooze_minutes, help="default: the wearer's snooze_min (10)")
    p_pause = pr_sub.add_parser(
        "pause", help="do not disturb: prompts due meanwhile are held and sent after, if still relevant"
    )
    p_pause.add_argument("wearer")
    until = p_pause.add_mutually_exclusive_group()
    until.add_argument("--for", dest="for_min", type=_minutes, metavar="MIN", help="for this many minutes")
    until.add_argument("--until", help="until this time (ISO 8601 with offset); neither: until 'resume'")
    p_resume = pr_sub.add_parser("resume", help="end a pause now")
    p_resume.add_argument("wearer")
    p_policy = pr_sub.add_parser(
        "policy",
        help="set live policy overrides: KEY=VALUE (YAML values; 'default' removes an override)",
        description="Example: kinetic prompts policy ann sitting_threshold_min=25 quiet_hours='[\"12:00-13:00\"]'. "
        "The keys are those of docs/prompts.md; they are checked here before sending.",
    )
    p_policy.add_argument("wearer")
    p_policy.add_argument("settings", nargs="+", metavar="KEY=VALUE")
    pr_sub.add_parser("catalog", help="validate and list the exercise catalog (KINETIC_ALERTS__CATALOG_DIRS)")
    p_checkin = pr_sub.add_parser(
        "checkin",
        help="the wearer reports pain (0-10) and/or stress (low, medium, high) now: stored, and used for readiness",
        description="Example: kinetic prompts checkin ann --pain 6 --stress high. Stored as a checkin event; the "
        "day's readiness decision uses the latest of the last 24 h (docs/prompts.md, Readiness).",
    )
    p_checkin.add_argument("wearer")
    p_ask = pr_sub.add_parser(
        "ask",
        help="send the wearer the check-in question on ntfy (stress: Low / Medium / High buttons)",
        description="Needs KINETIC_ALERTS__NTFY_URL, KINETIC_ALERTS__CALLBACK_URL and KINETIC_ALERTS__CALLBACK_SECRET "
        "(the buttons call back into 'kinetic alerts'); run it from a timer each morning before readiness_time.",
    )
    p_ask.add_argument("wearer")
    p_checkin.add_argument("--pain", metavar="0-10", help="pain now: 0 none, 10 worst")
    p_checkin.add_argument("--stress", metavar="LEVEL", help="stress now: low, medium or high")
    ses = sub.add_parser(
        "session",
        help="start or end a wearer's exercise session (verified from the session stream)",
        description="Publishes session_start / session_end on <root>/v1/<wearer>/commands (the 'Start' action beside "
        "Done / Snooze). The alert service verifies the session from its stream and publishes a session_outcome "
        "event (docs/exercises.md).",
    )
    ses_sub = ses.add_subparsers(dest="session_command", metavar="ACTION", required=True)
    s_start = ses_sub.add_parser("start", help="start a prescribed exercise now")
    s_start.add_argument("wearer")
    s_start.add_argument("exercise", help="a catalog id (kinetic prompts catalog)")
    s_start.add_argument("--session", help="the session's id (default: the start time and the exercise)")
    s_end = ses_sub.add_parser("end", help="end a session, with the effort and pain the wearer reports")
    s_end.add_argument("wearer")
    s_end.add_argument(
        "session",
        nargs="?",
        help="the id 'session start' printed (default: the wearer's running session, e.g. one started from a "
        "prompt's Start button)",
    )
    s_end.add_argument("--effort", type=int, help="0-10")
    s_end.add_argument("--pain", type=int, help="0-10")
    cal = sub.add_parser(
        "calibrate",
        help="tell the alert service a wearer stands still now for 5 s: their sensors' upright is taken from it",
        description="Publishes a calibrate command (kinetic/v1/<wearer>/commands) with the current time; the wearer "
        "should stand upright and still for 5 seconds. Without it, the upright is learned from walking.",
    )
    cal.add_argument("wearer")
    cal.add_argument("--device", help="only this sensor")

    ev = sub.add_parser(
        "evaluate",
        help="run the detection path on labelled recordings: per-class and bout-level results, development and "
        "leave-one-subject-out",
        description="Raw samples -> per-second features -> calibrated posture -> bouts, on dataset folders laid out "
        "like ../shared/data/* (README, labels.csv, recordings/*.csv.gz). How columns map to placements and units, "
        "the sampling rate and the subject of each file come from kinetic-dataset.yaml in the folder or from "
        "ingest/recordings/datasets/<folder name>.yaml. Scored twice: development (parameters fitted on every "
        "subject) and leave-one-subject-out (each subject scored with parameters fitted on the others only).",
    )
    ev.add_argument("datasets", nargs="+", type=Path, metavar="DATASET_DIR")
    ev.add_argument("--placement", help="only this placement configuration (thigh, trunk, wrist, thigh+trunk)")
    out = ev.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="results as JSON")
    out.add_argument("--markdown", action="store_true", help="one summary table in Markdown (docs/evaluation.md)")


def _cmd_alerts(args: argparse.Namespace, settings: AlertsConfig) -> int:
    run_until_signal(lambda stop: run_alerts(settings, stop))
    return 0


def key_value_settings(pairs: list[str], what: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs from a command line -> ``{KEY: value}``, each value read as YAML (``default`` stays the
    text ``default``: the caller says what it means). ``what`` names them in the error ("policy setting").
    Raises ConfigError naming the pair that is not ``KEY=VALUE`` or whose value is not YAML."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {pair!r} must look like KEY=VALUE")
        try:
            out[key] = yaml.safe_load(raw) if raw != DEFAULT else DEFAULT
        except yaml.YAMLError as exc:
            raise ConfigError(f"{what} {key}: value {raw!r} is not valid YAML ({exc})") from exc
    return out


def prescription_changes(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs -> changes for ``alerts.prompts.prescription.plan_change`` (YAML values; ``default`` ->
    None, the field removed): ``kinetic prescription set`` and the web app's Prescriptions page."""
    settings = key_value_settings(pairs, "prescription setting")
    return {k: None if v == DEFAULT else v for k, v in settings.items()}


def _cmd_prompts(args: argparse.Namespace, settings: AlertsConfig) -> int:
    if args.prompts_command == "catalog":
        for exercise in load_catalog(settings.alerts.catalog_dirs):
            print(
                f"{exercise.id:32} {exercise.duration_s:4d} s  {','.join(exercise.triggers):16} "
                f"{','.join(exercise.day_types):16} {exercise.title}"
            )
        return 0
    action = args.prompts_command
    if action == "ask":
        wearer = check_id(args.wearer)
        try:
            asyncio.run(ask_checkin(settings.alerts, wearer))
        except ChannelError as exc:
            raise ConfigError(f"prompts ask: {exc}") from None
        print(f"check-in question sent to {wearer} on ntfy", file=sys.stderr)
        return 0
    if action == "checkin":
        try:
            command = checkin_command(
                check_id(args.wearer), datetime.now(UTC), source="cli", pain=args.pain, stress=args.stress
            )
        except CommandRefused as exc:
            raise ConfigError(f"prompts {exc}") from None
        send_command(settings.mqtt, command)
        print(
            f"checkin sent for {command.wearer} ({settings.mqtt.topic_root}/v1/{command.wearer}/commands)",
            file=sys.stderr,
        )
        return 0
    try:
        command = prompt_command(
            action,
            check_id(args.wearer),
            datetime.now(UTC),
            source="cli",
            prompt_id=getattr(args, "prompt_id", None),
            minutes=getattr(args, "minutes", None),
            pause_for_min=getattr(args, "for_min", None),
            until=getattr(args, "until", None),
            settings=key_value_settings(args.settings, "policy setting") if action == "policy" else None,
        )
    except CommandRefused as exc:
        raise ConfigError(f"prompts {action}: {exc}") from None
    send_command(settings.mqtt, command)
    print(
        f"{action} sent for {command.wearer} ({settings.mqtt.topic_root}/v1/{command.wearer}/commands)",
        file=sys.stderr,
    )
    return 0


def _cmd_session(args: argparse.Namespace, settings: AlertsConfig) -> int:
    action = args.session_command
    if action == "start" and args.exercise not in {e.id for e in load_catalog(settings.alerts.catalog_dirs)}:
        raise ConfigError(f"session start: exercise {args.exercise!r} is not in the catalog (kinetic prompts catalog)")
    try:
        command = session_command(
            action,
            check_id(args.wearer),
            datetime.now(UTC),
            source="cli",
            session=args.session,
            exercise=getattr(args, "exercise", None),
            effort=getattr(args, "effort", None),
            pain=getattr(args, "pain", None),
        )
    except SessionRefused as exc:
        raise ConfigError(str(exc)) from None
    send_command(settings.mqtt, command)
    if command.session is not None:
        print(command.session)
    which = "" if command.session is not None else " (their running session)"
    print(f"session {action} sent for {command.wearer}{which}", file=sys.stderr)
    return 0


def _cmd_calibrate(args: argparse.Namespace, settings: AlertsConfig) -> int:
    command = CommandV1(
        kind="calibrate",
        wearer=check_id(args.wearer),
        at=datetime.now(UTC),
        device=check_id(args.device) if args.device else None,
    )
    send_command(settings.mqtt, command)
    print(
        f"calibration asked for {command.wearer} at {command.at.isoformat()}: stand upright and still for 5 s",
        file=sys.stderr,
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace, settings: AlertsConfig) -> int:
    results: dict[str, list[dict[str, Any]]] = {}
    for folder in args.datasets:
        print(f"evaluate {folder}: reading and classifying ...", file=sys.stderr)
        try:
            results[folder.resolve().name] = evaluate(folder, args.placement)
        except ValueError as exc:
            print(f"kinetic: error: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(results, indent=2))
    elif args.markdown:
        print(report.markdown(results), end="")
    else:
        print("\n\n".join(report.text(name, r) for name, r in results.items()))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, AlertsConfig], int]] = {
    "alerts": _cmd_alerts,
    "prompts": _cmd_prompts,
    "calibrate": _cmd_calibrate,
    "session": _cmd_session,
    "evaluate": _cmd_evaluate,
}
