"""A clinician's policy file with wearer ids written as YAML reads them (patient numbers are common ids; the id
pattern allows digits): unquoted, YAML makes them integers (``1042``), octal integers (``0755`` is 493) or dates."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.errors import PolicyError
from alerts.prompts.policy.model import PolicyBook


@pytest.mark.parametrize("key", ["1042", "0755", "2024-01-05"])
def test_an_unquoted_numeric_wearer_id_applies_or_is_refused(tmp_path: Path, key: str) -> None:
    """Before: loaded without a word, and the wearer's overrides were never applied (threshold 30, not 20)."""
    path = tmp_path / "policy.yaml"
    path.write_text(f"wearers:\n  {key}:\n    sitting_threshold_min: 20\n")
    try:
        book = PolicyBook.load(path)
    except PolicyError as exc:  # refused naming the key is right too
        assert key in str(exc)
        return
    assert book.for_wearer(key).sitting_threshold_min == 20
