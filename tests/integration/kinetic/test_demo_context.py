"""Issue 17, item 5, on the real pipeline: ``kinetic demo --serve`` plays a scripted day faster than real time (its
date a month before this host's), and "Pause 1 h" is pressed in the web app while ann sits. The pause is judged on
the data's clock: stored at the second of the day the demo had reached, holding 60 min of the scenario, with no prompt
inside it. Before, it was stamped with the host's clock: stored a month after the day, and its hour was over before
the day's data began, so it held nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.dashboards.test_web import chromium_page
from tests.support.processes import Proc

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # a month before this machine's clock
DAY = f"""
start: {START.isoformat()}
wearers:
  - wearer: ann
    placement: thigh
    segments: [walk 5m, sit 100m, walk 5m]
"""
END = START + timedelta(minutes=110)


def live_posture(url: str) -> str | None:
    """ann's posture on the Today page's live card; None before the app knows her (404: no data stored yet)."""
    try:
        with urllib.request.urlopen(f"{url}w/ann/today.json?day={START.date()}", timeout=20) as response:
            posture: str | None = json.load(response)["live"].get("posture")
            return posture
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
        return None


def stored(db: Path, kind: str) -> list[tuple[int, dict[str, object]]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT t_ms, fields FROM points WHERE measurement = 'events' AND json_extract(tags, '$.kind') = ? "
            "ORDER BY t_ms",
            (kind,),
        ).fetchall()
    return [(t_ms, json.loads(fields)) for t_ms, fields in rows]


def test_a_pause_pressed_live_in_an_accelerated_demo_lands_on_the_scenarios_clock(tmp_path: Path) -> None:
    scenario, db = tmp_path / "day.yaml", tmp_path / "demo.sqlite"
    scenario.write_text(DAY)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KINETIC_WEB__PORT": "0",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),  # the app's audit trail, never the user's
    }
    args = ["demo", "--serve", "--scenario", str(scenario), "--speed", "60", "--db", str(db)]
    proc = Proc(args, environment, tmp_path / "demo.log")
    try:
        proc.wait_for("kinetic demo: the web app is at http://127.0.0.1:", 60)
        url = proc.text().split("kinetic demo: the web app is at ", 1)[1].split()[0]
        deadline = time.monotonic() + 120
        while live_posture(url) != "sitting":  # the demo has reached ann's sitting (09:05 on the scenario's clock)
            assert time.monotonic() < deadline, proc.text()
            time.sleep(0.2)
        with chromium_page(url) as browser:
            browser.page.goto(f"{url}w/ann/prompts?day={START.date()}")
            browser.page.locator("#pause-1h").click()
            browser.page.wait_for_url("**sent=pause**")
        proc.wait_for("the day is played", 300)
    finally:
        assert proc.terminate() == 0, proc.text()

    (pause,) = [(t, f) for t, f in stored(db, "policy_changed") if str(f["reason"]).startswith("paused until")]
    paused_at = datetime.fromtimestamp(pause[0] / 1000, UTC)
    until = datetime.fromisoformat(str(pause[1]["reason"]).removeprefix("paused until "))
    assert START + timedelta(minutes=5) <= paused_at <= END  # where the demo was in the day, not the host's date
    assert until - paused_at == timedelta(hours=1)  # an hour of the scenario
    sent = [datetime.fromtimestamp(t / 1000, UTC) for t, _ in stored(db, "prompt_sent")]
    assert not [t for t in sent if paused_at <= t < until]  # the pause held every prompt due in it
    if paused_at < START + timedelta(minutes=35):  # pressed before the 30-min threshold (unless the host is very slow)
        held = [f for _, f in stored(db, "prompt_held")]
        assert [h["reason"] for h in held] == ["paused"]
        assert sent[0] == until  # the held prompt goes out when the pause ends, ann still sitting (then its re-prompt)


MEETINGS = Path(__file__).parents[3] / "ingest" / "simulate" / "scenarios" / "meetings.yaml"


def test_the_meetings_scenario_through_kinetic_demo_stores_what_the_engine_tests_say(tmp_path: Path) -> None:
    """The scenario results of issue 17 from a stored demo, not from the engine alone: ``kinetic demo --scenario
    meetings.yaml`` gives the alert service the scripted calendar (before, only a test did) and publishes the
    scripted do-not-disturb and check-in; what is stored is what test_calendar_context.py finds through the engine."""
    db = tmp_path / "demo.sqlite"
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    demo = Proc(
        ["demo", "--scenario", str(MEETINGS), "--speed", "0", "--json", "--db", str(db)],
        environment,
        tmp_path / "d.log",
    )
    assert demo.process.wait(300) == 0, demo.text()
    start = datetime.fromisoformat("2026-12-07T09:00:00+01:00")

    def clock(t_ms: int) -> str:
        return datetime.fromtimestamp(t_ms / 1000, start.tzinfo).strftime("%H:%M")

    held = {clock(t): f["reason"] for t, f in stored(db, "prompt_held")}
    assert held == {"09:40": "meeting", "13:30": "dnd", "16:15": "meeting"}
    sent = {clock(t): (f.get("reason"), f["exercise"]) for t, f in stored(db, "prompt_sent")}
    assert sent["10:30"] == ("after_meeting", "hip-opening-sequence")  # the morning meeting sat through
    assert sent["13:45"][0] == "held: dnd" and sent["16:20"][0] == "held: meeting" and sent["14:30"][0] is None
    assert not [t for t in sent if "11:00" <= t < "13:00"]  # the walking meeting holds nothing, prompts nothing
    (checkin,) = stored(db, "checkin")
    assert clock(checkin[0]) == "17:00"
    with sqlite3.connect(db) as connection:
        contexts = connection.execute(
            "SELECT json_extract(tags, '$.context'), COUNT(*) FROM points WHERE measurement = 'prompt_outcomes' "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert dict(contexts)["after_meeting"] == 1  # the outcome of the 10:30 prompt says why it was sent
