"""Per-person logins to the web app (issue 20, item 1): the logins file (scrypt hashes, mode 600, a bad entry named
with the file and what is expected, re-read when it changes) and, through the app's ASGI interface in-process with the
real audit trail, a wearer's login scoped to that wearer: another wearer's pages, sharing and commands are refused
(403) and audited as refused on that wearer, the trail names the login for each read, a removed login's session ends;
a wrong password is one line, counted, without detail."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from dashboards.web.app import WebState
from dashboards.web.consent import ClinicScope
from dashboards.web.logins import DUMMY, Logins, LoginsFileError, hash_password, parse_logins, password_matches
from dashboards.web.service import check_bind, open_logins
from dashboards.web.settings import WebSettings
from ingest.audit import AuditLog
from ingest.errors import ConfigError
from ingest.wire import CommandV1, EventV1
from tests.unit.dashboards.web.test_consent import NOW_MS, _call, _state


def test_a_password_is_kept_only_as_its_scrypt_hash_in_a_private_file(tmp_path: Path) -> None:
    logins = Logins(tmp_path / "web-logins.json")
    password = logins.add("ann", "wearer", "ann")
    text = (tmp_path / "web-logins.json").read_text()
    assert len(password) == 24 and password not in text
    assert oct((tmp_path / "web-logins.json").stat().st_mode & 0o777) == "0o600"
    [entry] = json.loads(text)["logins"]
    assert entry["hash"].startswith("scrypt$16384$8$5$") and (entry["role"], entry["wearer"]) == ("wearer", "ann")
    assert logins.verify("ann", password) is not None
    assert logins.verify("ann", password + "x") is None
    assert logins.verify("bob", password) is None  # an unknown name: the same answer
    assert not password_matches(password, DUMMY)
    assert password_matches("pw", hash_password("pw")) and hash_password("pw") != hash_password("pw")  # salted


def test_a_login_added_or_removed_counts_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "web-logins.json"
    served, cli = Logins(path), Logins(path)  # the server's reader, the CLI's writer
    assert served.get("ann") is None
    cli.add("ann", "wearer", "ann")
    assert served.get("ann") is not None
    with pytest.raises(LoginsFileError, match="login 'ann' exists"):
        cli.add("ann", "wearer", "ann")
    assert cli.remove("ann") and not cli.remove("ann")
    assert served.get("ann") is None


def test_a_bad_entry_is_one_line_naming_the_file_the_entry_and_what_is_expected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "web-logins.json"
    Logins(path).add("ann", "wearer", "ann")
    body = json.loads(path.read_text())
    secret_hash = body["logins"][0]["hash"]
    body["logins"].append({"name": "bob", "role": "wearer", "hash": "sha1$abc"})
    path.write_text(json.dumps(body))
    with pytest.raises(LoginsFileError) as refused:
        Logins(path).check()
    line = str(refused.value)
    assert "\n" not in line and line.startswith(f"logins file {path}, entry 2 ('bob'): ")
    assert "hash: String should match pattern" in line and "expected {" in line and "sha1$abc" not in line
    # while the server runs: the good entries stay, the bad one is refused and logged once, never its hash
    with caplog.at_level(logging.WARNING):
        served = Logins(path)
        assert served.get("ann") is not None and served.get("bob") is None
        assert served.get("bob") is None
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"logins file {path}, entry 2 ('bob'):") and secret_hash not in warning
    assert parse_logins(path, "[]")[1] == [
        f'logins file {path}: expected {{"version": 1, "logins": [...]}} as `kinetic web-login` writes it'
    ]
    wearer_less = {"version": 1, "logins": [{"name": "carl", "role": "wearer", "hash": secret_hash}]}
    assert "a wearer login names its wearer" in parse_logins(path, json.dumps(wearer_less))[1][0]


def test_settings_refuse_a_token_beside_logins_and_an_empty_logins_file(tmp_path: Path) -> None:
    path = tmp_path / "web-logins.json"
    with pytest.raises(ConfigError, match="both set"):
        check_bind(WebSettings(token="t" * 16, logins_path=path))  # type: ignore[arg-type]
    check_bind(WebSettings(host="0.0.0.0", logins_path=path))  # logins guard a listener beyond loopback
    with pytest.raises(LoginsFileError, match="has no login: add one with `kinetic web-login add WEARER`"):
        open_logins(WebSettings(logins_path=path))
    Logins(path).add("ann", "wearer", "ann")
    assert open_logins(WebSettings(logins_path=path)) is not None
    assert open_logins(WebSettings()) is None  # the newcomer's app: no login file, no login


def _logged_in(tmp_path: Path) -> tuple[WebState, AuditLog, list[EventV1], list[CommandV1]]:
    state, audit, _, events = _state(tmp_path)
    commands: list[CommandV1] = []

    async def publish(command: CommandV1) -> None:
        commands.append(command)

    state.publish = publish
    state.logins = Logins(tmp_path / "web-logins.json")
    state.logins.add("ann", "wearer", "ann")
    state.logins.add("anna@physio-north.example", "staff", None)
    state.sessions.update({"s-ann": state.logins.get("ann"), "s-staff": state.logins.get("anna@physio-north.example")})
    return state, audit, events, commands


def test_a_wearers_login_sees_only_that_wearer_and_the_trail_names_it(tmp_path: Path) -> None:
    state, audit, events, commands = _logged_in(tmp_path)
    ann = "kinetic_session=s-ann"
    assert asyncio.run(_call(state, "GET", "/", cookie=ann))[2]["location"] == "/w/ann/today"
    status, page, _ = asyncio.run(_call(state, "GET", "/w/ann/today?day=2026-12-01", cookie=ann))
    assert status == 200 and 'id="login-name">ann<' in page
    for path in ("/w/bob/today", "/w/bob/week", "/w/bob/consent", "/w/bob/prompts", "/w/nobody/today"):
        status, body, _ = asyncio.run(_call(state, "GET", path, cookie=ann))
        assert (status, body) == (403, "login 'ann' is ann's: it shows and changes only their data\n"), path
    grant = {"action": "grant", "clinic": "physio-north", "data": ["posture"]}
    assert asyncio.run(_call(state, "POST", "/w/bob/consent", grant, cookie=ann))[0] == 403
    assert asyncio.run(_call(state, "POST", "/w/bob/command", {"action": "pause_1h"}, cookie=ann))[0] == 403
    assert events == [] and commands == []  # nothing sent for bob
    assert asyncio.run(_call(state, "POST", "/w/ann/command", {"action": "pause_1h"}, cookie=ann))[0] == 303
    assert [c.wearer for c in commands] == ["ann"]

    mine = [(e["actor"], e["action"]) for e in audit.for_wearer("ann")]
    assert mine == [("web login ann", "web today")]
    refused = audit.for_wearer("bob")
    assert {(e["actor"], e["action"]) for e in refused} == {("web login ann", "web read refused")}
    assert len(refused) == 6 and refused[4]["detail"] == "POST /w/bob/consent: not this login's (from 127.0.0.1)"

    staff = "kinetic_session=s-staff"
    assert asyncio.run(_call(state, "GET", "/w/bob/today?day=2026-12-01", cookie=staff))[0] == 200
    assert audit.for_wearer("bob")[-1]["actor"] == "web login anna@physio-north.example (staff)"


def test_a_removed_or_renewed_login_ends_its_session_and_no_session_is_no_page(tmp_path: Path) -> None:
    state, _, _, _ = _logged_in(tmp_path)
    assert state.logins is not None and state.logins.remove("ann")
    status, _, headers = asyncio.run(_call(state, "GET", "/w/ann/today", cookie="kinetic_session=s-ann"))
    assert (status, headers["location"]) == (303, "/login")
    staff = "kinetic_session=s-staff"
    assert asyncio.run(_call(state, "GET", "/w/bob/today?day=2026-12-01", cookie=staff))[0] == 200
    assert state.logins.remove("anna@physio-north.example")
    state.logins.add("anna@physio-north.example", "staff", None)  # a new password: the old session ends
    assert asyncio.run(_call(state, "GET", "/w/bob/today?day=2026-12-01", cookie=staff))[0] == 303
    assert asyncio.run(_call(state, "POST", "/w/ann/command", {"action": "done"}))[0] == 401


def test_a_wrong_password_is_one_line_counted_without_detail(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state, audit, _, _ = _logged_in(tmp_path)
    with caplog.at_level(logging.INFO, logger="dashboards.web.app"):
        wrong = asyncio.run(_call(state, "POST", "/login", {"name": "ann", "password": "not-it"}))
        unknown = asyncio.run(_call(state, "POST", "/login", {"name": "zed", "password": "not-it"}))
    for status, page, _ in (wrong, unknown):
        assert status == 401 and "That name and password do not match a login of this app." in page
    assert wrong[1] == unknown[1]  # the same page whether the name exists or not
    assert state.login_refusals == 2
    assert [r.getMessage() for r in caplog.records] == [
        "web login: refused for login ann from 127.0.0.1 (1 refused since start)",
        "web login: refused for an unknown login name from 127.0.0.1 (2 refused since start)",
    ]
    assert [e["action"] for e in audit.for_wearer("ann")] == ["web login refused"]


def test_the_right_password_opens_a_session_for_that_login(tmp_path: Path) -> None:
    state, _, _, _ = _logged_in(tmp_path)
    assert state.logins is not None
    password = state.logins.add("bob", "wearer", "bob")
    status, _, headers = asyncio.run(_call(state, "POST", "/login", {"name": " Bob", "password": password}))
    assert status == 303 and headers["location"] == "/"
    session = headers["set-cookie"].split("kinetic_session=", 1)[1].split(";", 1)[0]
    assert state.sessions[session] == state.logins.get("bob")


def test_a_clinicians_login_in_a_clinics_view_is_named_with_the_clinic(tmp_path: Path) -> None:
    state, audit, _, _ = _logged_in(tmp_path)
    ledger = state.consent.ledger if state.consent is not None else None
    assert ledger is not None and ledger.clinics is not None
    state.scope, state.consent = ClinicScope("physio-north", ledger.clinics, ledger), None
    ledger.grant("ann", "physio-north", ["posture"], NOW_MS - 1000)
    staff = "kinetic_session=s-staff"
    assert asyncio.run(_call(state, "GET", "/w/ann/settings", cookie=staff))[0] == 200
    assert asyncio.run(_call(state, "GET", "/w/bob/settings", cookie=staff))[0] == 403  # not its patient
    [read] = audit.for_wearer("ann")
    assert (read["actor"], read["action"]) == ("web login anna@physio-north.example (staff)", "web settings")
    assert read["detail"].startswith("for clinic physio-north: ")
    [refused] = audit.for_wearer("bob")
    assert (refused["actor"], refused["action"]) == ("web login anna@physio-north.example (staff)", "web read refused")


def test_a_wearers_login_sees_its_prescriptions_and_a_staff_login_changes_them(tmp_path: Path) -> None:
    state, audit, _, _ = _logged_in(tmp_path)
    state.prescriptions_path = tmp_path / "prescriptions.yaml"
    state.prescriptions_path.write_text("wearers: {}\n")
    ann = "kinetic_session=s-ann"
    status, page, _ = asyncio.run(_call(state, "GET", "/w/ann/prescriptions", cookie=ann))
    assert (
        status == 200 and 'id="read-only"' in page and '<form method="post" action="/w/ann/prescriptions"' not in page
    )
    change = {"action": "set", "exercise": "chin-tuck", "reps": "5"}
    status, body, _ = asyncio.run(_call(state, "POST", "/w/ann/prescriptions", change, cookie=ann))
    assert (status, body) == (
        403,
        "login 'ann' is a wearer's: prescriptions are changed by a clinician or the operator (staff)\n",
    )
    assert state.prescriptions_path.read_text() == "wearers: {}\n"
    assert audit.for_wearer("ann")[-1]["action"] == "web prescription change refused"
    staff = "kinetic_session=s-staff"
    status, page, _ = asyncio.run(_call(state, "GET", "/w/ann/prescriptions", cookie=staff))
    assert status == 200 and 'id="add"' in page and 'id="read-only"' not in page
