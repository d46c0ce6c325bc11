"""The weekly job the adherence panel needs (issue 19 item 5): ``kinetic prescription propose`` run once a week by a
systemd timer through the compose example's ``prescription`` service. Without it a deployment's Weekly review has no
adherence row at all (the figure is stored by that run). Checked here: the timer's calendar expression with systemd's
own parser (``systemd-analyze calendar``), the service's command against the compose file and the CLI's parser."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

import yaml

from kinetic.cli import build_parser

ROOT = Path(__file__).resolve().parents[3]
UNITS = ROOT / "deploy" / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def test_the_timer_runs_weekly_and_catches_up_a_missed_week() -> None:
    timer = unit("kinetic-prescription-propose.timer")["Timer"]
    assert timer["Persistent"] == "true"
    done = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations", "3", timer["OnCalendar"]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "Iter. #" in line or "Next elapse" in line]
    assert [line.split(":", 1)[1].split()[0] for line in lines] == ["Mon", "Mon", "Mon"], done.stdout


def test_the_service_runs_propose_in_the_compose_files_prescription_service() -> None:
    argv = shlex.split(unit("kinetic-prescription-propose.service")["Service"]["ExecStart"])
    assert argv[:3] == ["/usr/bin/docker", "compose", "--profile"]
    profile, run = argv[3], argv[4:]
    assert run[:2] == ["run", "--rm"]
    service, command = run[2], run[3:]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert profile in compose["services"][service]["profiles"]
    args = build_parser().parse_args(command)  # the image's entry point is `kinetic`
    assert (args.command, args.prescription_command, args.week) == ("prescription", "propose", None)
