"""The wall between clinics on real influxd 1.6.7 with authentication on (issue 20, items 2 and 3).

`kinetic store provision` makes a database and a read-only user per clinic; the real `kinetic bridge` routes each
wearer's points by the clinics file and the wearer's consent (`kinetic consent grant`, an event on the wire); with
clinic A's credential a hand-written InfluxQL query for a clinic B wearer finds nothing in A's database and is refused
on B's; `kinetic data move` moves a patient's points to their new clinic; `kinetic consent withdraw --delete-shared`
takes the clinic's copy back into the private database; `kinetic serve` for one clinic (KINETIC_WEB__CLINIC, its
credential) shows a consenting patient and refuses the others, each refusal audited; the wearer's Sharing page takes
the clinic's copy back with the operator's credential and says so when the app's credential may not."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest

from ingest.audit import AuditLog
from ingest.errors import SinkAuthError
from ingest.store.influx_v1 import InfluxV1Sink
from tests.support.influx_auth import ADMIN_LOGIN, as_user, influxd_with_admin, make_secrets
from tests.support.influx_auth import password as stored_password
from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
DAY = """\
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: ann
    placement: thigh
    segments: [walk 1m, sit 3m, walk 1m]
  - wearer: bob
    placement: thigh
    segments: [sit 5m]
  - wearer: carl
    placement: thigh
    segments: [sit 5m]
"""
SINCE = "2026-11-23T07:00:00+00:00"  # before the day: its points are covered by the grants
CLINICS = """\
clinics:
  - {{uid: clinic-a, name: Clinic A, patients: [{a}]}}
  - {{uid: clinic-b, name: Clinic B, patients: [{b}]}}
"""


def test_a_clinic_reads_its_consenting_patients_only(mosquitto: Server, tmp_path: Path, unique: str) -> None:
    with influxd_with_admin(tmp_path / "influxd") as influxd:
        _check(influxd, mosquitto, tmp_path, unique)


def _check(influxd: Server, mosquitto: Server, tmp_path: Path, unique: str) -> None:
    secrets = make_secrets(tmp_path)
    clinics = tmp_path / "clinics.yaml"
    clinics.write_text(CLINICS.format(a="ann, carl", b="bob"))  # carl: a patient of A who does not consent
    env = (
        env_for(mosquitto.port, influxd.url, unique, tmp_path)
        | ADMIN_LOGIN
        | {
            "KINETIC_INFLUX__RAW_RETENTION_DAYS": "30",
            "KINETIC_STORE__CLINIC_WALL": "true",
            "KINETIC_STORE__CLINICS_FILE": str(clinics),
        }
    )

    def kinetic(*args: str, user: str = "admin", status: int = 0) -> subprocess.CompletedProcess[str]:
        name = f"kinetic_{user.replace('-', '_')}"  # clinic-b's reader: kinetic_clinic_clinic_b
        login = (
            {} if user == "admin" else {"KINETIC_INFLUX__USERNAME": name, "KINETIC_INFLUX__PASSWORD": password(user)}
        )
        done = subprocess.run(
            [sys.executable, "-m", "kinetic", *args],
            env=env | login,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == status, done.stderr
        return done

    def password(role: str) -> str:
        return stored_password(secrets, role)

    provision = kinetic("store", "provision", "--secrets", str(secrets)).stderr
    assert f"database '{unique}_clinic_a'" in provision and f"database '{unique}_private'" in provision
    assert f"user 'kinetic_clinic_clinic_a' (clinic) created: READ on '{unique}_clinic_a'" in provision
    assert f"user 'kinetic_bridge' (bridge) created: WRITE on '{unique}', '{unique}_clinic_a'" in provision

    def sink(user: str, database: str) -> InfluxV1Sink:
        name, secret = (
            (f"kinetic_clinic_{user}", f"clinic_{user.replace('_', '-')}")
            if "clinic" in user
            else (f"kinetic_{user}", user)
        )
        return InfluxV1Sink(as_user(influxd.url, database, name, password(secret)))

    def count(as_: InfluxV1Sink, wearer: str, database: str) -> int:
        result = asyncio.run(
            as_.query(
                f'SELECT count(enmo_mg) FROM "kinetic_raw"."features" WHERE wearer = \'{wearer}\'', database=database
            )
        )
        series = result["results"][0].get("series", [])
        return int(series[0]["values"][0][1]) if series else 0

    clinic_a, clinic_b = f"{unique}_clinic_a", f"{unique}_clinic_b"
    private = f"{unique}_private"
    a = sink("clinic_a", clinic_a)
    b = sink("clinic_b", clinic_b)
    operator = sink("operator", unique)

    bridge = Proc(
        ["bridge"],
        env
        | {
            "KINETIC_INFLUX__USERNAME": "kinetic_bridge",
            "KINETIC_INFLUX__PASSWORD": password("bridge"),
            "KINETIC_INFLUX__CREATE_DATABASE": "false",
        },
        tmp_path / "bridge.log",
    )
    try:
        bridge.wait_for("subscribed under")
        kinetic("consent", "grant", "ann", "--clinic", "clinic-a", "--data", "posture", "--since", SINCE)
        kinetic("consent", "grant", "bob", "--clinic", "clinic-b", "--since", SINCE)
        bridge.wait_for("consent_granted for clinic-b")
        (tmp_path / "day.yaml").write_text(DAY)
        kinetic("simulate", str(tmp_path / "day.yaml"), "--speed", "0")

        for _ in range(150):  # the bridge writes what it took
            stored = [count(operator, "carl", private), count(a, "ann", clinic_a), count(b, "bob", clinic_b)]
            if min(stored) >= 300:
                break
            time.sleep(0.2)
    finally:
        assert bridge.terminate() == 0, bridge.text()[-2000:]
    assert count(a, "ann", clinic_a) == 300  # a consenting patient: in their clinic's database
    assert count(b, "bob", clinic_b) == 300
    assert count(operator, "carl", private) == 300  # no consent: private, though on A's roster
    assert count(a, "carl", clinic_a) == 0
    assert count(a, "bob", clinic_a) == 0  # clinic A's credential finds no clinic B patient in A's database ...
    with pytest.raises(SinkAuthError, match="HTTP 403"):  # ... and may not read B's, nor the private one
        count(a, "bob", clinic_b)
    with pytest.raises(SinkAuthError, match="HTTP 403"):
        count(a, "carl", private)
    with pytest.raises(SinkAuthError, match="HTTP 403"):
        asyncio.run(a.query('SELECT * INTO "x"."autogen"."features" FROM "kinetic_raw"."features"', method="POST"))

    # ann moves to clinic B: the clinics file says so, ann grants B; the operator moves her points
    clinics.write_text(CLINICS.format(a="carl", b="ann, bob"))
    kinetic("consent", "grant", "ann", "--clinic", "clinic-b", "--data", "posture", "--since", SINCE, "--no-broker")
    moved = kinetic("data", "move", "ann", "--to", "clinic-b", user="operator").stderr
    assert "moved for ann:" in moved, moved
    assert count(b, "ann", clinic_b) == 300 and count(operator, "ann", clinic_a) == 0
    minutes = asyncio.run(b.query("SELECT count(*) FROM \"features_1m\" WHERE wearer = 'ann'"))
    assert minutes["results"][0].get("series"), "ann's minute rollups moved too"

    # bob withdraws, asking for B's copy to go: it is back in his private database
    kinetic("consent", "withdraw", "bob", "--clinic", "clinic-b", "--delete-shared", user="operator")
    assert count(b, "bob", clinic_b) == 0
    assert count(operator, "bob", private) == 300
    shown = kinetic("consent", "show", "bob").stdout
    assert '"now": {}' in shown and '"withdraw"' in shown

    # a report run for a clinic: refused for a patient who does not consent; read with the clinic's own credential
    refused = kinetic("report", "weekly", "--wearer", "carl", "--week", "2026-W48", "--clinic", "clinic-a", status=2)
    assert "carl does not share their posture data with clinic clinic-a" in refused.stderr
    out = tmp_path / "reports"
    out.mkdir()
    args = ("report", "weekly", "--wearer", "ann", "--week", "2026-W48", "--clinic", "clinic-b", "--out", str(out))
    report = kinetic(*args, user="clinic_clinic-b")  # finds ann in clinic B's database (else: unknown wearer)
    assert "weekly report for ann, 2026-W48" in report.stderr, report.stderr
    assert kinetic(*args, user="clinic_clinic-a", status=2).stderr.count("HTTP 403") == 1  # A may not read B's

    def serve(user: str, extra: dict[str, str]) -> tuple[Proc, str]:
        login = {
            "KINETIC_INFLUX__USERNAME": f"kinetic_{user.replace('-', '_')}",
            "KINETIC_INFLUX__PASSWORD": password(user),
        }
        proc = Proc(["serve"], env | login | {"KINETIC_WEB__PORT": "0"} | extra, tmp_path / f"serve-{user}.log")
        try:
            proc.wait_for("web: following")  # listening, and the broker connected (a consent change is published)
            proc.wait_for("kinetic serve: open http")  # said after the server is up: it may come after "following"
        except BaseException:
            proc.terminate()  # not left running into the next test
            raise
        found = re.search(r"kinetic serve: open (http://\S+)/", proc.text())
        assert found, proc.text()
        return proc, found.group(1)

    # clinic B's view, with B's read-only credential: ann (consenting) is shown, bob (withdrew) and carl are not
    view, url = serve("clinic_clinic-b", {"KINETIC_WEB__CLINIC": "clinic-b"})
    try:
        status, body, _ = _http(url, "GET", "/w/ann/today.json?day=2026-11-23")
        assert status == 200 and json.loads(body)["lean"]["t"], body[:500]  # ann's minutes, from B's database
        status, body, _ = _http(url, "GET", "/w/bob/today.json?day=2026-11-23")
        assert (status, body) == (
            403,
            "bob does not share their posture data with clinic clinic-b now: clinic clinic-b's view does not show "
            "their data\n",
        )
        status, body, _ = _http(url, "GET", "/w/carl/week")
        assert status == 403 and body.startswith("carl is not a patient of clinic clinic-b")
    finally:
        assert view.terminate() == 0, view.text()[-2000:]
    trail = AuditLog(Path(env["XDG_DATA_HOME"]) / "kinetic" / "audit.sqlite", 400)
    try:
        assert [e["action"] for e in trail.for_wearer("bob")][-1] == "web read refused"
        assert trail.for_wearer("bob")[-1]["detail"].startswith("for clinic clinic-b: /w/bob/today.json: bob does not")
        assert trail.for_wearer("ann")[-1]["detail"].startswith("for clinic clinic-b: 2026-11-23")
    finally:
        trail.close()

    # ann withdraws from B on her Sharing page, asking for B's copy to go: with the web app's read-only credential
    # (kinetic_web: reads every database of the wall) the app says the operator must finish it; with the operator's,
    # the app moves it into her private database
    withdraw = {"action": "withdraw", "clinic": "clinic-b", "data": "posture", "delete_shared": "on"}
    taken = {}
    for user in ("web", "operator"):
        app, url = serve(user, {})
        try:
            status, _, headers = _http(url, "POST", "/w/ann/consent", withdraw)
            assert status == 303, (headers, app.text()[-2000:])
            taken[user] = int(headers["location"].split("taken=")[1])
        finally:
            assert app.terminate() == 0, app.text()[-2000:]
    assert taken["web"] == -1  # refused by influxd: the page says the operator finishes it
    assert taken["operator"] >= 300  # her 300 features and their rollups
    assert count(b, "ann", clinic_b) == 0 and count(operator, "ann", private) == 300
    assert "clinic-b" not in json.loads(kinetic("consent", "show", "ann").stdout)["now"]  # A's old grant stays

    # the wearer's rights reach every database of the wall: export finds ann in clinic B's, delete erases carl's
    exported = tmp_path / "export"
    kinetic("data", "export", "ann", "--out", str(exported), "--format", "json", "--no-broker", user="operator")
    document = json.loads((exported / "ann.json").read_text())
    assert len(document["measurements"]["features"]) == 300
    assert [e["action"] for e in document["audit"]][:2] == ["data move", "report weekly"]  # who read ann's data
    assert "web consent changed" in [e["action"] for e in document["audit"]]
    kinetic("data", "delete", "carl", "--yes", "--no-broker", user="operator")
    assert count(operator, "carl", private) == 0


def _http(url: str, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    """One request to a running `kinetic serve`; a form is posted the way its page posts it (the CSRF cookie and
    field from a GET of the page first)."""
    where = urlparse(url)
    connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port or 80, timeout=60)
    try:
        headers: dict[str, str] = {}
        body = None
        if form is not None:
            connection.request("GET", path)
            answer = connection.getresponse()
            page = answer.read().decode()
            cookie = answer.getheader("set-cookie") or ""
            token = re.search(r'name="csrf" value="([^"]+)"', page)
            assert answer.status == 200 and token, page[:500]
            headers = {
                "Cookie": cookie.split(";")[0],
                "Content-Type": "application/x-www-form-urlencoded",
            }
            body = urlencode({"csrf": token.group(1), **form})
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read().decode(), {k.lower(): v for k, v in answer.getheaders()}
    finally:
        connection.close()
