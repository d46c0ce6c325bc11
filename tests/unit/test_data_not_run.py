"""A run without the evaluation recordings names the checks that did not run and why, even under ``-q`` (issue 16
item 4: a fresh clone's ``./scripts/test tests/unit -q`` said only "3 deselected")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_TEST = "tests/unit/alerts/detect/test_breathing.py"


def test_a_quiet_run_without_the_recordings_names_each_check_not_run_and_why() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KINETIC_TEST_DATA"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", DATA_TEST, "-q", "-m", "data", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 5, run.stdout + run.stderr  # nothing ran: every selected test needs the recordings
    assert "1 check did not run: KINETIC_TEST_DATA is unset" in run.stdout, run.stdout
    assert "set KINETIC_TEST_DATA to their folder" in run.stdout
    assert f"not run: {DATA_TEST}::test_the_documented_table_on_real_paced_breathing_is_reproduced" in run.stdout
