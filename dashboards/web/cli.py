"""``kinetic serve``: the personal web app (docs/web.md). Assembled by ``kinetic.cli``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from dashboards.web.settings import WebConfig
from ingest.process import run_until_signal


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the ``kinetic`` command's subcommands."""
    sub.add_parser(
        "serve",
        help="a personal web app: today live, prompts with Done / Snooze / Pause, the week, settings and devices",
        description="Serves http://127.0.0.1:8765/ (KINETIC_WEB__HOST, KINETIC_WEB__PORT) over the configured store "
        "(KINETIC_STORE__KIND: the embedded SQLite file or InfluxDB) and the MQTT broker (KINETIC_MQTT__*): live "
        "posture by server-sent events, the alert service's commands from buttons. Any address but loopback needs "
        "KINETIC_WEB__TOKEN. See docs/web.md.",
    )


def _cmd_serve(args: argparse.Namespace, settings: WebConfig) -> int:
    from dashboards.web.service import run_web  # noqa: PLC0415 - the ASGI stack only for this command

    def listening(url: str) -> None:
        print(f"kinetic serve: open {url}", file=sys.stderr, flush=True)

    run_until_signal(lambda stop: run_web(settings, stop, on_listening=listening))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, WebConfig], int]] = {
    "serve": _cmd_serve,
}
