"""The import contracts (pyproject.toml, [tool.importlinter]) hold, and they catch what they are there to catch: a
copy of the packages with one upward import and one I/O import in the pure core must fail them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ingest", "alerts", "dashboards", "kinetic")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_repository_keeps_its_import_contracts() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken." in result.stdout


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    return tmp_path


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    result = _lint(_copy_with(tmp_path, "ingest.wire", "import alerts.engine"))
    assert result.returncode == 1, result.stdout
    assert "ingest is not allowed to import alerts:\n\n- ingest.wire -> alerts.engine" in result.stdout


def test_io_in_the_pure_core_is_caught(tmp_path: Path) -> None:
    result = _lint(_copy_with(tmp_path, "alerts.detect.bouts", "import sqlite3"))
    assert result.returncode == 1, result.stdout
    assert "alerts.detect is not allowed to import sqlite3:\n\n-   alerts.detect.bouts -> sqlite3" in result.stdout
    assert "Contracts: 4 kept, 1 broken." in result.stdout
