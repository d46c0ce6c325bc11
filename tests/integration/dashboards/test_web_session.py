"""The guided session page (issue 19, item 2) of a real ``kinetic serve`` over real Mosquitto, driven by Chromium:
the wearer's prescribed exercises, what to do and the dose, Start publishing the CLI's ``session_start``, the timer
following the prescribed tempo phase by phase with its breathing cues, End publishing ``session_end`` with the
effort and pain reported; an exercise not prescribed is a 404 with one line."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from playwright.sync_api import expect, sync_playwright

from ingest.wire import CommandV1, EventV1, Topics
from tests.integration.dashboards.test_web import CHROMIUM, Browser, Served, env, get, seed, wait_for_command
from tests.support.processes import Proc
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration

PRESCRIPTIONS = """
wearers:
  w1:
    - exercise: controlled-sit-to-stand
      sets: 1
      reps: 2
      tempo: {down_s: 1, pause_s: 0.5, up_s: 1}
      per_day: 1
"""


@contextlib.contextmanager
def serve_prescribed(mosquitto: Server, tmp: Path, prescriptions: str, prefix: str) -> Iterator[Served]:
    """A real ``kinetic serve`` over the seeded store with ``prescriptions`` as its prescriptions file, and a listener
    recording every command (``Served.commands``) and w1's events (``Served.events``) it publishes."""
    store = tmp / "kinetic.sqlite"
    seed(store)
    (tmp / "prescriptions.yaml").write_text(prescriptions)
    root = prefix + os.urandom(4).hex()
    more = {"KINETIC_ALERTS__PRESCRIPTIONS_FILE": str(tmp / "prescriptions.yaml")}
    proc = Proc(["serve"], env(mosquitto, root, store, **more), tmp / "serve.log")
    try:
        proc.wait_for("kinetic serve: open http://127.0.0.1:")
        url = proc.text().split("kinetic serve: open ", 1)[1].split()[0]
        served = Served(url, root, mosquitto, proc, tmp, free_port())

        def on_message(message: paho.MQTTMessage) -> None:
            if message.topic.endswith("/commands"):
                served.commands.append(CommandV1.model_validate_json(message.payload))
            else:
                served.events.append(EventV1.model_validate_json(message.payload))

        listener = paho.Client(paho.CallbackAPIVersion.VERSION2)
        subscribed = threading.Semaphore(0)
        listener.on_message = lambda c, u, m: on_message(m)
        listener.on_subscribe = lambda *args: subscribed.release()
        listener.connect(mosquitto.host, mosquitto.port)
        listener.loop_start()
        topics = Topics(root)  # the prescriptions page publishes on the prescriptions topic (Topics.event_topic)
        listener.subscribe([(topics.all_commands(), 1), (topics.events("w1"), 1), (topics.prescriptions("w1"), 1)])
        assert subscribed.acquire(timeout=10)
        yield served
        listener.loop_stop()
        listener.disconnect()
    finally:
        assert proc.terminate() == 0, proc.text()


@pytest.fixture(scope="module")
def served(mosquitto: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_prescribed(mosquitto, tmp_path_factory.mktemp("websession"), PRESCRIPTIONS, "tses") as served:
        yield served


@pytest.fixture
def browser(served: Served, tmp_path: Path) -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = chromium.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(20_000)
            yield Browser(page, served.url.rstrip("/"))
        finally:
            chromium.close()


def test_a_guided_session_sends_the_clis_commands_and_follows_the_tempo(served: Served, browser: Browser) -> None:
    page = browser.page
    page.goto(f"{served.url}w/w1/session")
    expect(page.locator("#choices li")).to_have_count(1)  # only what is prescribed to w1
    page.get_by_role("link", name="Controlled sit-to-stand ritual").click()
    expect(page.locator("#dose")).to_have_text("1 x 2 reps at 1-0.5-1 s, rest 30 s, 1 per day")
    expect(page.locator("#phase")).to_have_text("Press Start when you are in position.")

    seen = len(served.commands)
    page.locator("#start").click()
    start = wait_for_command(served, "session_start", seen)
    assert (start.wearer, start.exercise, start.source) == ("w1", "controlled-sit-to-stand", "web")
    assert start.session is not None and page.url.endswith(f"session={start.session}")
    # the timer: lower (breathe in), pause, rise (breathe out) for each repetition, then done (5 s in all)
    expect(page.locator("#phase")).to_have_text("Rise (set 1, repetition 2)", timeout=10_000)
    expect(page.locator("#cue")).to_have_text("breathe out on the effort")
    expect(page.locator("#phase")).to_have_text("Done: press End and say how it went.", timeout=10_000)

    seen = len(served.commands)
    page.locator("#effort").select_option("5")
    page.locator("#pain").select_option("2")
    page.locator("#end").click()
    end = wait_for_command(served, "session_end", seen)
    assert (end.session, end.effort, end.pain, end.source) == (start.session, 5, 2, "web")
    expect(page.locator("#ended")).to_be_visible()
    assert browser.errors == [] and browser.outside == []


def test_an_exercise_not_prescribed_is_a_404_with_one_line(served: Served) -> None:
    status, body = get(f"{served.url}w/w1/session?exercise=hip-opening-sequence")
    assert status == 404 and body == "exercise 'hip-opening-sequence' is not prescribed to w1\n"
    status, body = get(f"{served.url}w/w1/session?exercise=no-such")
    assert status == 404 and body == "exercise 'no-such' is not in the catalog\n"


def test_the_guided_session_is_linked_from_the_navigation(served: Served, browser: Browser) -> None:
    page = browser.page
    page.goto(f"{served.url}w/w1/week")
    page.get_by_role("navigation", name="pages").get_by_role("link", name="Session").click()
    expect(page.locator("#choices li")).to_have_count(1)
    assert page.url.endswith("/w/w1/session")
    expect(page.get_by_role("link", name="Session")).to_have_attribute("aria-current", "page")
