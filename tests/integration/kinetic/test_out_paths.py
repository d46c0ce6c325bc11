"""`--out` that cannot be a folder (an existing file, a place that cannot be written): `kinetic data export` and
`kinetic report weekly` end in a Python traceback (FileExistsError / FileNotFoundError from os.mkdir) after all the
work is done. README: a wrong setting or argument stops with one line naming it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.store.embedded import EmbeddedSink
from ingest.store.points import Point
from tests.support.processes import env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration

T = 1_796_472_000_000  # 2026-12-05T10:00:00Z, ISO week 2026-W49


def store_with_a_minute(path: Path) -> None:
    async def fill() -> None:
        sink = EmbeddedSink(path)
        try:
            tags = {"wearer": "bea", "device": "bea-thigh", "placement": "thigh"}
            point = Point.make("features_1m", tags, {"frames": 60, "enmo_mg": 2.0, "incl_deg": 80.0}, T)
            await sink.write_lines(sink.encode([point]))
        finally:
            await sink.aclose()

    asyncio.run(fill())


@pytest.mark.parametrize(
    "command", [["data", "export", "bea"], ["report", "weekly", "--wearer", "bea", "--week", "2026-W49"]]
)
@pytest.mark.parametrize("out", ["a-file", "/proc/not-here"])
def test_an_out_that_cannot_be_a_folder_is_one_line(
    command: list[str], out: str, mosquitto: Server, unique: str, tmp_path: Path
) -> None:
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)
    env.update({"KINETIC_STORE__KIND": "embedded", "KINETIC_STORE__EMBEDDED_PATH": str(tmp_path / "k.sqlite")})
    store_with_a_minute(tmp_path / "k.sqlite")
    target = tmp_path / out if not os.path.isabs(out) else Path(out)
    if out == "a-file":
        target.write_text("not a folder\n")
    result = subprocess.run(
        [sys.executable, "-m", "kinetic", *command, "--out", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-300:]
    assert "Traceback" not in result.stderr, result.stderr[-300:]
    assert str(target) in result.stderr
