"""The results table in docs/evaluation.md is what `kinetic evaluate` gives on ../shared/data today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT.parent / "shared" / "data"
DATASETS = ["uci-hapt-waist", "dsads-torso-legs", "pocket-phone-difronzo", "uci-chest-casale"]


def test_the_documented_table_is_reproduced() -> None:
    missing = [name for name in DATASETS if not (DATA / name / "labels.csv").is_file()]
    if missing:
        pytest.fail(f"the evaluation data is not beside the repository ({DATA}): missing {missing}")
    out = subprocess.run(
        [sys.executable, "-m", "kinetic", "evaluate", *(str(DATA / n) for n in DATASETS), "--markdown"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    doc = (ROOT / "docs" / "evaluation.md").read_text()
    table = doc.split("<!-- results:begin -->\n", 1)[1].split("<!-- results:end -->", 1)[0]
    assert out.stdout == table
