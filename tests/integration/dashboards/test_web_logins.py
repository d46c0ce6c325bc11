"""Per-person logins to a real ``kinetic serve`` (issue 20, item 1) over a real Mosquitto, driven by Chromium: logins
made by ``kinetic web-login add``; ann's login sees ann, is refused bob's Today, Week and Sharing pages and bob's
consent form and buttons (403; nothing is published for bob, while ann's own change and command are), and the audit
trail names ann for her reads and for each refusal (on bob's trail, so bob sees who tried); a wrong password is one
line on the page and one counted line in the log, saying nothing of which part was wrong; a logins file with a bad
entry stops the server with one line naming the file, the entry and what is expected; no password or hash is in the
logs of the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from playwright.sync_api import expect, sync_playwright

from ingest.audit import AuditLog
from tests.integration.dashboards.test_web import AXE, CHROMIUM, chromium_page, env, seed
from tests.support.processes import Proc, run_kinetic
from tests.support.servers import Server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TWO = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: ann
    placement: trunk
    segments: [walk 3m, sit 20m, walk 2m]
  - wearer: bob
    placement: trunk
    segments: [sit 15m, walk 3m]
"""
DAY = "2026-11-23"


@dataclass
class Served:
    url: str
    mosquitto: Server
    proc: Proc
    tmp: Path
    passwords: dict[str, str]
    cli_output: str
    messages: list[tuple[str, bytes]] = field(default_factory=list)


@pytest.fixture(scope="module")
def served(mosquitto: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("weblogins")
    store = tmp / "kinetic.sqlite"
    seed(store, TWO)
    root = "tlog" + os.urandom(4).hex()
    more = {
        "KINETIC_WEB__LOGINS_PATH": str(tmp / "web-logins.json"),
        "KINETIC_STORE__CLINICS_FILE": str(ROOT / "deploy" / "clinics.yaml"),
        "KINETIC_STORE__CONSENT_PATH": str(tmp / "consent.jsonl"),
    }
    environ = env(mosquitto, root, store, **more)
    passwords, cli_output = {}, ""
    for wearer in ("ann", "bob"):
        made = run_kinetic(["web-login", "add", wearer], environ)
        assert made.returncode == 0, made.stderr
        passwords[wearer] = made.stdout.strip()
        cli_output += made.stderr
    listed = run_kinetic(["web-login", "list"], environ)
    assert listed.stdout.splitlines() == ["ann\twearer\tann", "bob\twearer\tbob"]
    cli_output += listed.stdout + listed.stderr

    messages: list[tuple[str, bytes]] = []
    listener = paho.Client(paho.CallbackAPIVersion.VERSION2)
    subscribed = threading.Event()
    listener.on_message = lambda c, u, m: messages.append((m.topic, m.payload))
    listener.on_subscribe = lambda *args: subscribed.set()
    listener.connect(mosquitto.host, mosquitto.port)
    listener.loop_start()
    listener.subscribe(f"{root}/#", qos=1)  # everything the app publishes, whoever it is for
    assert subscribed.wait(10)
    proc = Proc(["serve"], environ, tmp / "serve.log")
    try:
        proc.wait_for("kinetic serve: open http://127.0.0.1:")
        proc.wait_for("web: following")
        url = proc.text().split("kinetic serve: open ", 1)[1].split()[0]
        yield Served(url, mosquitto, proc, tmp, passwords, cli_output, messages)
    finally:
        listener.loop_stop()
        listener.disconnect()
        assert proc.terminate() == 0, proc.text()


def _published_for(served: Served, wearer: str) -> list[str]:
    return [topic for topic, _ in served.messages if f"/{wearer}/" in topic]


def test_anns_login_sees_ann_and_is_refused_bobs_pages_and_forms(served: Served) -> None:
    with chromium_page(served.url) as browser:
        page = browser.page
        refused: list[str] = []  # the console's errors, with the address each is about
        page.on("console", lambda m: refused.append(f"{m.location['url']}: {m.text}") if m.type == "error" else None)
        page.goto(f"{served.url}w/ann/today?day={DAY}")
        expect(page).to_have_url(f"{served.url}login")
        page.locator("#name").fill("ann")
        page.locator("#password").fill(served.passwords["ann"])
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{served.url}w/ann/today")  # her own Today: no list of the others
        expect(page.locator("#login-name")).to_have_text("ann")
        page.goto(f"{served.url}w/ann/week?week=2026-W48")
        expect(page.locator("h1")).to_contain_text("Week")
        page.goto(f"{served.url}w/ann/consent")
        csrf = page.locator("input[name=csrf]").first.input_value()

        for path in (f"w/bob/today?day={DAY}", "w/bob/week?week=2026-W48", "w/bob/consent"):
            response = page.goto(served.url + path)
            assert response is not None and response.status == 403, path
            assert (
                page.locator("body").inner_text().strip()
                == "login 'ann' is ann's: it shows and changes only their data"
            )
        grant = {"csrf": csrf, "action": "grant", "clinic": "physio-north", "data": "posture"}
        origin = {"origin": served.url.rstrip("/")}
        consent = page.request.post(f"{served.url}w/bob/consent", form=grant, headers=origin, max_redirects=0)
        assert consent.status == 403
        pause = {"csrf": csrf, "action": "pause_1h"}
        assert page.request.post(f"{served.url}w/bob/command", form=pause, headers=origin).status == 403
        # her own change and button go out: once they are on the broker, anything for bob would have been too
        assert (
            page.request.post(f"{served.url}w/ann/consent", form=grant, headers=origin, max_redirects=0).status == 303
        )
        assert (
            page.request.post(f"{served.url}w/ann/command", form=pause, headers=origin, max_redirects=0).status == 303
        )
        deadline = time.monotonic() + 20  # (Playwright's sync API holds this thread's event loop: a plain poll)
        while len(_published_for(served, "ann")) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert sorted(t.rsplit("/", 1)[1] for t in _published_for(served, "ann")) == ["commands", "consent"]
        assert _published_for(served, "bob") == []
        # the console's only errors are the refused pages' 403s (and Chromium asking a plain-text answer's favicon)
        forbidden = "the server responded with a status of 403 (Forbidden)"
        favicon = f"{served.url}favicon.ico: Failed to load resource: the server responded with a status of 404"
        assert {e for e in refused if not e.startswith(favicon)} == {
            f"{served.url}{path}: Failed to load resource: {forbidden}"
            for path in (f"w/bob/today?day={DAY}", "w/bob/week?week=2026-W48", "w/bob/consent")
        }
        assert browser.outside == []

    audit = AuditLog(served.tmp / "audit.sqlite", 30)
    try:
        anns, bobs = audit.for_wearer("ann"), audit.for_wearer("bob")
    finally:
        audit.close()
    assert {e["actor"] for e in anns} == {"web login ann"}
    assert {"web today", "web week", "web consent", "web consent changed"} <= {e["action"] for e in anns}
    bobs = [e for e in bobs if e["action"] == "web read refused"]
    assert {e["actor"] for e in bobs} == {"web login ann"}
    assert [e["detail"].split(":")[0] for e in bobs] == [
        "GET /w/bob/today",
        "GET /w/bob/week",
        "GET /w/bob/consent",
        "POST /w/bob/consent",
        "POST /w/bob/command",
    ]


def test_a_wrong_password_is_one_line_counted_and_tells_nothing(served: Served) -> None:
    before = served.proc.text().count("web login: refused")
    with chromium_page(served.url) as browser:
        page = browser.page
        for name in ("bob", "nobody"):
            page.goto(f"{served.url}login")
            page.locator("#name").fill(name)
            page.locator("#password").fill(served.passwords["ann"])  # a real password, not theirs
            with page.expect_response(f"{served.url}login") as answer:
                page.get_by_role("button", name="Log in").click()
            assert answer.value.status == 401
            expect(page.locator("p.error")).to_have_text("That name and password do not match a login of this app.")
    lines = [line for line in served.proc.text().splitlines() if "web login: refused" in line]
    assert len(lines) == before + 2
    assert lines[-2].endswith(f"web login: refused for login bob from 127.0.0.1 ({before + 1} refused since start)")
    assert lines[-1].endswith(
        f"web login: refused for an unknown login name from 127.0.0.1 ({before + 2} refused since start)"
    )


def test_a_bad_entry_in_the_logins_file_stops_the_server_with_one_line(served: Served, tmp_path: Path) -> None:
    logins = json.loads((served.tmp / "web-logins.json").read_text())
    logins["logins"][1]["wearer"] = "Bob Smith"
    bad = tmp_path / "web-logins.json"
    bad.write_text(json.dumps(logins))
    environ = env(served.mosquitto, "tlogbad", tmp_path / "none.sqlite", KINETIC_WEB__LOGINS_PATH=str(bad))
    run = subprocess.run(
        [sys.executable, "-m", "kinetic", "serve"], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 2
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(f"kinetic: error: logins file {bad}, entry 2 ('bob'): wearer: String should match pattern")
    assert line.endswith("as `kinetic web-login add` writes it}")
    assert logins["logins"][1]["hash"] not in run.stderr


def test_no_password_or_hash_is_in_the_logs_of_the_run(served: Served) -> None:
    logins = json.loads((served.tmp / "web-logins.json").read_text())["logins"]
    secret = [*served.passwords.values(), *(e["hash"] for e in logins), *(e["hash"].split("$")[-1] for e in logins)]
    logs = served.proc.text() + served.cli_output
    assert "web login ann: logged in" in logs  # the log is the run's, with the logins in it
    assert [s for s in secret if s in logs] == []
    assert oct((served.tmp / "web-logins.json").stat().st_mode & 0o777) == "0o600"


AXE_SERIOUS = """async () => (await axe.run(document, {iframes: false, resultTypes: ["violations"]})).violations
    .filter(v => v.impact === "serious" || v.impact === "critical").map(v => v.id)"""


def test_the_login_page_and_log_out_are_accessible_on_a_phone_and_log_out_ends_the_session(
    served: Served, tmp_path: Path
) -> None:
    """axe-core (vendored for the tests) on the login page and on ann's Today page with its Log out button, in
    Chromium's mobile emulation at 390 x 844: no serious or critical violation, nothing wider than the screen; Log out
    ends the session (her page asks for the login again)."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = chromium.new_context(  # the app's CSP allows only its own scripts: the test's axe is injected
                bypass_csp=True, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            found: dict[str, list[str]] = {}
            widths: dict[str, int] = {}
            for step in ("login", "today"):
                if step == "login":
                    page.goto(f"{served.url}login")
                else:
                    page.locator("#name").fill("ann")
                    page.locator("#password").fill(served.passwords["ann"])
                    page.get_by_role("button", name="Log in").click()
                    expect(page.locator("#login-name")).to_have_text("ann")
                page.wait_for_load_state("networkidle")
                page.add_script_tag(path=str(AXE))
                found[step] = page.evaluate(AXE_SERIOUS)
                widths[step] = page.evaluate("document.documentElement.scrollWidth")
                page.screenshot(path=str(tmp_path / f"phone-{step}.png"))
            page.get_by_role("button", name="Log out").click()
            expect(page).to_have_url(f"{served.url}login")
            page.goto(f"{served.url}w/ann/today")
            expect(page).to_have_url(f"{served.url}login")
        finally:
            chromium.close()
    assert found == {"login": [], "today": []} and widths == {"login": 390, "today": 390}
