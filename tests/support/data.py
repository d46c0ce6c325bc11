"""Where the labelled evaluation recordings are: ``KINETIC_TEST_DATA`` (``.ci/run`` sets it to ``../shared/data``).

They are evaluation data, never shipped with the repository. Tests that read them carry the ``data`` marker; without
the setting they are deselected (tests/conftest.py says so in the header), so a fresh clone with nothing beside it
passes; with the setting, a missing dataset fails the test, never skips it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SETTING = "KINETIC_TEST_DATA"


def data_dir() -> Path | None:
    value = os.environ.get(SETTING)
    return Path(value) if value else None


def dataset(name: str) -> Path:
    """The folder of one dataset; fails the test (naming the setting) if it is not there."""
    root = data_dir()
    if root is None or not (root / name / "recordings").is_dir():
        pytest.fail(f"dataset {name!r} is not in {SETTING}={root}")
    return root / name
