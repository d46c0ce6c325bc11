"""``kinetic serve``: the personal web app (docs/web.md). Assembled by ``kinetic.cli``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from dashboards.web.settings import WebConfig
from ingest.errors import ConfigError
from ingest.process import run_until_signal


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the ``kinetic`` command's subcommands."""
    sub.add_parser(
        "serve",
        help="a personal web app: today live, prompts with Done / Snooze / Pause, the week, a guided exercise "
        "session, prescriptions, settings and devices, sharing",
        description="Serves http://127.0.0.1:8765/ (KINETIC_WEB__HOST, KINETIC_WEB__PORT) over the configured store "
        "(KINETIC_STORE__KIND: the embedded SQLite file or InfluxDB) and the MQTT broker (KINETIC_MQTT__*): live "
        "posture by server-sent events, the alert service's commands from buttons. Any address but loopback needs "
        "KINETIC_WEB__TOKEN or per-person logins (KINETIC_WEB__LOGINS_PATH, `kinetic web-login`). See docs/web.md.",
    )
    login = sub.add_parser(
        "web-login",
        help="per-person logins to the web app: add one for a wearer (or staff), list, remove",
        description="Each person gets their own login to `kinetic serve` (KINETIC_WEB__LOGINS_PATH): a wearer's sees "
        "and changes only that wearer's pages, sharing and commands; a staff login every wearer served. The password "
        "is printed once and stored only as its scrypt hash (file mode 600). The running app reads the file again "
        "when it changes. See docs/web.md.",
    )
    login.add_argument("--file", type=Path, help="the logins file (default: KINETIC_WEB__LOGINS_PATH)")
    actions = login.add_subparsers(dest="login_action", required=True)
    add = actions.add_parser("add", help="a new login; prints its password once")
    add.add_argument("wearer", nargs="?", help="the wearer this login sees and acts for (not with --staff)")
    add.add_argument("--name", help="the login name (default: the wearer id)")
    add.add_argument("--staff", action="store_true", help="an operator's or clinician's login: every wearer served")
    actions.add_parser("list", help="the logins: name, role, wearer (never a password or hash)")
    remove = actions.add_parser("remove", help="remove a login: its open sessions end at their next request")
    remove.add_argument("name")


def _cmd_web_login(args: argparse.Namespace, settings: WebConfig) -> int:
    from dashboards.web.logins import Logins  # noqa: PLC0415 - only this command needs it

    path: Path | None = args.file or settings.web.logins_path
    if path is None:
        raise ConfigError("kinetic web-login: set KINETIC_WEB__LOGINS_PATH (the file kinetic serve reads) or --file")
    logins = Logins(path)
    if args.login_action == "list":
        logins.check()
        for entry in logins.all():
            print(f"{entry.name}\t{entry.role}\t{entry.wearer or '(every wearer served)'}")
        return 0
    if args.login_action == "remove":
        if not logins.remove(args.name):
            raise ConfigError(f"logins file {path}: no login {args.name!r}")
        print(f"kinetic web-login: {args.name} removed from {path}", file=sys.stderr)
        return 0
    if args.staff == (args.wearer is not None):
        raise ConfigError("kinetic web-login add: give a WEARER, or --staff with --name (not both)")
    name = args.name or args.wearer
    if name is None:
        raise ConfigError("kinetic web-login add --staff: give the login's --name")
    password = logins.add(name.lower(), "staff" if args.staff else "wearer", args.wearer)
    print(f"kinetic web-login: {name.lower()} added to {path}; its password (shown only now):", file=sys.stderr)
    print(password)
    return 0


def _cmd_serve(args: argparse.Namespace, settings: WebConfig) -> int:
    from dashboards.web.service import run_web  # noqa: PLC0415 - the ASGI stack only for this command

    def listening(url: str) -> None:
        print(f"kinetic serve: open {url}", file=sys.stderr, flush=True)

    run_until_signal(lambda stop: run_web(settings, stop, on_listening=listening))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, WebConfig], int]] = {
    "serve": _cmd_serve,
    "web-login": _cmd_web_login,
}
