"""The results table in docs/evaluation.md is what `kinetic evaluate` gives on ../shared/data today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import dataset

ROOT = Path(__file__).resolve().parents[3]
DATASETS = ["uci-hapt-waist", "dsads-torso-legs", "pocket-phone-difronzo", "uci-chest-casale"]


@pytest.mark.data
def test_the_documented_table_is_reproduced() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kinetic", "evaluate", *(str(dataset(n)) for n in DATASETS), "--markdown"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    doc = (ROOT / "docs" / "evaluation.md").read_text()
    table = doc.split("<!-- results:begin -->\n", 1)[1].split("<!-- results:end -->", 1)[0]
    assert out.stdout == table
