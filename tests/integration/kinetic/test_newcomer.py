"""The newcomer's first commands (issue 16): after the demo, the follow-up it prints works with no setting at all."""

from __future__ import annotations

import json
import re
import shlex
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kinetic.settings import load_settings
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

DAY = """\
start: 2026-11-24T09:00:00+01:00
wearers:
  - wearer: ann
    placement: thigh
    segments: [walk 2m, sit 45m, walk 2m]
  - wearer: bob
    placement: trunk
    segments: [walk 8m, sit 80m lean_left 14deg, walk 2m]
"""


def kinetic(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A ``kinetic`` command as a newcomer runs it: no KINETIC_ variable, no XDG variable, only a home."""
    return subprocess.run(
        [sys.executable, "-m", "kinetic", *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_no_setting_means_the_embedded_store_in_the_users_data_directory(tmp_path: Path) -> None:
    store = tmp_path / ".local/share/kinetic/kinetic.sqlite"
    config = kinetic(tmp_path, "config")
    assert config.returncode == 0, config.stderr
    assert "KINETIC_STORE__KIND=embedded" in config.stdout and f"KINETIC_STORE__EMBEDDED_PATH={store}" in config.stdout
    # any InfluxDB setting (or a kind) means InfluxDB, as before
    assert load_settings(environ={"KINETIC_INFLUX__URL": "http://db:8086"}).store.kind == "influx_v1"
    assert load_settings(environ={"KINETIC_INFLUX__DATABASE": "k"}).store.kind == "influx_v1"
    assert load_settings(environ={"KINETIC_STORE__KIND": "influx_v2"}).store.kind == "influx_v2"
    assert load_settings(environ={"XDG_DATA_HOME": "/x"}).store.embedded_path == Path("/x/kinetic/kinetic.sqlite")


def test_the_demo_stores_its_day_where_the_report_it_suggests_reads_it(tmp_path: Path) -> None:
    (tmp_path / "day.yaml").write_text(DAY)
    demo = kinetic(tmp_path, "demo", "--scenario", "day.yaml", "--speed", "0")
    assert demo.returncode == 0, demo.stderr
    (line,) = [line for line in demo.stdout.splitlines() if line.startswith("The day is stored in ")]
    assert str(tmp_path / ".local/share/kinetic/kinetic.sqlite") in line
    # the prompts as they fall due: a re-prompt marked as one, a prompt held and why, a prompt that waited
    shown = " ".join(demo.stdout.split())  # rich wraps lines at the terminal's width
    assert "ann -> " in shown and "(re-prompt)" in shown
    # which prompt was held or dropped: a sitting and a lean prompt of one wearer are told apart
    assert re.search(r"bob (sitting|lean) prompt held: hourly prompt limit reached", shown), shown
    assert "bob prompt held" not in shown and "held prompt dropped" not in shown
    assert "the prompt above waited: hourly prompt limit reached" in shown
    command = shlex.split(line.split("Next: ", 1)[1])
    assert command[:4] == ["kinetic", "report", "weekly", "--wearer"] and "2026-W48" in command
    report = kinetic(tmp_path, *command[1:])
    assert report.returncode == 0, report.stderr
    assert "weekly report for ann, 2026-W48 (UTC): 1 day with data" in report.stderr  # the demo's day, read back
    html = (tmp_path / "reports" / "kinetic-ann-2026-W48.html").read_text()
    assert "ann" in html and "2026-W48" in html
    csv = (tmp_path / "reports" / "kinetic-ann-2026-W48.csv").read_text().splitlines()
    assert len(csv) > 1

    # the report was a read of ann's data: the audit trail says who and when, and ann's export shows it
    export = kinetic(tmp_path, "data", "export", "ann", "--no-broker", "--out", "export")
    assert export.returncode == 0, export.stderr
    (entry,) = json.loads((tmp_path / "export" / "ann.json").read_text())["audit"]
    assert entry["action"] == "report weekly" and entry["detail"].startswith("2026-W48: ")
    assert entry["actor"].endswith(f"@{socket.gethostname()}")
    # what was written is health data: the owner's only
    written = [*(tmp_path / "reports").iterdir(), *(tmp_path / "export").iterdir()]
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in written} == {p.name: 0o600 for p in written}


def test_after_the_demo_serve_shows_its_day_with_no_setting(tmp_path: Path) -> None:
    """`./scripts/demo`, then `kinetic serve`: the web app reads the demo's store and opens on the demo's day (the
    newest its sensors were seen), not on an empty today."""
    (tmp_path / "day.yaml").write_text(DAY)
    assert kinetic(tmp_path, "demo", "--scenario", "day.yaml", "--speed", "0").returncode == 0
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "kinetic", "serve"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KINETIC_WEB__PORT": str(port)},
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = ""
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/w/ann/today", timeout=2) as answer:
                    page = answer.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert "2026-11-24" in page, page[:500]
    finally:
        serve.terminate()
        serve.wait(10)
