"""The dashboards side's commands: ``report`` (the weekly report) and ``dashboards`` (check the generated Grafana
dashboards, push them). Assembled by ``kinetic.cli``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.engine import policy_book
from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import load_prescriptions
from dashboards.report.consented import ConsentedQueries
from dashboards.report.sessions import doses_on_file
from dashboards.settings import DashboardsConfig
from ingest.audit import record_read
from ingest.clinics import Clinic
from ingest.consent import ConsentLedger, clinic_read_refusal
from ingest.errors import ConfigError
from ingest.settings import InfluxSettings
from ingest.store.export import check_output_folder, describe_store, open_queries, open_wearer_queries
from ingest.store.queries import Queries, unknown_wearer
from ingest.wall import ConsentBook
from ingest.wire import check_id


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` and ``dashboards`` to the ``kinetic`` command's subcommands."""
    report = sub.add_parser(
        "report",
        help="write a wearer's weekly report (HTML with plots, and a CSV of the daily metrics)",
        description="Reads the store the settings name (KINETIC_STORE__KIND): InfluxDB through InfluxQL, or the "
        "embedded SQLite store. The figures are those of the Weekly review dashboard (docs/metrics.md).",
    )
    report_sub = report.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    weekly = report_sub.add_parser("weekly", help="one wearer, one ISO week")
    weekly.add_argument("--wearer", required=True, help="wearer id")
    weekly.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47 (Monday to Sunday)")
    weekly.add_argument("--out", type=Path, default=Path("."), help="folder to write into (default: here)")
    weekly.add_argument(
        "--tz",
        help="time zone of the days and hours (default: the wearer's, from their policy; UTC only if the policy "
        "names none, as the prompts and hourly summaries then also run on UTC)",
    )
    weekly.add_argument("--paper", choices=("A4", "Letter"), default="A4", help="page size to print on (portrait)")
    weekly.add_argument(
        "--clinic",
        help="run for this clinic (a uid of the clinics file): refused unless the wearer is its patient and grants it "
        "their posture data now (kinetic consent); with the wall, read from the clinic's database",
    )
    weekly.add_argument(
        "--sitting-goal-h",
        type=float,
        default=None,
        help="the most hours of sitting a day the summary measures days against (default: 8, Ekelund et al. 2016)",
    )
    weekly.add_argument("--pdf", action="store_true", help="also print the report to PDF (needs Chromium)")

    dash = sub.add_parser(
        "dashboards",
        help="Grafana: check the generated dashboards, or push them with folders, teams and the data source",
    )
    dash_sub = dash.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)
    dash_sub.add_parser("check", help="fail if dashboards/grafana/provisioning/dashboards/json differs from the code")
    push = dash_sub.add_parser(
        "push",
        help="create/update per-clinic folders, teams, permissions and dashboards in a running Grafana",
        description="Uses KINETIC_GRAFANA__URL, KINETIC_GRAFANA__TOKEN (a service-account token with the Admin "
        "role), KINETIC_GRAFANA__CLINICS_FILE (see deploy/clinics.yaml) and KINETIC_GRAFANA__DATASOURCE_URL; the "
        "data source gets KINETIC_INFLUX__DATABASE and KINETIC_INFLUX__TOKEN (2.x/3.x) or KINETIC_INFLUX__USERNAME and "
        "KINETIC_INFLUX__PASSWORD (1.x).",
    )
    push.add_argument("--clinics", type=Path, help="clinics file (overrides KINETIC_GRAFANA__CLINICS_FILE)")
    push.add_argument(
        "--consenting-only",
        action="store_true",
        help="offer each clinic only the patients who grant it their posture data now (kinetic consent, "
        "KINETIC_STORE__CONSENT_PATH); always so with the wall between clinics (KINETIC_STORE__CLINIC_WALL)",
    )


def cmd_report(args: argparse.Namespace, settings: DashboardsConfig) -> int:
    from dashboards.report import render  # noqa: PLC0415 - only this command needs it
    from dashboards.report.pdf import print_pdf  # noqa: PLC0415
    from dashboards.report.weekly import DEFAULT_SITTING_GOAL_H, BadWeek, Goals, weekly_report  # noqa: PLC0415

    wearer = check_id(args.wearer)
    check_output_folder(args.out)  # a wrong --out is one line before the work, not a traceback after it
    policy = policy_book(settings.alerts).for_wearer(wearer)
    tz = args.tz or policy.timezone
    if args.tz:
        tz_source = "given with --tz"
    elif tz == "UTC":
        tz_source = (
            "the wearer's policy names no time zone, so their prompts and hours also run on UTC: set "
            "'timezone' in the policy file, or give --tz"
        )
    else:
        tz_source = "the wearer's time zone, from their policy"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--tz {tz!r} is not a known time zone") from None
    goal_h = DEFAULT_SITTING_GOAL_H if args.sitting_goal_h is None else args.sitting_goal_h
    if not 0 < goal_h <= 24:
        raise ConfigError(f"--sitting-goal-h {args.sitting_goal_h!r} must be more than 0 and at most 24 (hours a day)")
    goals = Goals(
        sitting_h_per_day=goal_h,
        bout_min=policy.sitting_threshold_min,
        source=(
            f"sitting at most {goal_h:g} h a day "
            + ("(--sitting-goal-h)" if args.sitting_goal_h is not None else "(default; Ekelund et al., Lancet 2016)")
            + f", no sitting bout over {policy.sitting_threshold_min:g} min (the wearer's prompt threshold)"
        ),
    )

    on_file = None  # a hand-written prescription's dose until its first recorded change (dashboards/report/sessions)
    if settings.alerts.prescriptions_file is not None and settings.alerts.prescriptions_file.exists():
        catalog = {e.id for e in load_catalog(settings.alerts.catalog_dirs)}
        on_file = doses_on_file(load_prescriptions(settings.alerts.prescriptions_file, catalog).get(wearer, []))
    influx = settings.influx
    for_clinic = ""
    book = None
    if args.clinic:
        influx, book = _for_clinic(settings, wearer, check_id(args.clinic))
        for_clinic = f" for clinic {args.clinic}"

    async def job() -> int:
        queries: Queries  # for a clinic: its database; the wearer's own: wherever their data is (the wall)
        queries, close = (open_queries if book is not None else open_wearer_queries)(settings.store, influx)
        if book is not None:  # only the categories and times the wearer grants the clinic, wall or not
            queries = ConsentedQueries(queries, wearer, check_id(args.clinic), book)
        try:
            known = await queries.wearers()
            if wearer not in known:
                raise unknown_wearer(wearer, known, describe_store(settings.store, influx))
            report = await weekly_report(
                queries, wearer, args.week, tz, tz_source=tz_source, goals=goals, on_file=on_file
            )
        except BadWeek as exc:
            raise ConfigError(str(exc)) from None
        finally:
            await close()
        try:
            html_path, csv_path = render.write(report, args.out, paper=args.paper)
        except OSError as exc:  # the folder was fine a moment ago: a full disk, a file made read-only
            raise ConfigError(f"--out {args.out}: cannot write the report ({exc})") from None
        record_read(settings.audit, "report weekly", wearer, f"{args.week}{for_clinic}: {html_path}")
        pdf_path = await asyncio.to_thread(print_pdf, html_path) if args.pdf else None
        days = len(report.days_with_data)
        plural = "day" if days == 1 else "days"
        print(f"weekly report for {wearer}, {args.week} ({tz}): {days} {plural} with data", file=sys.stderr)
        if not days:
            print(f"kinetic: warning: no data for {wearer} in {args.week}", file=sys.stderr)
        print(html_path)
        print(csv_path)
        if pdf_path:
            print(pdf_path)
        return 0

    return asyncio.run(job())


def _for_clinic(settings: DashboardsConfig, wearer: str, clinic: str) -> tuple[InfluxSettings, ConsentBook]:
    """The store settings a report for ``clinic`` reads with (the clinic's database under the wall) and the consent
    records it reads by (``ConsentedQueries``: without the wall the database holds every category). Raises
    ConfigError when the wearer is not the clinic's patient or does not grant it their posture data now."""
    from ingest.clinics import load_clinics  # noqa: PLC0415
    from ingest.wall import database_name  # noqa: PLC0415

    path = settings.store.clinics_file or settings.grafana.clinics_file
    if path is None:
        raise ConfigError("--clinic needs the clinics file: set KINETIC_STORE__CLINICS_FILE")
    book = ConsentLedger(settings.store.consent_path).book()
    refusal = clinic_read_refusal(load_clinics(path), book, wearer, clinic, round(time.time() * 1000))
    if refusal is not None:
        raise ConfigError(f"{refusal}: no report for the clinic (clinics file {path}; kinetic consent show {wearer})")
    if not settings.store.clinic_wall:
        return settings.influx, book
    return settings.influx.model_copy(update={"database": database_name(settings.influx.database, clinic)}), book


def cmd_dashboards(args: argparse.Namespace, settings: DashboardsConfig) -> int:
    from dashboards.grafana import build  # noqa: PLC0415

    if args.dashboards_command == "check":
        return build.main(["--check"])
    from dashboards.grafana.push import datasource_model, load_clinics, push  # noqa: PLC0415

    clinics_path = args.clinics or settings.grafana.clinics_file or settings.store.clinics_file
    if clinics_path is None:
        raise ConfigError("setting KINETIC_GRAFANA__CLINICS_FILE (or --clinics) is needed: which clinics to create")
    if settings.grafana.token is None:
        raise ConfigError("setting KINETIC_GRAFANA__TOKEN is needed: a Grafana service-account token (Admin role)")
    clinics = load_clinics(clinics_path)
    influx = settings.influx
    datasource = datasource_model(
        settings.grafana.datasource_url,
        influx.database,
        influx.token.get_secret_value() if influx.token else None,
        influx.username,
        influx.password.get_secret_value() if influx.password else None,
    )
    own: dict[str, dict[str, Any]] | None = None
    if settings.store.clinic_wall:  # each clinic's folder reads through its own data source and read-only credential
        own = {clinic.uid: _clinic_datasource(settings, clinic) for clinic in clinics.clinics}
    follow = settings.store.clinic_wall or args.consenting_only  # the wall's gate is consent: its rosters follow it
    consent = ConsentLedger(settings.store.consent_path).book() if follow else None

    def consenting(clinic: Clinic) -> list[str]:
        assert consent is not None
        now_ms = round(time.time() * 1000)
        return [w for w in clinic.patients if "posture" in consent.clinics_now(w, now_ms).get(clinic.uid, set())]

    def progress(line: str) -> None:
        print(line, file=sys.stderr)

    rosters = push(
        settings.grafana.url,
        settings.grafana.token.get_secret_value(),
        clinics,
        datasource,
        progress,
        own,
        consenting if consent is not None else None,
    )
    for uid, wearers in rosters.items():  # the audit trail: to whom each wearer's data was offered
        for wearer in wearers:
            record_read(
                settings.audit, "dashboards push", wearer, f"offered to clinic {uid} (Grafana folder kinetic-{uid})"
            )
    print(f"pushed {len(clinics.clinics)} clinics to {settings.grafana.url}", file=sys.stderr)
    return 0


def _clinic_datasource(settings: DashboardsConfig, clinic: Clinic) -> dict[str, Any]:
    """Clinic ``clinic``'s data source under the wall, with the read-only credential ``kinetic store provision`` made
    for it in KINETIC_GRAFANA__CLINIC_SECRETS: on InfluxDB 2.x (KINETIC_INFLUX__TOKEN set) the token
    ``influxdb_clinic_<uid>_token``, on 1.x the user ``kinetic_clinic_<uid>`` and ``influxdb_clinic_<uid>_password``;
    never the operator's. Raises ConfigError naming the missing file and the command that makes it."""
    from dashboards.grafana.push import clinic_datasource_model  # noqa: PLC0415
    from ingest.store.access import clinic_user_name  # noqa: PLC0415
    from ingest.store.access_v2 import clinic_token_role, token_file  # noqa: PLC0415
    from ingest.wall import database_name  # noqa: PLC0415

    on_v2 = settings.influx.token is not None
    folder = settings.grafana.clinic_secrets
    secret = (
        token_file(folder, clinic_token_role(clinic.uid))
        if on_v2
        else folder / f"influxdb_clinic_{clinic.uid}_password"
    )
    if not secret.is_file():
        made_by = (
            "kinetic store provision with KINETIC_INFLUX__TOKEN (the all-access token)"
            if on_v2
            else ("kinetic store provision")
        )
        raise ConfigError(
            f"setting KINETIC_GRAFANA__CLINIC_SECRETS: {secret} is missing (clinic {clinic.uid}'s read-only "
            f"{'token' if on_v2 else 'password'}; {made_by} --secrets {folder} writes it)"
        )
    value = secret.read_text().strip()
    url = settings.grafana.datasource_url
    database = database_name(settings.influx.database, clinic.uid)
    if on_v2:
        return clinic_datasource_model(url, clinic, database, token=value)
    return clinic_datasource_model(url, clinic, database, clinic_user_name(clinic.uid), value)


COMMANDS: dict[str, Callable[[argparse.Namespace, DashboardsConfig], int]] = {
    "report": cmd_report,
    "dashboards": cmd_dashboards,
}
