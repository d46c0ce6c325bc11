"""docs/exercises.md's figures on emulated sensors are what ``python -m tests.support.exercise_figures`` prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import exercise_figures

DOC = Path(__file__).resolve().parents[5] / "docs" / "exercises.md"


def test_the_documented_emulated_figures_are_reproduced(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["exercise_figures"])
    exercise_figures.main()
    printed = capsys.readouterr().out
    documented = re.search(r"<!-- emulated:begin -->\n```text\n(.*?)```\n<!-- emulated:end -->", DOC.read_text(), re.S)
    assert documented is not None
    assert documented.group(1) == printed
    assert "found 120 of 120" in printed  # the oracle is not empty
