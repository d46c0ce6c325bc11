"""``kinetic homeassistant``: each wearer as a Home Assistant device, by MQTT discovery (docs/home-assistant.md).
Assembled by ``kinetic.cli``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dashboards.homeassistant.service import run_homeassistant
from dashboards.homeassistant.settings import HomeAssistantConfig
from ingest.process import run_until_signal


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``homeassistant`` to the ``kinetic`` command's subcommands."""
    sub.add_parser(
        "homeassistant",
        help="each wearer as a Home Assistant device (MQTT discovery): posture, sitting today, prompts, pause, "
        "threshold",
        description="Publishes Home Assistant discovery configs (KINETIC_HOMEASSISTANT__DISCOVERY_PREFIX) and the "
        "entities' states from Kinetic's events, prompts and status on the same broker (KINETIC_MQTT__*); turns HA's "
        "buttons and number into Kinetic commands, checked against the policy (KINETIC_ALERTS__POLICY_FILE). HA's "
        "MQTT integration must use the same broker. See docs/home-assistant.md.",
    )


def _cmd_homeassistant(args: argparse.Namespace, settings: HomeAssistantConfig) -> int:
    run_until_signal(lambda stop: run_homeassistant(settings, stop))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, HomeAssistantConfig], int]] = {
    "homeassistant": _cmd_homeassistant,
}
