"""The composition root assembles the commands each package owns; the set is the one Kinetic has always had."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from alerts import cli as alerts_cli
from dashboards import cli as dashboards_cli
from dashboards.homeassistant import cli as homeassistant_cli
from dashboards.web import cli as web_cli
from ingest import cli as ingest_cli
from ingest.wire import MAX_SNOOZE_MIN, CommandV1
from kinetic.cli import build_parser, main

# `kinetic --help` before the packages owned their commands (session 3)
COMMANDS = {
    "demo",
    "simulate",
    "bridge",
    "alerts",
    "prompts",
    "data",
    "consent",
    "calibrate",
    "evaluate",
    "collect",
    "phone",
    "report",
    "dashboards",
    "config",
    "homeassistant",  # issue 15 item 4
    "store",  # issue 20 item 1: least-privilege InfluxDB users
    "serve",  # issue 16 item 1
    "session",  # issue 19 item 2: exercise sessions
    "prescription",  # issue 19 items 1 and 4: prescriptions edited, progression accepted
    "web-login",  # issue 20 item 1: per-person logins to the web app
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_kinetic_lists_the_same_commands() -> None:
    assert set(_subcommands(build_parser())) == COMMANDS


def test_each_command_lives_in_the_package_that_runs_it() -> None:
    owned = {
        "ingest": set(ingest_cli.COMMANDS),
        "alerts": set(alerts_cli.COMMANDS),
        "dashboards": set(dashboards_cli.COMMANDS),
        "dashboards.homeassistant": set(homeassistant_cli.COMMANDS),
        "dashboards.web": set(web_cli.COMMANDS),
    }
    assert owned == {
        "ingest": {"simulate", "bridge", "collect", "phone", "store"},
        "alerts": {"alerts", "prompts", "calibrate", "evaluate", "session"},
        "dashboards": {"report", "dashboards"},
        "dashboards.homeassistant": {"homeassistant"},
        "dashboards.web": {"serve", "web-login"},
    }
    # the composition root's own: the demo, data rights and consent span packages, config shows all settings;
    # prescription reads the store (ingest) for the alert side's progression rule and publishes its events
    assert COMMANDS - set().union(*owned.values()) == {"demo", "data", "consent", "config", "prescription"}
    for package, names in owned.items():
        sub = argparse.ArgumentParser().add_subparsers()
        clis = {
            "ingest": ingest_cli,
            "alerts": alerts_cli,
            "dashboards": dashboards_cli,
            "dashboards.homeassistant": homeassistant_cli,
            "dashboards.web": web_cli,
        }
        clis[package].add_parsers(sub)
        assert set(sub.choices) == names, package


def test_an_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


@pytest.mark.parametrize("minutes", ["1e30", "nan", "inf", "-5", "0", "abc", "43201"])
def test_minutes_on_the_command_line_are_finite_positive_and_at_most_a_month(minutes: str) -> None:
    """Found after the named cases: `kinetic prompts pause ann --for 1e30` (or nan) gave an OverflowError or a
    ValueError traceback; argparse now names the option and what it expects."""
    with pytest.raises(argparse.ArgumentTypeError, match="minutes"):
        alerts_cli._minutes(minutes)
    assert alerts_cli._minutes("45") == 45.0


@pytest.mark.parametrize("minutes", ["1441", "2000", "43200"])
def test_a_snooze_longer_than_the_wire_takes_is_refused_on_the_command_line(
    minutes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A smaller finding of issue 13: `prompts snooze --minutes 2000` passed the command line's check (a month) and
    the wire then refused it (a day): one limit now, the wire's (CommandV1.minutes), named on the command line."""
    with pytest.raises(SystemExit) as exc:
        main(["prompts", "snooze", "ann", "ann-sitting-1", "--minutes", minutes])
    assert exc.value.code == 2
    assert "argument --minutes" in capsys.readouterr().err
    CommandV1(kind="snooze", wearer="ann", at=datetime.now(UTC), prompt_id="p", minutes=MAX_SNOOZE_MIN)


def test_an_empty_prompt_id_is_refused_before_anything_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    """A smaller finding of issue 13: `kinetic prompts done ann ''` published an ack for no prompt."""
    assert main(["prompts", "done", "ann", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetic: error: prompts done: ") and "prompt_id" in err and err.count("\n") == 1
