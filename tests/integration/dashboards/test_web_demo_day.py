"""The demo's day in ``kinetic serve`` as a newcomer sees it after ``./scripts/demo`` (no broker, no setting): the
Today page's prompt marks say what is known of each outcome, and a wearer without a trunk sensor is told why there
is no lean instead of being shown empty axes (task h-tour16 point 1, on the demo's own scenario).

What the page shows is true to the scenario: its wearers' segments are scripted and do not answer prompts, so alice
never breaks within 5 min of one (her bouts end 10 min or more after each), while bob's last prompt is followed by
a break within 3 min; alice and carol wear a thigh sensor only, and lean needs a trunk sensor (docs/metrics.md)."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.integration.dashboards.test_web import chromium_page
from tests.support.processes import Proc

pytestmark = pytest.mark.integration


def today_json(url: str, wearer: str) -> Any:
    with urllib.request.urlopen(f"{url}w/{wearer}/today.json", timeout=20) as response:
        return json.load(response)


def test_the_demos_day_marks_each_prompts_outcome_and_says_why_alice_has_no_lean(tmp_path: Path) -> None:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),  # the demo's store and the app's audit trail, never the user's
    }
    demo = Proc(["demo", "--speed", "0", "--json"], environment, tmp_path / "demo.log")
    assert demo.process.wait(300) == 0, demo.text()
    serve = Proc(["serve"], environment | {"KINETIC_WEB__PORT": "0"}, tmp_path / "serve.log")
    try:
        serve.wait_for("kinetic serve: open http://127.0.0.1:", 60)
        url = serve.text().split("kinetic serve: open ", 1)[1].split()[0]
        assert "waiting for MQTT broker" in serve.text()  # after the demo nothing runs a broker: the pages still work

        alice, bob = today_json(url, "alice"), today_json(url, "bob")
        marks = {w: [(p["state"], p["outcome"]) for p in d["prompts"]] for w, d in (("alice", alice), ("bob", bob))}
        assert marks["alice"] and set(marks["alice"]) == {("no_break", "no break within 5 min")}
        assert ("moved", "moved within 3 min") in marks["bob"]
        assert "waiting" not in {state for state, _ in marks["alice"] + marks["bob"]}  # the day is over: all known

        with chromium_page(url) as browser:
            page = browser.page
            page.goto(f"{url}w/alice/today")
            expect(page.locator("#timeline canvas")).to_have_count(1)
            legend = page.locator("#timeline .u-legend")
            for label in ("moved within 5 min", "no break within 5 min", "outcome not known yet"):
                expect(legend).to_contain_text(label)
            expect(page.locator("#lean-empty")).to_be_visible()
            expect(page.locator("#lean-empty")).to_have_text(
                "No lean: lean is measured by a trunk sensor, and this wearer's sensors are alice-thigh (thigh)."
            )
            expect(page.locator("#leanchart canvas")).to_have_count(0)
            expect(page.locator("#lean-note")).to_have_text("not measured: no trunk sensor")
            page.screenshot(path=str(tmp_path / "alice-today.png"), full_page=True)

            page.goto(f"{url}w/bob/today")  # bob wears a trunk sensor: his lean is drawn
            expect(page.locator("#leanchart canvas")).to_have_count(1)
            expect(page.locator("#lean-empty")).to_be_hidden()
            expect(page.locator("#lean-note")).to_have_text("+ right, - left (trunk sensor)")
        assert browser.errors == [] and browser.outside == []
    finally:
        assert serve.terminate() == 0, serve.text()
