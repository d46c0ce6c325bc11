"""``kinetic dashboards push`` through grafana-client against a recording stand-in for Grafana's HTTP API
(tests/support/fake_grafana.py checks every request body against the documented shapes). Grafana itself is not
run: it cannot run on these machines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SeededWeek
from tests.support import week
from tests.support.fake_grafana import FakeGrafana, FakeGrafanaServer
from tests.support.panels import run_query

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "glsa_test_token"
USERS = {"anna.schmidt@physio-north.example": 7, "ben.ortiz@south.example": 8, "dana.li@south.example": 9}


def push(
    url: str, *args: str, clinics: Path = ROOT / "deploy/clinics.yaml", token: str = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KINETIC_GRAFANA__URL": url,
        "KINETIC_GRAFANA__TOKEN": token,
        "KINETIC_GRAFANA__CLINICS_FILE": str(clinics),
        "KINETIC_INFLUX__TOKEN": "influx-secret",
    }
    cmd = [sys.executable, "-m", "kinetic", "dashboards", "push", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_push_creates_folders_teams_permissions_datasource_and_dashboards(seeded_week: SeededWeek) -> None:
    grafana = FakeGrafana(token=TOKEN, users=dict(USERS))
    with FakeGrafanaServer(grafana) as server:
        done = push(server.url)
    assert done.returncode == 0, done.stderr
    assert grafana.errors == []  # every body had the documented shape
    assert "pushed 2 clinics" in done.stderr

    (ds,) = grafana.datasources.values()
    assert ds["type"] == "influxdb" and ds["uid"] == "kinetic-influxdb" and ds["url"] == "http://influxdb:8086"
    assert ds["jsonData"] == {"dbName": "kinetic", "httpMode": "GET", "httpHeaderName1": "Authorization"}
    assert ds["secureJsonData"] == {"httpHeaderValue1": "Token influx-secret"}

    teams = {t["name"]: t["id"] for t in grafana.teams.values()}
    assert teams.keys() == {"kinetic-physio-north", "kinetic-back-clinic-south"}
    assert grafana.members[teams["kinetic-physio-north"]] == {7}
    assert grafana.members[teams["kinetic-back-clinic-south"]] == {8, 9}
    # each clinic folder: its team may view, nobody else (the default Viewer/Editor role entries are gone)
    assert grafana.permissions["kinetic-physio-north"] == [{"teamId": teams["kinetic-physio-north"], "permission": 1}]
    assert grafana.permissions["kinetic-back-clinic-south"] == [
        {"teamId": teams["kinetic-back-clinic-south"], "permission": 1}
    ]
    assert grafana.permissions["kinetic-operations"] == []  # admins only

    placed = {uid: d["folderUid"] for uid, d in grafana.dashboards.items()}
    assert placed == {
        "kinetic-operations": "kinetic-operations",
        "kinetic-review-physio-north": "kinetic-physio-north",
        "kinetic-day-physio-north": "kinetic-physio-north",
        "kinetic-review-back-clinic-south": "kinetic-back-clinic-south",
        "kinetic-day-back-clinic-south": "kinetic-back-clinic-south",
    }
    for d in grafana.dashboards.values():
        for panel in d["dashboard"]["panels"]:
            assert panel["datasource"]["uid"] == ds["uid"]

    # the patient selector of each clinic's dashboards lists that clinic's patients only (run on real influxd)
    start, end = week.week_range_ms()
    for clinic, expected in (("physio-north", ["ann"]), ("back-clinic-south", ["bob"])):
        for kind in ("review", "day"):
            variables = {
                v["name"]: v for v in grafana.dashboards[f"kinetic-{kind}-{clinic}"]["dashboard"]["templating"]["list"]
            }
            patients = variables["patients"]["query"]
            rows = run_query(
                seeded_week.influxd.url,
                seeded_week.database,
                variables["wearer"]["query"],
                start,
                end,
                {"patients": patients},
            )
            assert sorted(r["value"] for r in rows) == expected, (clinic, kind, patients)
    review = grafana.dashboards["kinetic-review-physio-north"]["dashboard"]
    assert review["timezone"] == "Europe/Berlin" and review["title"] == "Weekly review - Physio North"


def test_push_again_updates_in_place(tmp_path: Path) -> None:
    grafana = FakeGrafana(token=TOKEN, users=dict(USERS))
    with FakeGrafanaServer(grafana) as server:
        assert push(server.url).returncode == 0
        before = len(grafana.requests)
        again = push(server.url)
    assert again.returncode == 0, again.stderr
    second = grafana.requests[before:]
    assert not [
        r for r in second if r.method == "POST" and r.path in ("/api/folders", "/api/teams", "/api/datasources")
    ]
    assert not [r for r in second if r.path.endswith("/members") and r.method == "POST"]
    assert [r.path for r in second if r.method == "PUT"] == ["/api/datasources/uid/kinetic-influxdb"]
    assert {d["version"] for d in grafana.dashboards.values()} == {2}
    assert grafana.errors == []


def test_push_errors_are_one_line_and_name_the_cause(tmp_path: Path) -> None:
    grafana = FakeGrafana(token=TOKEN, users={"ben.ortiz@south.example": 8, "dana.li@south.example": 9})
    with FakeGrafanaServer(grafana) as server:
        missing_user = push(server.url)
        bad_token = push(server.url, token="wrong")
    assert (
        missing_user.returncode == 2
        and "'anna.schmidt@physio-north.example' is not a Grafana user" in missing_user.stderr
    )
    assert bad_token.returncode == 2 and "Grafana at" in bad_token.stderr and "401" in bad_token.stderr
    down = push("http://127.0.0.1:9")  # nothing listens on the discard port
    assert down.returncode == 2 and "KINETIC_GRAFANA__URL" in down.stderr
    bad = tmp_path / "clinics.yaml"
    bad.write_text("clinics:\n  - uid: x\n    name: X\n    patients: ['Not An Id']\n")
    wrong = push("http://127.0.0.1:9", clinics=bad)
    assert wrong.returncode == 2 and "clinics file" in wrong.stderr and "'Not An Id'" in wrong.stderr
    for run in (missing_user, bad_token, down, wrong):
        assert run.stderr.strip().splitlines()[-1].startswith("kinetic: error:")
