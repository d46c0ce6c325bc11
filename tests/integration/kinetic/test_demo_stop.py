"""How ``kinetic demo`` ends (h-mend12, item 3), as a real process with real signals. Before: Ctrl-C (SIGINT) while the
day played ended it with the broker's tracebacks and not a word of what was kept, and ``--serve`` printed its URL
twice. Now a SIGINT stops the day where it is, stores what arrived and says in one line what is stored, where, and
how to look at it again (``kinetic serve``); with ``--serve`` the URL is printed once, and the SIGINT that ends
the browsing after the day says the same."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.processes import Proc

pytestmark = pytest.mark.integration

LONG_DAY = """
start: 2026-11-23T09:00:00+00:00
wearers:
  - wearer: ann
    placement: thigh
    segments: [walk 5m, sit 300m, walk 5m]
"""
SHORT_DAY = """
start: 2026-11-23T09:00:00+00:00
wearers:
  - wearer: ann
    placement: thigh
    segments: [walk 3m, sit 12m, walk 3m]
"""


def seconds_stored(db: Path) -> int:
    """The seconds of posture the store holds (what the demo's summary counts: frames with an inclination)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        try:
            (count,) = connection.execute(
                "SELECT COUNT(json_extract(fields, '$.incl_deg')) FROM points WHERE measurement = 'features'"
            ).fetchone()
        except sqlite3.OperationalError:  # the store's tables are not made yet
            return 0
    return int(count)


def demo(tmp_path: Path, day: str, *args: str) -> tuple[Proc, Path]:
    (tmp_path / "day.yaml").write_text(day)
    db = tmp_path / "demo.sqlite"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KINETIC_WEB__PORT": "0",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),  # the demo's audit trail, never the user's
    }
    command = ["demo", "--scenario", str(tmp_path / "day.yaml"), "--db", str(db), *args]
    return Proc(command, environment, tmp_path / "demo.log"), db


def stop_line(text: str, start: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(start)]
    return line


def test_ctrl_c_while_the_day_plays_says_what_is_stored_where_and_how_to_look_again(tmp_path: Path) -> None:
    proc, db = demo(tmp_path, LONG_DAY, "--speed", "120")  # 310 minutes in about 155 s
    try:
        deadline = time.monotonic() + 120
        while seconds_stored(db) < 600:  # ten minutes of the day are in the store
            assert proc.process.poll() is None and time.monotonic() < deadline, proc.text()
            time.sleep(0.2)
        proc.process.send_signal(signal.SIGINT)
        assert proc.process.wait(60) == 130, proc.text()  # interrupted: the day was not played to its end
    finally:
        proc.terminate()
    text = proc.text()
    assert "Traceback" not in text, text
    line = stop_line(text, "Stopped at ")
    found = re.fullmatch(
        r"Stopped at (\d\d):(\d\d): the day until then is stored in (.+) \((\d+) seconds of 1 wearers\); look at it "
        r"with KINETIC_STORE__KIND=embedded KINETIC_STORE__EMBEDDED_PATH=(.+) kinetic serve\. Next: .*kinetic report "
        r"weekly --wearer ann --week 2026-W48 --out reports/",
        line,
    )
    assert found is not None, line
    hour, minute, shown, seconds, path = found.groups()
    assert shown == path == str(db)
    assert int(seconds) == seconds_stored(db) >= 600  # what the line says is what the store holds
    assert (9, 10) <= (int(hour), int(minute)) < (14, 10), line  # where the day stopped, not its end


def test_with_serve_the_url_is_printed_once_and_the_stop_after_the_day_says_where_it_is(tmp_path: Path) -> None:
    proc, db = demo(tmp_path, SHORT_DAY, "--speed", "0", "--serve")
    try:
        proc.wait_for("the day is played", 120)
        proc.process.send_signal(signal.SIGINT)
        assert proc.process.wait(60) == 0, proc.text()
    finally:
        proc.terminate()
    text = proc.text()
    assert len(re.findall(r"http://127\.0\.0\.1:\d+/", text)) == 1, text
    assert "kinetic demo: the web app is at http://127.0.0.1:" in text
    line = stop_line(text, "The day is stored in ")
    assert line.startswith(f"The day is stored in {db}; look at it with KINETIC_STORE__KIND=embedded ")
    assert " kinetic serve. Next: " in line
    assert seconds_stored(db) == 18 * 60
