"""The Prescriptions page (issue 19, items 1 and 4) of a real ``kinetic serve`` over real Mosquitto, driven by
Chromium: a dose changed from the page is the CLI's change (the same reason in its ``prescription_changed`` event on
MQTT, the file rewritten), an impossible dose is refused with the CLI's one line and changes nothing, a pending
progression proposal is accepted (edited) or rejected with its event, a new exercise is prescribed, and a form
without the CSRF token is refused."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from alerts.prompts.prescription import load_pending, save_pending
from ingest.wire import EventV1
from tests.integration.dashboards.test_web import Browser, Served, chromium_page, get
from tests.integration.dashboards.test_web_session import serve_prescribed
from tests.support.servers import Server

pytestmark = pytest.mark.integration

SIT = "controlled-sit-to-stand"
PRESCRIPTIONS = f"""
wearers:
  w1:
    - exercise: {SIT}
      sets: 1
      reps: 4
      tempo: {{down_s: 3, pause_s: 1, up_s: 3}}
      per_week: 2
      progression: {{add_reps: 1, max_reps: 8}}
"""


def proposal(week: str, reps: int) -> dict[str, object]:
    return {"week": week, "change": "up", "reps": reps, "reason": f"reps 4 -> {reps}: a kept week", "proposed": "x"}


@pytest.fixture
def served(mosquitto: Server, tmp_path: Path) -> Iterator[Served]:
    with serve_prescribed(mosquitto, tmp_path, PRESCRIPTIONS, "tpre") as served:
        yield served


@pytest.fixture
def browser(served: Served) -> Iterator[Browser]:
    with chromium_page(served.url) as browser:
        yield browser


def wait_for_event(served: Served, seen: int) -> EventV1:
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while datetime.now(UTC) < deadline:
        if len(served.events) > seen:
            return served.events[seen]
        threading.Event().wait(0.05)
    raise AssertionError(f"no event after the {seen} seen")


def entry(served: Served, exercise: str = SIT) -> dict[str, object] | None:
    data = yaml.safe_load((served.tmp / "prescriptions.yaml").read_text())
    return next((e for e in data["wearers"]["w1"] if e["exercise"] == exercise), None)


def test_a_dose_changed_on_the_page_is_the_clis_change_and_an_impossible_one_changes_nothing(
    served: Served, browser: Browser
) -> None:
    page = browser.page
    page.goto(f"{served.url}w/w1/week")
    page.get_by_role("navigation", name="pages").get_by_role("link", name="Prescriptions").click()
    card = page.locator(f"#p-{SIT}")
    expect(card.locator(".dose")).to_have_text("1 x 4 reps at 3-1-3 s, rest 30 s, 2 per week")
    expect(card.locator(".note")).to_have_text("Progression: +1 reps a week up to 8 reps, proposed for acceptance")

    seen = len(served.events)
    card.locator(f"#{SIT}-reps").fill("5")
    card.locator(f"#{SIT}-tempo\\.down_s").fill("4")
    card.get_by_role("button", name="Save").click()
    event = wait_for_event(served, seen)
    assert (event.kind, event.exercise) == ("prescription_changed", SIT)
    assert event.reason == "reps 4 -> 5, tempo.down_s 3 -> 4; set by the clinician (web)"
    assert event.metrics is not None and event.metrics["reps"] == 5 and event.metrics["tempo_down_s"] == 4
    expect(card.locator(".dose")).to_have_text("1 x 5 reps at 4-1-3 s, rest 30 s, 2 per week")
    expect(page.locator("#saved")).to_be_visible()
    assert entry(served) == {
        "exercise": SIT,
        "sets": 1,
        "reps": 5,
        "tempo": {"down_s": 4, "pause_s": 1, "up_s": 3},
        "per_week": 2,
        "progression": {"add_reps": 1, "max_reps": 8},
    }

    before = (served.tmp / "prescriptions.yaml").read_text()
    seen = len(served.events)
    card.locator(f"#{SIT}-reps").fill("500")
    card.get_by_role("button", name="Save").click()
    expect(page.locator("#error")).to_contain_text(f"prescriptions.yaml: wearer 'w1', entry 1 ({SIT}): reps: ")
    expect(page.locator("#error")).to_contain_text("reps")
    assert (served.tmp / "prescriptions.yaml").read_text() == before
    threading.Event().wait(0.5)  # an event would have arrived by now (the valid one took well under this)
    assert len(served.events) == seen
    # the refused form's page is answered 400 (as the Settings page's), which Chromium logs; nothing else
    assert browser.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    assert browser.outside == []


def test_a_pending_proposal_is_accepted_edited_or_rejected_with_its_event(served: Served, browser: Browser) -> None:
    path = served.tmp / "prescriptions.yaml"
    save_pending(path, {"w1": {SIT: proposal("2026-W48", 5)}})
    page = browser.page
    page.goto(f"{served.url}w/w1/prescriptions")
    card = page.locator(f"#p-{SIT}")
    expect(card.locator(".proposal")).to_have_text("2026-W48: reps 4 -> 5: a kept week")
    seen = len(served.events)
    card.locator(".decide input[name=more]").fill("reps=6 rest_s=45")
    card.get_by_role("button", name="Accept").click()
    event = wait_for_event(served, seen)
    assert (
        event.reason
        == "reps 4 -> 6, rest_s 30 -> 45; progression of 2026-W48 edited and accepted by the clinician (web)"
    )
    expect(card.locator(".dose")).to_have_text("1 x 6 reps at 3-1-3 s, rest 45 s, 2 per week")
    expect(card.locator(".proposal")).to_have_count(0)
    assert load_pending(path) == {}

    save_pending(path, {"w1": {SIT: proposal("2026-W49", 7)}})
    page.reload()
    seen = len(served.events)
    card.get_by_role("button", name="Reject").click()
    event = wait_for_event(served, seen)
    assert event.reason == "unchanged; progression of 2026-W49 rejected by the clinician (web)"
    expect(card.locator(".proposal")).to_have_count(0)
    expect(card.locator(".dose")).to_have_text("1 x 6 reps at 3-1-3 s, rest 45 s, 2 per week")
    assert load_pending(path) == {} and entry(served) is not None and entry(served)["reps"] == 6  # type: ignore[index]

    seen = len(served.events)  # a new exercise prescribed from the page
    add = page.locator("#add")
    add.locator("#add-exercise").select_option("spinal-decompression-60s")
    add.locator("#add-hold_s").fill("20")
    add.locator("#add-per_week").fill("3")
    add.get_by_role("button", name="Prescribe").click()
    event = wait_for_event(served, seen)
    assert (event.exercise, event.reason) == (
        "spinal-decompression-60s",
        "prescribed: 1 x 20 s hold, rest 30 s, 3 per week; set by the clinician (web)",
    )
    expect(page.locator("#p-spinal-decompression-60s .dose")).to_have_text("1 x 20 s hold, rest 30 s, 3 per week")
    assert browser.errors == [] and browser.outside == []


def test_a_form_without_the_csrf_token_is_refused_and_the_report_shows_the_hand_written_dose(served: Served) -> None:
    request = urllib.request.Request(
        f"{served.url}w/w1/prescriptions", data=f"action=set&exercise={SIT}&reps=6".encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert refused.value.read().decode().startswith("the form's CSRF token is missing or stale")
    refused.value.close()
    assert entry(served) is not None and entry(served)["reps"] == 4  # type: ignore[index]
    # no change of w1's prescription was ever recorded: the Week page's report shows the file's dose, and says so
    status, report = get(f"{served.url}w/w1/week/report?week=2026-W10")
    assert status == 200
    assert "1 x 4 reps, 2 per week (prescriptions file; no change recorded yet)" in report
    assert 'data-chart="dose-over-weeks" data-empty="false"' in report
