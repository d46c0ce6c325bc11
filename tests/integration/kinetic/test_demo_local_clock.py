"""The demo's day on the newcomer's own clock (issue 16): on a laptop whose zone is not UTC (TZ here), the built-in
workday starts at 09:00 there, and the follow-up commands with no setting (``kinetic serve``'s Today page, ``kinetic
report weekly``) draw it at 09:00: a wearer whose policy names no zone is on this host's zone (KINETIC_ALERTS__TIMEZONE
by default; docs/prompts.md). Before, the scenario's 09:00+01:00 was drawn in UTC, at 08:00."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.processes import Proc, run_kinetic

pytestmark = pytest.mark.integration

ZONE = "America/New_York"  # UTC-5 in November: the scenario's own offset (+01:00) and UTC are both wrong there


def test_the_demo_day_starts_at_9_on_the_hosts_clock_in_the_demo_the_today_page_and_the_report(tmp_path: Path) -> None:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "TZ": ZONE,
    }
    demo = run_kinetic(["demo", "--speed", "0", "--json"], environment)
    assert demo.returncode == 0, demo.stderr
    summary = json.loads(demo.stdout)
    assert summary["scenario_start"] == "2026-11-23T09:00:00-05:00"

    serve = Proc(["serve"], environment | {"KINETIC_WEB__PORT": "0"}, tmp_path / "serve.log")
    try:
        serve.wait_for("kinetic serve: open http://127.0.0.1:", 60)
        url = serve.text().split("kinetic serve: open ", 1)[1].split()[0]
        with urllib.request.urlopen(f"{url}w/alice/today.json?day=2026-11-23", timeout=20) as response:
            today = json.load(response)
        assert today["live"]["timezone"] == ZONE
        first = datetime.fromtimestamp(today["timeline"][0]["start_ms"] / 1000, ZoneInfo(ZONE))
        assert (first.date().isoformat(), first.hour) == ("2026-11-23", 9), first  # walk 5m from 09:00
    finally:
        assert serve.terminate() == 0, serve.text()

    report = run_kinetic(
        ["report", "weekly", "--wearer", "alice", "--week", "2026-W48", "--out", "r"], environment, tmp_path
    )
    assert report.returncode == 0, report.stderr
    html = next((tmp_path / "r").glob("*.html")).read_text()
    assert ZONE in html and "UTC" not in html.replace("UTC unless", "")
