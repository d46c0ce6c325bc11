"""``kinetic serve`` as a real process on a free loopback port, over an embedded store holding a scripted day and a
real Mosquitto, driven by Debian's Chromium through Playwright (issue 16 items 1 and 5): every page loads with no
console error and no request beyond the app; the live card follows events and frames published on the broker; Done
and Pause publish the CLI's commands (read back from the broker); the Week page renders the weekly report of an ISO
week; bad input is a 4xx with one line; a non-loopback bind without a token refuses to start.

Not run here: a phone's browser (the pages are plain HTML and CSS with a viewport; only Chromium on Linux drove them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from ingest.audit import AuditLog
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store.embedded import EmbeddedSink
from ingest.store.model import points_for
from ingest.store.points import Point
from ingest.wire import CommandV1, EventV1, FeatureBatchV1, FeatureFrameV1, PromptV1, Topics, encode
from tests.support.processes import Proc
from tests.support.sensorlogger import fixture_readings, messages
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
DAY = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: w1
    placement: trunk
    segments: [walk 3m, sit 40m lean_left 12deg, walk 5m, sit 35m, stand 2m]
"""
DAY_DATE = "2026-11-23"
OPEN_PROMPT_AT = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # stored without an outcome yet: Done and Snooze apply
AXE = Path(__file__).resolve().parents[2] / "fixtures" / "axe-core-4.14.1" / "axe.min.js"
WEEK = "2026-W48"


def seed(path: Path, day: str = DAY) -> None:
    """The scripted ``day`` through the real engine into an embedded store, and a sensor's status with its battery."""
    scenario = parse_scenario(day)
    engine = AlertEngine(EngineConfig(), load_catalog())
    points: list[Point] = []
    for script in scenario.wearers:
        for batch in batches_for(scenario, script, 30):
            points.extend(points_for(batch, 0))
            for output in engine.process(batch):
                points.extend(points_for(output, 0))
        for output in engine.close(script.wearer):
            points.extend(points_for(output, 0))
    open_prompt = PromptV1(
        id="w1-open",
        wearer="w1",
        trigger="sitting",
        exercise="sit-to-stand",
        title="Stand up",
        text="Stand up now.",
        created=OPEN_PROMPT_AT,
        expires=OPEN_PROMPT_AT + timedelta(minutes=15),
    )
    points.extend(points_for(open_prompt, 0))
    points.append(
        Point.make(
            "device_status",
            {"wearer": "w1", "device": "w1-trunk"},
            {"state": "online", "placement": "trunk", "battery_pct": 77},
            scenario.start_ms,
        )
    )

    async def write() -> None:
        sink = EmbeddedSink(path)
        await sink.write(points)
        await sink.aclose()

    asyncio.run(write())


@dataclass
class Served:
    url: str
    root: str
    mosquitto: Server
    proc: Proc
    tmp: Path
    phone_port: int
    audit_fds_at_start: int = 0
    commands: list[CommandV1] = field(default_factory=list)
    events: list[EventV1] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes) -> None:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        client.connect(self.mosquitto.host, self.mosquitto.port)
        client.loop_start()
        client.publish(topic, payload, qos=1).wait_for_publish(10)
        client.loop_stop()
        client.disconnect()


def env(mosquitto: Server, root: str, store: Path, **more: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KINETIC_MQTT__HOST": mosquitto.host,
        "KINETIC_MQTT__PORT": str(mosquitto.port),
        "KINETIC_MQTT__TOPIC_ROOT": root,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": root,
        "KINETIC_STORE__KIND": "embedded",
        "KINETIC_STORE__EMBEDDED_PATH": str(store),
        "KINETIC_WEB__PORT": "0",
        "KINETIC_LOG_LEVEL": "INFO",
        # the audit trail and the phone tokens beside the store, never in the real user's data directory
        "XDG_DATA_HOME": str(store.parent / "xdg"),
        "KINETIC_AUDIT__PATH": str(store.parent / "audit.sqlite"),
        "KINETIC_PHONE__TOKENS_PATH": str(store.parent / "phone-tokens.json"),
        **more,
    }


@pytest.fixture(scope="module")
def served(mosquitto: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("web")
    store = tmp / "kinetic.sqlite"
    seed(store)
    root = "tweb" + os.urandom(4).hex()
    phone_port = free_port()
    proc = Proc(["serve"], env(mosquitto, root, store, KINETIC_PHONE__HTTP_PORT=str(phone_port)), tmp / "serve.log")
    try:
        proc.wait_for("kinetic serve: open http://127.0.0.1:")
        proc.wait_for("web: following")  # subscribed: what is published from now on reaches the live board
        url = proc.text().split("kinetic serve: open ", 1)[1].split()[0]
        served = Served(url, root, mosquitto, proc, tmp, phone_port, open_fds(proc, tmp / "audit.sqlite"))
        listener = paho.Client(paho.CallbackAPIVersion.VERSION2)
        topics = Topics(root)

        def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
            if message.topic.endswith("/commands"):
                served.commands.append(CommandV1.model_validate_json(message.payload))
            else:
                served.events.append(EventV1.model_validate_json(message.payload))

        subscribed = threading.Semaphore(0)
        listener.on_message = on_message
        listener.on_subscribe = lambda *args: subscribed.release()
        listener.connect(mosquitto.host, mosquitto.port)
        listener.loop_start()
        listener.subscribe(topics.all_commands(), qos=1)
        listener.subscribe(topics.all_events(), qos=1)
        assert subscribed.acquire(timeout=10) and subscribed.acquire(timeout=10)
        yield served
        listener.loop_stop()
        listener.disconnect()
    finally:
        assert proc.terminate() == 0, proc.text()


def open_fds(proc: Proc, path: Path) -> int:
    """How many of the process's file descriptors are ``path`` (Linux: /proc/<pid>/fd)."""
    fds = Path(f"/proc/{proc.process.pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            count += os.readlink(fd) == str(path)
    return count


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for_command(served: Served, kind: str, seen: int) -> CommandV1:
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while datetime.now(UTC) < deadline:
        for command in served.commands[seen:]:
            if command.kind == kind:
                return command
        threading.Event().wait(0.05)
    raise AssertionError(f"no {kind!r} command on the broker; seen: {served.commands[seen:]}")


class Browser:
    """One Chromium page that records console errors, page errors and every request beyond the app."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith((base, "data:")) else self.outside.append(r.url))


@contextlib.contextmanager
def chromium_page(base: str) -> Iterator[Browser]:
    """A fresh Chromium (Debian's) with one 1100x900 page watching for errors and requests beyond ``base``."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = chromium.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(20_000)
            yield Browser(page, base.rstrip("/"))
        finally:
            chromium.close()


@pytest.fixture
def browser(served: Served, tmp_path: Path) -> Iterator[Browser]:
    with chromium_page(served.url) as browser:
        yield browser


def test_every_page_loads_with_its_charts_no_console_error_and_no_outside_request(
    served: Served, browser: Browser, tmp_path: Path
) -> None:
    page = browser.page
    page.goto(f"{served.url}w/w1/today?day={DAY_DATE}")
    expect(page.locator("#timeline canvas")).to_have_count(1)
    expect(page.locator("#leanchart canvas")).to_have_count(1)
    # w1's day: two lean prompts (re-prompt) and a sitting prompt, each with its outcome, and one still open
    expect(page.locator("#prompt-list li")).to_have_count(4)
    assert "lean" in page.locator("#prompt-list").inner_text()
    page.screenshot(path=str(tmp_path / "today.png"), full_page=True)

    page.goto(f"{served.url}w/w1/prompts?day={DAY_DATE}")
    rows = page.locator("#prompts tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#prompts tbody tr:first-child")).to_contain_text("waiting")
    # the lean prompt's re-prompt is marked; the first bout's sitting prompt, held by the cap of 2 per hour, says so
    expect(page.locator("#prompts em")).to_have_text(["(re-prompt)"])
    # ... and was cancelled when the wearer stood up
    expect(page.locator("#waits tbody tr").first).to_contain_text("cancelledthe wearer moved before it could go out")
    expect(page.locator("#waits tbody tr").last).to_contain_text("heldthe hour's cap was reached (max_per_hour)")
    outcomes = page.locator("#prompts tbody").inner_text()
    assert "moved within" in outcomes or "no break" in outcomes

    page.goto(f"{served.url}w/w1/week?week={WEEK}")
    # the report's own Vega-Lite specs, drawn by vega-embed: every chart a Vega view with marks from its data
    expect(page.locator("#charts")).to_have_attribute("data-ready", "true")
    assert list(vega_charts(page).items()) == list(REPORT_CHARTS.items())
    expect(page.locator("#trend tbody tr")).to_have_count(8)
    # a week without any hourly summary says so, never a zero that reads as "did not sit"
    expect(page.locator("#trend tbody tr").first).to_have_text("2026-W41no data")
    expect(page.locator("#trend tbody tr").last).not_to_contain_text("no data")
    report = page.frame_locator("#report")
    expect(report.locator("h1")).to_have_text(f"Weekly report: w1, {WEEK}")
    page.screenshot(path=str(tmp_path / "week.png"), full_page=True)

    page.goto(f"{served.url}w/w1/settings")
    expect(page.locator("#f-sitting_threshold_min")).to_have_value("30")
    devices = page.locator("#devices").inner_text()
    assert "w1-trunk" in devices and "77 %" in devices

    page.goto(served.url)  # one wearer: straight to their Today
    expect(page).to_have_url(f"{served.url}w/w1/today")
    assert browser.errors == []
    assert browser.outside == []


# the weekly report's charts (dashboards.report.charts.chart_specs) for w1's week, in report order: name -> (the spec
# says "no data this week", its SVG has data marks); w1's scripted day gives every chart something to draw
REPORT_CHARTS = {
    "sitting-per-day": (False, True),
    "weekly-trend": (False, True),
    "sitting-by-hour": (False, True),
    "bout-lengths": (False, True),
    "lean": (False, True),
    "prompt-responses": (False, True),
    "dose-over-weeks": (True, False),  # no exercise prescribed to w1: the empty state
}
VEGA_MARKS = """() => Object.fromEntries([...document.querySelectorAll("#charts figure.vega-chart")].map(f => {
    const svg = f.querySelector("svg.marks");
    const drawn = svg ? [...svg.querySelectorAll("g.role-mark")]
        .filter(g => !g.closest(".role-axis, .role-legend, .role-title"))
        .filter(g => /mark-(rect|symbol|line|area|arc)/.test(g.getAttribute("class")))
        .reduce((n, g) => n + g.querySelectorAll("path, line").length, 0) : -1;
    return [f.dataset.chart, [f.dataset.empty === "true", drawn > 0]];
}))"""


def vega_charts(page: Page) -> dict[str, tuple[bool, bool]]:
    """Each Vega chart on the page: (the spec says it is empty, its SVG has data marks)."""
    return {name: (empty, drawn) for name, (empty, drawn) in page.evaluate(VEGA_MARKS).items()}


def test_the_live_card_follows_events_and_frames_from_the_broker(served: Served, browser: Browser) -> None:
    page = browser.page
    page.goto(f"{served.url}w/w1/today")
    topics = Topics(served.root)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    served.publish(
        topics.events("w1"),
        encode(EventV1(kind="bout_started", wearer="w1", t=now, posture="standing", bout_start=now)),
    )
    expect(page.locator("#posture")).to_have_text("standing")
    sat = now + timedelta(minutes=2)
    served.publish(
        topics.events("w1"), encode(EventV1(kind="bout_started", wearer="w1", t=sat, posture="sitting", bout_start=sat))
    )
    expect(page.locator("#posture")).to_have_text("sitting")
    frame = FeatureFrameV1(
        t_ms=round((sat + timedelta(minutes=12)).timestamp() * 1000), incl_deg=10.0, lean_deg=-7.5, enmo_mg=2.0, n=50
    )
    batch = FeatureBatchV1(wearer="w1", device="w1-trunk", placement="trunk", seq=1, frames=[frame])
    served.publish(topics.features("w1", "w1-trunk"), encode(batch))
    expect(page.locator("#lean")).to_have_text("-7.5°")
    # the frame moved the wearer's clock: 12 min into the sitting bout, 18 min ahead of the 30 min threshold
    expect(page.locator("#bout")).to_have_text("12 min")
    expect(page.locator("#bout-ahead")).to_have_text("18 min to the 30 min threshold")
    assert browser.errors == []


def test_done_and_pause_publish_the_clis_commands(served: Served, browser: Browser) -> None:
    page = browser.page
    topics = Topics(served.root)
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    prompt = PromptV1(
        id="w1-sitting-live",
        wearer="w1",
        trigger="sitting",
        exercise="seated-spinal-decompression",
        title="Time to stand",
        text="Stand up and reach.",
        created=created,
        expires=created + timedelta(minutes=15),
    )
    page.goto(f"{served.url}w/w1/today")
    served.publish(topics.prompts("w1"), encode(prompt))
    done = page.locator("#done-form button")
    expect(done).to_be_visible()
    seen = len(served.commands)
    done.click()
    command = wait_for_command(served, "ack", seen)
    assert (command.wearer, command.prompt_id, command.source) == ("w1", "w1-sitting-live", "web")
    expect(page).to_have_url(f"{served.url}w/w1/today?sent=done")

    page.goto(f"{served.url}w/w1/prompts?day={DAY_DATE}")
    seen = len(served.commands)
    page.get_by_role("button", name="Snooze 10 min: sit-to-stand at 17:00").click()
    command = wait_for_command(served, "snooze", seen)
    assert (command.prompt_id, command.minutes, command.source) == ("w1-open", 10, "web")
    expect(page).to_have_url(f"{served.url}w/w1/prompts?sent=snooze")

    seen = len(served.commands)
    page.locator("#pause-1h").click()
    command = wait_for_command(served, "pause", seen)
    assert command.until is not None and command.until - command.at == timedelta(hours=1)
    assert command.for_min == 60  # a span (issue 17): on the data's clock it moves with the press
    expect(page.locator("#sent")).to_have_text("Sent: pause.")
    # the alert service's pause, seen back on the broker, shows on the page
    page.reload()
    expect(page.locator("#pause-state")).to_contain_text("Paused until")

    seen = len(served.commands)
    page.locator("#until").fill("2099-01-02T08:30")
    page.get_by_role("button", name="Pause until").click()
    command = wait_for_command(served, "pause", seen)
    assert command.until == datetime(2099, 1, 2, 8, 30, tzinfo=UTC)  # the wearer's zone: UTC by default
    assert command.for_min is None  # a time of the wearer's day: on the data's clock it stays that time
    assert browser.errors == []


def test_a_check_in_from_the_prompts_page_is_the_clis_checkin_command(served: Served, browser: Browser) -> None:
    """Issue 17: pain (0-10) and stress from the web app, as from the CLI and ntfy; a value out of range (a tampered
    form) is refused in one line and nothing is sent."""
    page = browser.page
    page.goto(f"{served.url}w/w1/prompts?day={DAY_DATE}")
    page.locator("#pain").select_option("6")
    page.locator("#stress").select_option("high")
    seen = len(served.commands)
    page.locator("#checkin-send").click()
    command = wait_for_command(served, "checkin", seen)
    assert (command.wearer, command.pain, command.stress, command.source) == ("w1", 6, "high", "web")
    expect(page.locator("#sent")).to_have_text("Sent: checkin.")

    page.goto(f"{served.url}w/w1/prompts?day={DAY_DATE}")
    page.locator("#pain").evaluate("s => s.add(new Option('11', '11'))")
    page.locator("#pain").select_option("11")
    seen = len(served.commands)
    with page.expect_response(lambda r: r.url.endswith("/w/w1/command")) as answer:
        page.locator("#checkin-send").click()
    assert answer.value.status == 400
    assert answer.value.text().strip() == "checkin: pain 11: expected a whole number from 0 (none) to 10 (worst)"
    threading.Event().wait(0.5)
    assert [c for c in served.commands[seen:] if c.kind == "checkin"] == []


def test_policy_edits_are_validated_per_field_and_sent_as_a_policy_command(served: Served, browser: Browser) -> None:
    page = browser.page
    page.goto(f"{served.url}w/w1/settings")
    seen = len(served.commands)
    page.locator("#f-sitting_threshold_min").fill("-5")
    page.locator("#f-quiet_hours").fill("25:00-26:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#form-errors")).to_contain_text("2 fields to fix")
    expect(page.locator("#e-sitting_threshold_min")).to_contain_text("greater than 0")
    expect(page.locator("#e-quiet_hours")).to_contain_text("HH:MM-HH:MM")
    page.locator("#f-sitting_threshold_min").fill("25")
    page.locator("#f-quiet_hours").fill("12:00-13:00")
    page.get_by_role("button", name="Save").click()
    command = wait_for_command(served, "policy", seen)
    assert command.settings == {"sitting_threshold_min": 25, "quiet_hours": ["12:00-13:00"]}
    assert [c.kind for c in served.commands[seen:]] == ["policy"]  # the refused form sent nothing
    expect(page.locator("#f-sitting_threshold_min")).to_have_value("25")
    # the refused form's page came with status 400 (Chromium logs that), nothing else went wrong
    assert browser.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]


def test_bad_input_is_a_4xx_with_one_line(served: Served) -> None:
    cases = {
        "w/w1/week?week=2026-W99": 400,
        "w/w1/week/report?week=26-48": 400,
        "w/w1/today?day=23.11.2026": 400,
        "w/w1/today.json?day=2026-02-30": 400,
        "w/nobody/today": 404,
        "w/No%20Body/prompts": 400,
    }
    for path, status in cases.items():
        got, body = get(served.url + path)
        assert got == status, (path, body)
        assert body.count("\n") == 1 and len(body) < 300, (path, body)
    _, body = get(served.url + "w/nobody/today")
    assert "wearers with data: w1" in body
    # a form without the CSRF token (another site's, or a script's) is refused, and nothing is sent
    seen = len(served.commands)
    form = urllib.parse.urlencode({"action": "resume"}).encode()
    request = urllib.request.Request(served.url + "w/w1/command", data=form, method="POST")
    try:
        urllib.request.urlopen(request, timeout=20)
        raise AssertionError("a form without a CSRF token was taken")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403 and "CSRF" in exc.read().decode()
    threading.Event().wait(0.5)
    assert served.commands[seen:] == []
    assert "Traceback" not in served.proc.text()


def test_listening_beyond_loopback_needs_a_token(served: Served, tmp_path: Path) -> None:
    store = tmp_path / "empty.sqlite"
    store.touch()
    run = subprocess.run(
        [sys.executable, "-m", "kinetic", "serve"],
        check=False,
        env=env(served.mosquitto, served.root, store, KINETIC_WEB__HOST="0.0.0.0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "kinetic: error: setting KINETIC_WEB__HOST='0.0.0.0' is not a loopback address: set KINETIC_WEB__TOKEN (16 "
        "characters or more) so that only people with it can see and act, or keep the default 127.0.0.1"
    ]


def test_with_a_token_every_page_needs_the_login(served: Served, tmp_path: Path) -> None:
    seed(tmp_path / "k.sqlite")
    token = "correct horse battery staple"
    proc = Proc(
        ["serve"],
        env(served.mosquitto, served.root + "tok", tmp_path / "k.sqlite", KINETIC_WEB__TOKEN=token),
        tmp_path / "serve.log",
    )
    try:
        proc.wait_for("kinetic serve: open ")
        url = proc.text().split("kinetic serve: open ", 1)[1].split()[0]
        status, body = get(url + "w/w1/today.json?day=" + DAY_DATE)
        assert status == 200 and "<form" in body and 'name="token"' in body  # redirected to the login page
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = chromium.new_page()
                page.goto(url + "w/w1/settings")
                expect(page).to_have_url(url + "login")
                page.locator("#token").fill("wrong")
                page.get_by_role("button", name="Log in").click()
                expect(page.locator("p.error")).to_contain_text("not the token")
                page.locator("#token").fill(token)
                page.get_by_role("button", name="Log in").click()
                expect(page).to_have_url(url + "w/w1/today")
                page.goto(url + "w/w1/settings")
                expect(page.locator("h1")).to_have_text("Settings")
            finally:
                chromium.close()
    finally:
        assert proc.terminate() == 0, proc.text()
    assert json.dumps(token) not in proc.text()


SHORT_DAY = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: ann
    placement: trunk
    segments: [walk 3m, sit 40m lean_left 12deg, walk 5m, sit 10m]
"""


def test_the_demo_serves_its_day_live_and_prints_the_url(tmp_path: Path) -> None:
    """``kinetic demo --serve``: embedded broker and store, the app beside them, up until SIGTERM."""
    scenario = tmp_path / "day.yaml"
    scenario.write_text(SHORT_DAY)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KINETIC_WEB__PORT": "0",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),  # the demo's store and audit trail, never the user's
    }
    proc = Proc(["demo", "--serve", "--scenario", str(scenario), "--speed", "0"], environment, tmp_path / "demo.log")
    try:
        proc.wait_for("kinetic demo: the web app is at http://127.0.0.1:", 60)
        url = proc.text().split("kinetic demo: the web app is at ", 1)[1].split()[0]
        proc.wait_for("the day is played", 120)
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = chromium.new_page(viewport={"width": 1100, "height": 900})
                page.set_default_timeout(20_000)
                browser = Browser(page, url.rstrip("/"))
                page.goto(url)  # one wearer: straight to ann's Today, the demo's day (the wearer's clock)
                expect(page).to_have_url(f"{url}w/ann/today")
                expect(page.locator("h1 small")).to_have_text(DAY_DATE)
                expect(page.locator("#timeline canvas")).to_have_count(1)
                expect(page.locator("#prompt-list li")).to_have_count(2)  # the lean prompt and its re-prompt
                page.screenshot(path=str(tmp_path / "demo-today.png"), full_page=True)
                # Ctrl-C with the page still open: its live stream does not hold the shutdown
                assert proc.terminate() == 0, proc.text()
            finally:
                chromium.close()
        assert browser.errors == [] and browser.outside == []
    finally:
        assert proc.terminate() == 0, proc.text()
    assert "dead letters: 0" in proc.text()


def test_no_serious_or_critical_accessibility_violation(served: Served, tmp_path: Path) -> None:
    """axe-core (vendored for the tests only) on each page in Chromium; the report's own frame is the report's."""
    pages = [f"w/w1/today?day={DAY_DATE}", f"w/w1/prompts?day={DAY_DATE}", f"w/w1/week?week={WEEK}", "w/w1/settings"]
    pages.append("w/w1/consent")  # the Sharing page (issue 20)
    found: dict[str, list[str]] = {}
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            # the app's CSP allows only its own scripts: the test's axe is injected past it
            page = chromium.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900}).new_page()
            page.set_default_timeout(20_000)
            for path in pages:
                page.goto(served.url + path)
                page.wait_for_load_state("networkidle")
                page.add_script_tag(path=str(AXE))
                violations = page.evaluate(
                    """async () => (await axe.run(document, {iframes: false, resultTypes: ["violations"]}))
                        .violations.filter(v => v.impact === "serious" || v.impact === "critical")
                        .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "))"""
                )
                found[path] = violations
                page.screenshot(path=str(tmp_path / (path.split("/")[2].split("?")[0] + ".png")), full_page=True)
        finally:
            chromium.close()
    assert found == {path: [] for path in pages}


SITTING = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: sam
    placement: thigh
    segments: [walk 1m, sit 45m]
"""


def wait_for_event(served: Served, kind: str, seen: int) -> EventV1:
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while datetime.now(UTC) < deadline:
        for event in served.events[seen:]:
            if event.kind == kind and event.wearer == "sam":
                return event
        threading.Event().wait(0.05)
    raise AssertionError(f"no {kind!r} event from the alert service; seen: {served.events[seen:]}")


def test_done_and_pause_change_what_the_real_alert_service_does(
    served: Served, browser: Browser, tmp_path: Path, procs: list[Proc]
) -> None:
    """The real ``kinetic alerts`` on the same broker prompts a simulated wearer still sitting; the web app shows the
    prompt live; Done is acknowledged by the alert service (``prompt_ack`` for a bout still open: applied) and Pause
    1 h changes its policy (``policy_changed``, paused until an hour after the press)."""
    store = tmp_path / "unused.sqlite"
    store.touch()
    environment = env(
        served.mosquitto,
        served.root,
        store,
        KINETIC_ALERTS__STATE_DIR=str(tmp_path / "alerts"),
        # the scripted day lies in the past: its prompts would be past their expiry when decided (issue 13)
        KINETIC_ALERTS__SEND_EXPIRED_PROMPTS="true",
    )
    alerts = Proc(["alerts"], environment, tmp_path / "alerts.log")
    procs.append(alerts)
    alerts.wait_for("watching")
    (tmp_path / "day.yaml").write_text(SITTING)
    sim = subprocess.run(
        [sys.executable, "-m", "kinetic", "simulate", str(tmp_path / "day.yaml"), "--speed", "0"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sim.returncode == 0, sim.stderr
    alerts.wait_for("prompt sam-sitting-")
    page = browser.page
    page.goto(f"{served.url}w/sam/today")
    expect(page.locator("#posture")).to_have_text("sitting")
    done = page.locator("#done-form button")
    expect(done).to_be_visible()
    prompt_id = page.locator("#done-prompt").input_value()
    assert prompt_id.startswith("sam-sitting-")
    seen = len(served.events)
    done.click()
    ack = wait_for_event(served, "prompt_ack", seen)
    assert (ack.prompt_id, ack.reason) == (prompt_id, None)  # applied: no re-prompt for this bout
    page.goto(f"{served.url}w/sam/prompts")
    seen = len(served.events)
    page.locator("#pause-1h").click()
    changed = wait_for_event(served, "policy_changed", seen)
    assert changed.reason is not None and changed.reason.startswith("paused until ")
    until = datetime.fromisoformat(changed.reason.removeprefix("paused until "))
    assert until - changed.t == timedelta(hours=1)
    assert browser.errors == []


def test_every_page_fits_a_phone_sized_viewport(served: Served, tmp_path: Path) -> None:
    """Chromium's mobile emulation at 390 x 844 (a phone's CSS pixels): no page is wider than the screen (wide
    tables scroll inside their box). A phone's own browser was not run."""
    pages = [f"w/w1/today?day={DAY_DATE}", f"w/w1/prompts?day={DAY_DATE}", f"w/w1/week?week={WEEK}", "w/w1/settings"]
    pages.append("w/w1/consent")  # the Sharing page (issue 20)
    widths = {}
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = chromium.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page.set_default_timeout(20_000)
            for path in pages:
                page.goto(served.url + path)
                page.wait_for_load_state("networkidle")
                widths[path] = page.evaluate("document.documentElement.scrollWidth")
                page.screenshot(path=str(tmp_path / ("phone-" + path.split("/")[2].split("?")[0] + ".png")))
        finally:
            chromium.close()
    assert widths == dict.fromkeys(pages, 390)


def test_every_read_of_a_wearers_data_is_in_the_audit_trail_through_one_writer(
    served: Served, browser: Browser
) -> None:
    """Issue 20 item 4 for the web app: Today (page, data, live stream), Prompts, Week (page, data), the weekly
    report and Settings each add an entry naming the wearer, what was read and from where; the server opened the
    trail once at start and holds that one connection (no file opened per read)."""
    trail = served.tmp / "audit.sqlite"
    assert served.audit_fds_at_start == 1  # opened before any page was read
    log = AuditLog(trail, 400)
    try:
        before = len(log.for_wearer("w1"))
        page = browser.page
        page.goto(f"{served.url}w/w1/today?day={DAY_DATE}")
        expect(page.locator("#prompt-list li")).to_have_count(4)  # today.json read
        page.goto(f"{served.url}w/w1/prompts?day={DAY_DATE}")
        page.goto(f"{served.url}w/w1/week?week={WEEK}")
        expect(page.frame_locator("#report").locator("h1")).to_have_text(f"Weekly report: w1, {WEEK}")
        expect(page.locator("#charts")).to_have_attribute("data-ready", "true")
        page.goto(f"{served.url}w/w1/settings")
        status, _ = get(f"{served.url}w/w1/week.json?week={WEEK}")  # the trend's data, as a script reads it
        assert status == 200
        status, _ = get(f"{served.url}w/nobody/today")  # an unknown wearer: nothing read, nothing recorded
        assert status == 404
        entries = log.for_wearer("w1")[before:]
        assert log.for_wearer("nobody") == []
    finally:
        log.close()
    got = {(e["action"], e["detail"].split(" (from ")[0]) for e in entries}
    assert {
        ("web today", DAY_DATE),
        ("web today data", DAY_DATE),
        ("web live", "live stream opened"),
        ("web prompts", f"week up to {DAY_DATE}"),
        ("web week", WEEK),
        ("web week data", WEEK),
        ("web report weekly", WEEK),
        ("web report charts", WEEK),
        ("web settings", "policy and devices"),
    } <= got, got
    assert all(e["detail"].endswith("(from 127.0.0.1)") and "@" in e["actor"] for e in entries), entries
    # still the one connection the server opened at start, after all these reads
    assert open_fds(served.proc, trail) == 1


def push(port: int, wearer: str, token: str, body: bytes) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/sensorlogger/{wearer}?{urllib.parse.urlencode({'token': token})}",
        data=body,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_phone_added_on_settings_pushes_to_the_running_phone_service_until_revoked(
    served: Served, browser: Browser, procs: list[Proc]
) -> None:
    """Settings > Add a phone shows the token and the push URL once; ``kinetic phone`` (already running: it sees the
    token file change) takes Sensor Logger pushes with it and publishes the phone's features on MQTT under the new
    device id; Revoke makes the next push a 401. Only the token's hash is on disk; both changes are audited."""
    page = browser.page
    tokens_file = served.tmp / "phone-tokens.json"
    # a first phone, so that `kinetic phone` has a token file to start with (no TOML phones)
    page.goto(f"{served.url}w/w1/settings")
    page.locator("#p-device").fill("w1-old")
    page.locator("#p-platform").select_option("ios")
    page.get_by_role("button", name="Add a phone").click()
    expect(page.locator("#new-phone")).to_contain_text("w1-old")

    features: list[FeatureBatchV1] = []
    listener = paho.Client(paho.CallbackAPIVersion.VERSION2)
    listener.on_message = lambda c, u, m: features.append(FeatureBatchV1.model_validate_json(m.payload))
    subscribed = threading.Semaphore(0)
    listener.on_subscribe = lambda *args: subscribed.release()
    listener.connect(served.mosquitto.host, served.mosquitto.port)
    listener.loop_start()
    listener.subscribe(Topics(served.root).features("w1", "w1-pixel"), qos=1)
    assert subscribed.acquire(timeout=10)
    store = served.tmp / "kinetic.sqlite"
    phone = Proc(
        ["phone"],
        env(
            served.mosquitto,
            served.root,
            store,
            KINETIC_PHONE__HTTP_PORT=str(served.phone_port),
            KINETIC_PHONE__QUEUE_PATH=str(served.tmp / "phone-queue.sqlite"),
        ),
        served.tmp / "phone.log",
    )
    procs.append(phone)
    try:
        phone.wait_for("push endpoint on")
        # added while `kinetic phone` runs
        page.locator("#p-device").fill("w1-pixel")
        page.locator("#p-platform").select_option("android")
        page.get_by_role("button", name="Add a phone").click()
        expect(page.locator("#new-phone")).to_contain_text("w1-pixel")
        token = page.locator("#new-token").input_value()
        url = page.locator("#new-url").input_value()
        assert url == f"http://127.0.0.1:{served.phone_port}/sensorlogger/w1?token={token}"
        assert len(token) == 43 and token not in tokens_file.read_text()
        assert oct(tokens_file.stat().st_mode & 0o777) == "0o600"
        page.goto(f"{served.url}w/w1/settings")  # a new page shows the phone, never the token again
        expect(page.locator("#phones tbody tr")).to_have_count(2)
        assert token not in page.content()

        readings = fixture_readings("android")
        excerpt = [r for r in readings if r["time"] < readings[0]["time"] + 4 * 10**9]
        shift = (datetime.now(UTC).timestamp() // 1 + 1) * 10**9 + 100_000_000 - excerpt[0]["time"]
        bodies = messages([{**r, "time": r["time"] + int(shift)} for r in excerpt])
        assert [push(served.phone_port, "w1", token, body) for body in bodies] == [200] * len(bodies)
        assert push(served.phone_port, "w2", token, bodies[0]) == 403  # w1's token, another wearer's URL

        page.get_by_role("button", name="Revoke w1-pixel").click()
        expect(page.locator("#revoked")).to_contain_text("w1-pixel")
        expect(page.locator("#phones tbody tr")).to_have_count(1)
        assert push(served.phone_port, "w1", token, bodies[-1]) == 401
        assert phone.terminate() == 0, phone.text()  # SIGTERM: the held seconds are sent
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not features and datetime.now(UTC) < deadline:
            threading.Event().wait(0.05)
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert features, phone.text()
    assert {(b.wearer, b.device, b.placement) for b in features} == {("w1", "w1-pixel", "thigh")}
    assert sum(len(b.frames) for b in features) >= 3
    assert token not in phone.text() and token not in served.proc.text()  # never logged
    log = AuditLog(served.tmp / "audit.sqlite", 400)
    try:
        actions = [(e["action"], e["detail"].split(" (")[0]) for e in log.for_wearer("w1")]
    finally:
        log.close()
    assert ("web phone token added", "w1-pixel") in actions
    assert ("web phone token revoked", "w1-pixel") in actions
    assert browser.errors == [] and browser.outside == []


def test_the_add_a_phone_form_is_validated_and_csrf_safe(served: Served, browser: Browser) -> None:
    page = browser.page
    page.goto(f"{served.url}w/w1/settings")
    page.locator("#p-device").fill("Not A Name")
    page.get_by_role("button", name="Add a phone").click()
    expect(page.locator("#pe-device")).to_contain_text("lower-case letters")
    expect(page.locator("#pe-platform")).to_contain_text("choose iOS or Android")
    expect(page.locator("#new-phone")).to_have_count(0)
    form = urllib.parse.urlencode({"device": "w1-x", "platform": "ios", "placement": "thigh"}).encode()
    request = urllib.request.Request(served.url + "w/w1/phones", data=form, method="POST")
    try:
        urllib.request.urlopen(request, timeout=20)
        raise AssertionError("a form without a CSRF token was taken")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
    tokens_file = served.tmp / "phone-tokens.json"
    assert not tokens_file.exists() or '"w1-x"' not in tokens_file.read_text()


def simulate(environment: dict[str, str], path: Path, scenario: str) -> None:
    path.write_text(scenario)
    sim = subprocess.run(
        [sys.executable, "-m", "kinetic", "simulate", str(path), "--speed", "0"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sim.returncode == 0, sim.stderr


def test_snooze_holds_the_real_alert_services_re_prompt_for_10_minutes_of_data_time(
    served: Served, browser: Browser, tmp_path: Path, procs: list[Proc]
) -> None:
    """Issue 16 item 5 for Snooze: the real ``kinetic alerts`` prompts a simulated wearer sitting past the 30 min
    threshold; Snooze 10 min on the Today page (pressed at wall time T); as the stream goes on sitting (data time =
    wall time here, then ahead of it), no prompt comes before T + 10 min (the default re-prompt after 10 min without
    a break would have come at prompt + 10 min, during the snooze) and the one re-prompt comes right after it. Read on
    the prompts topic."""
    store = tmp_path / "unused.sqlite"
    store.touch()
    environment = env(
        served.mosquitto,
        served.root,
        store,
        KINETIC_ALERTS__STATE_DIR=str(tmp_path / "alerts"),
        KINETIC_ALERTS__SEND_EXPIRED_PROMPTS="true",
        KINETIC_CLOCK__MAX_AHEAD_S="",  # the second stretch of the day runs ahead of this host's clock
    )
    prompts: list[PromptV1] = []
    listener = paho.Client(paho.CallbackAPIVersion.VERSION2)
    listener.on_message = lambda c, u, m: prompts.append(PromptV1.model_validate_json(m.payload))
    subscribed = threading.Semaphore(0)
    listener.on_subscribe = lambda *args: subscribed.release()
    listener.connect(served.mosquitto.host, served.mosquitto.port)
    listener.loop_start()
    listener.subscribe(Topics(served.root).prompts("sue"), qos=1)
    assert subscribed.acquire(timeout=10)
    alerts = Proc(["alerts"], environment, tmp_path / "alerts.log")
    procs.append(alerts)
    try:
        alerts.wait_for("watching")
        # sitting since 35 min before now: the first prompt was due 5 min ago (data time, as the wearer's clock)
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(minutes=36)
        simulate(
            environment,
            tmp_path / "part1.yaml",
            f"start: {start.isoformat()}\nwearers:\n  - wearer: sue\n    placement: thigh\n"
            "    segments: [walk 1m, sit 35m]\n",
        )
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while not prompts and datetime.now(UTC) < deadline:
            threading.Event().wait(0.05)
        assert [p.attempt for p in prompts] == [1], alerts.text()
        first = prompts[0]
        assert first.trigger == "sitting"
        page = browser.page
        page.goto(f"{served.url}w/sue/today")
        snooze = page.locator("#snooze-form button")
        expect(snooze).to_be_visible()
        assert page.locator("#snooze-prompt").input_value() == first.id
        seen = len(served.events)
        pressed = datetime.now(UTC)
        snooze.click()
        expect(page).to_have_url(f"{served.url}w/sue/today?sent=snooze")
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while not any(e.kind == "prompt_snoozed" and e.wearer == "sue" for e in served.events[seen:]):
            assert datetime.now(UTC) < deadline, served.events[seen:]
            threading.Event().wait(0.05)
        snoozed = next(e for e in served.events[seen:] if e.kind == "prompt_snoozed" and e.wearer == "sue")
        assert (snoozed.prompt_id, snoozed.reason) == (first.id, None)  # applied: the bout goes on
        # the wearer keeps sitting for 20 more minutes of data, from where the stream stopped
        simulate(
            environment,
            tmp_path / "part2.yaml",
            f"start: {(start + timedelta(minutes=36)).isoformat()}\nwearers:\n  - wearer: sue\n"
            "    placement: thigh\n    segments: [sit 20m]\n",
        )
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while len(prompts) < 2 and datetime.now(UTC) < deadline:
            threading.Event().wait(0.05)
        threading.Event().wait(1.0)  # anything more the data would bring
    finally:
        listener.loop_stop()
        listener.disconnect()
    later = prompts[1:]
    assert len(later) == 1, (later, alerts.text())
    again = later[0]
    assert again.attempt == 2 and again.trigger == "sitting"
    assert again.created - first.created > timedelta(minutes=10)  # not the un-snoozed re-prompt (first + 10 min)
    due = pressed + timedelta(minutes=10)
    # not during the snooze, and at the first batch of data after it (the stream is sent in 10 s batches)
    assert due - timedelta(seconds=2) <= again.created <= due + timedelta(seconds=30), (pressed, again.created)
    assert browser.errors == []
