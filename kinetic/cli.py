"""The ``kinetic`` command: the composition root. It builds the settings once, assembles the commands each
package owns (``ingest.cli``, ``alerts.cli``, ``dashboards.cli``) and adds its own: ``demo`` (everything in one
process), ``data`` (a wearer's data rights, held by several packages: kinetic/data.py) and ``config``. Nothing imports
this package.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from alerts import cli as alerts_cli
from alerts.engine import policy_book
from alerts.errors import AlertsError
from dashboards import cli as dashboards_cli
from dashboards.homeassistant import cli as homeassistant_cli
from dashboards.web import cli as web_cli
from ingest import cli as ingest_cli
from ingest.errors import IngestError
from ingest.simulate.scenario import default_scenario, load_scenario
from kinetic import consent, data, prescriptions
from kinetic.demo import on_wearers_clock
from kinetic.demo_view import DemoView
from kinetic.settings import KineticSettings, load_settings

DESCRIPTION = """\
Kinetic: wearables -> MQTT -> InfluxDB -> posture alerts and micro-movement prompts.

Settings come from KINETIC_* environment variables (nested with __, e.g. KINETIC_MQTT__HOST), secret
files (KINETIC_SECRETS_DIR, default /run/secrets), and an optional TOML file (--config or
KINETIC_CONFIG). See docs/configuration.md; `kinetic config` prints the effective settings.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinetic", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, help="TOML settings file (overridden by KINETIC_* variables)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default: INFO")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="the whole pipeline on embedded defaults (no servers): simulated workday, live prompts, summary",
        description="Runs an in-process MQTT broker, the bridge into a SQLite file, the alert service and "
        "simulated wearers at accelerated time; shows prompts live and a per-wearer summary.",
    )
    demo.add_argument("--scenario", type=Path, help="scenario YAML (default: the built-in workday)")
    demo.add_argument(
        "--speed",
        type=float,
        default=2000.0,
        help="time acceleration (default 2000: an 8-hour day in about 15 s; 0 = flat out)",
    )
    demo.add_argument(
        "--db",
        type=Path,
        help="SQLite file for the day (default: the embedded store, KINETIC_STORE__EMBEDDED_PATH, in the user's "
        "data directory, where report and serve read it)",
    )
    demo.add_argument(
        "--ble",
        action="store_true",
        help="the wearers as emulated BLE sensors read by the real collector (every 52 Hz sample is emulated: "
        "use a short scenario and a speed of about 20)",
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON on stdout, nothing else")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="watch the day live in the web app (kinetic serve, KINETIC_WEB__HOST/PORT: its URL is printed); it "
        "stays up after the day until Ctrl-C",
    )

    # in the order data flows: sources and storage, detection and prompts, what people look at
    ingest_cli.add_parsers(sub)
    alerts_cli.add_parsers(sub)
    dashboards_cli.add_parsers(sub)
    homeassistant_cli.add_parsers(sub)
    web_cli.add_parsers(sub)
    data.add_parsers(sub)  # a wearer's data, held by all of them
    consent.add_parsers(sub)  # ... and who may see it
    prescriptions.add_parsers(sub)  # the clinician's prescriptions and their weekly progression (issue 19)

    cfg = sub.add_parser("config", help="print the effective settings (secrets masked) and exit")
    cfg.add_argument("--json", action="store_true", help="as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides: dict[str, Any] = {}
        if args.log_level:
            overrides["log_level"] = args.log_level
        elif args.command == "demo":
            overrides["log_level"] = "WARNING"  # the demo's terminal view shows what matters
        settings = load_settings(args.config, **overrides)
        logging.basicConfig(
            level=settings.log_level,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        command: Callable[[argparse.Namespace, KineticSettings], int] = _COMMANDS[args.command]
        return command(args, settings)
    except (IngestError, AlertsError) as exc:
        print(f"kinetic: error: {exc}", file=sys.stderr)
        return 2
    except BaseExceptionGroup as group:
        # a service's task group (the demo with --serve: its web app could not listen) raises a group: when each
        # error in it is one of ours, each is one line, as above; anything else is a bug and keeps its traceback
        ours, rest = group.split((IngestError, AlertsError))
        if ours is None or rest is not None:
            raise
        for line in dict.fromkeys(f"kinetic: error: {exc}" for exc in _leaves(ours)):
            print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _cmd_config(args: argparse.Namespace, settings: KineticSettings) -> int:
    data = settings.model_dump(mode="json")
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for line in env_lines(data):
            print(line)
    return 0


def env_lines(data: dict[str, Any]) -> Iterator[str]:
    """The settings (``model_dump(mode="json")``, secrets masked) as ``KINETIC_*`` lines in an environment file's
    form (docker's ``--env-file``: one a line, the value taken literally), each value written so that the variable
    gives it back: text as it is, numbers and booleans as JSON (``true``), lists and mappings as JSON (how
    pydantic-settings reads a complex value). An unset optional (None by default) is a comment,
    ``# KINETIC_MQTT__USERNAME: unset``: an empty value would not be unset (an empty text, or refused for a path). A
    None where the default is not (``ALERTS__STATE_DIR``: memory only; ``CLOCK__MAX_AHEAD_S``: no limit) is the
    empty value that gives it, ``KINETIC_ALERTS__STATE_DIR=``: as a comment it would read back as the default."""
    for section, values in data.items():
        items = values.items() if isinstance(values, dict) else [(None, values)]
        for key, value in items:
            name = f"KINETIC_{section.upper()}" + ("" if key is None else f"__{key.upper()}")
            if value is None:
                yield f"# {name}: unset" if _default_of(section, key) is None else f"{name}="
            else:
                yield f"{name}={value if isinstance(value, str) else json.dumps(value)}"


def _default_of(section: str, key: str | None) -> object:
    """The default of setting ``section.key`` (of the root when ``key`` is None)."""
    field = KineticSettings.model_fields[section]
    if key is None:
        return field.get_default(call_default_factory=True)
    model = field.annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model.model_fields[key].get_default(call_default_factory=True)


def _cmd_demo(args: argparse.Namespace, settings: KineticSettings) -> int:

    if args.scenario:
        scenario = load_scenario(args.scenario)
    else:  # the built-in day at 09:00 on the first wearer's clock (their policy's zone, by default this host's)
        workday = default_scenario()
        zone = policy_book(settings.alerts).for_wearer(workday.wearers[0].wearer).zone
        scenario = on_wearers_clock(workday, zone)
    if args.speed < 0:
        print("kinetic: error: --speed must be >= 0 (0 = as fast as possible)", file=sys.stderr)
        return 2
    if args.ble and not 0 < args.speed <= 100:
        print("kinetic: error: --ble needs --speed between 0 and 100 (every sample is emulated)", file=sys.stderr)
        return 2
    # the day goes where the follow-up commands (report, serve, data) read with no setting: the embedded store
    db_path = args.db or settings.store.embedded_path
    db_path.parent.mkdir(parents=True, exist_ok=True)
    view = DemoView(scenario, quiet=args.json)
    summary = view.run(settings, db_path=db_path, speed=args.speed, ble=args.ble, serve=args.serve)
    # the web app and the report read the store the settings name: say where the demo's day is unless that is the
    # default one
    plain = args.db is None and settings.store.kind == "embedded"
    store = "" if plain else f"KINETIC_STORE__KIND=embedded KINETIC_STORE__EMBEDDED_PATH={shlex.quote(str(db_path))} "
    week = scenario.start.isocalendar()
    report = (
        f"{store}kinetic report weekly --wearer {scenario.wearers[0].wearer} --week {week.year}-W{week.week:02d} "
        "--out reports/"
    )
    if summary.stopped_early and summary.stored_until is None:
        line = f"Stopped before any of the day was stored in {db_path}."
    elif summary.stopped_early:
        until = datetime.fromisoformat(str(summary.stored_until))
        line = (
            f"Stopped at {until:%H:%M}: the day until then is stored in {db_path} ({summary.frames} seconds of "
            f"{len(summary.wearers)} wearers); look at it with {store}kinetic serve. Next: {report}"
        )
    else:
        line = f"The day is stored in {db_path}; look at it with {store}kinetic serve. Next: {report}"
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
        print(line, file=sys.stderr)  # stdout carries only the JSON
    else:
        print(line)
    return 130 if summary.stopped_early else 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, KineticSettings], int]] = {
    "demo": _cmd_demo,
    **ingest_cli.COMMANDS,
    **alerts_cli.COMMANDS,
    **dashboards_cli.COMMANDS,
    **homeassistant_cli.COMMANDS,
    **web_cli.COMMANDS,
    "data": data.cmd_data,
    "consent": consent.cmd_consent,
    "prescription": prescriptions.cmd_prescription,
    "config": _cmd_config,
}
