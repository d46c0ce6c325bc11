"""``kinetic dashboards push`` through grafana-client against a recording stand-in for Grafana's HTTP API
(tests/support/fake_grafana.py checks every request body against the documented shapes). Grafana itself is not
run: it cannot run on these machines."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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
        "XDG_DATA_HOME": tempfile.mkdtemp(prefix="kinetic-push-"),  # the audit trail: never the real user's
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


def test_with_the_wall_each_clinic_reads_through_its_own_data_source_and_offers_consenting_patients(
    tmp_path: Path,
) -> None:
    """Each clinic folder's dashboards use the clinic's own data source (its database, its read-only user: what
    `kinetic store provision` made; the refusals are shown on influxd by tests/integration/deploy/test_clinic_wall.py);
    only patients who grant the clinic their posture data now are offered; each offer is in the audit trail."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for clinic in ("physio-north", "back-clinic-south"):
        (secrets / f"influxdb_clinic_{clinic}_password").write_text(f"password-of-{clinic}\n")
    clinics = tmp_path / "clinics.yaml"
    clinics.write_text((ROOT / "deploy/clinics.yaml").read_text())
    env = {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "KINETIC_STORE__CLINIC_WALL": "true",
        "KINETIC_STORE__CLINICS_FILE": str(clinics),
        "KINETIC_GRAFANA__CLINIC_SECRETS": str(secrets),
        "KINETIC_INFLUX__USERNAME": "kinetic_reader",
        "KINETIC_INFLUX__PASSWORD": "reader-password",
    }

    def kinetic(*args: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        environ = {"PATH": os.environ.get("PATH", ""), **env, **extra}
        cmd = [sys.executable, "-m", "kinetic", *args]
        return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=120, check=False)

    granted = kinetic("consent", "grant", "ann", "--clinic", "physio-north", "--no-broker", extra={})
    assert granted.returncode == 0, granted.stderr
    # carl is physio-north's too, and bob is back-clinic-south's: neither consents
    grafana = FakeGrafana(token=TOKEN, users=dict(USERS))
    with FakeGrafanaServer(grafana) as server:
        done = kinetic(
            "dashboards",
            "push",
            extra={"KINETIC_GRAFANA__URL": server.url, "KINETIC_GRAFANA__TOKEN": TOKEN},
        )
    assert done.returncode == 0, done.stderr
    assert grafana.errors == []
    north = grafana.datasources["kinetic-influxdb-physio-north"]
    assert north["jsonData"]["dbName"] == "kinetic_physio_north" and north["user"] == "kinetic_clinic_physio_north"
    assert north["secureJsonData"] == {"password": "password-of-physio-north"}
    assert (
        grafana.datasources["kinetic-influxdb-back-clinic-south"]["jsonData"]["dbName"] == "kinetic_back_clinic_south"
    )
    for clinic in ("physio-north", "back-clinic-south"):
        for kind in ("review", "day"):
            board = grafana.dashboards[f"kinetic-{kind}-{clinic}"]["dashboard"]
            assert {p["datasource"]["uid"] for p in board["panels"]} == {f"kinetic-influxdb-{clinic}"}
            assert 'kinetic-influxdb"' not in str(board).replace("'", '"')  # no reference to the shared one left
    variables = {
        v["name"]: v for v in grafana.dashboards["kinetic-review-physio-north"]["dashboard"]["templating"]["list"]
    }
    assert variables["patients"]["query"] == "(ann)"  # carl does not consent
    south = {
        v["name"]: v for v in grafana.dashboards["kinetic-day-back-clinic-south"]["dashboard"]["templating"]["list"]
    }
    assert south["patients"]["query"] == "(^$)"  # nobody: an empty group would match every wearer
    assert "clinic physio-north: 1 of 2 patients offered" in done.stderr

    from ingest.audit import AuditLog

    trail = AuditLog(tmp_path / "data" / "kinetic" / "audit.sqlite", 400)  # who was offered whose data
    try:
        assert [(e["action"], e["detail"]) for e in trail.for_wearer("ann")] == [
            ("dashboards push", "offered to clinic physio-north (Grafana folder kinetic-physio-north)")
        ]
        assert trail.for_wearer("carl") == [] and trail.for_wearer("bob") == []
    finally:
        trail.close()


def test_with_the_wall_on_influxdb_2_each_clinic_data_source_carries_that_clinics_read_only_token(
    tmp_path: Path,
) -> None:
    """On InfluxDB 2.x (KINETIC_INFLUX__TOKEN set) each clinic's data source sends the clinic's own token, the one
    `kinetic store provision` made (read on that clinic's buckets only, checked on the 2.x stand-in), in the
    `Authorization: Token` header, never the operator's; a missing token file is one line naming it and the command."""
    from tests.support.fake_influx2 import FakeInflux2, FakeInflux2Server, walled_kinetic

    operator = "all-access-token"
    secrets = tmp_path / "secrets"
    kinetic = walled_kinetic(tmp_path, operator, KINETIC_GRAFANA__CLINIC_SECRETS=str(secrets))

    influx = FakeInflux2(token=operator)
    grafana = FakeGrafana(token=TOKEN, users=dict(USERS))
    with FakeInflux2Server(influx) as influx_server, FakeGrafanaServer(grafana) as server:
        made = kinetic("store", "provision", "--secrets", str(secrets), KINETIC_INFLUX__URL=influx_server.url)
        assert made.returncode == 0, made.stderr
        grafana_env = {"KINETIC_GRAFANA__URL": server.url, "KINETIC_GRAFANA__TOKEN": TOKEN}
        done = kinetic("dashboards", "push", **grafana_env)
        tokens = {p.name: p.read_text().strip() for p in secrets.iterdir()}
        (secrets / "influxdb_clinic_back-clinic-south_token").unlink()
        missing = kinetic("dashboards", "push", **grafana_env)
    assert done.returncode == 0, done.stderr
    assert grafana.errors == [] and influx.errors == []
    for clinic, database in (
        ("physio-north", "kinetic_physio_north"),
        ("back-clinic-south", "kinetic_back_clinic_south"),
    ):
        ds = grafana.datasources[f"kinetic-influxdb-{clinic}"]
        token = tokens[f"influxdb_clinic_{clinic}_token"]
        assert ds["jsonData"] == {"dbName": database, "httpMode": "GET", "httpHeaderName1": "Authorization"}
        assert ds["secureJsonData"] == {"httpHeaderValue1": f"Token {token}"} and "user" not in ds
        assert influx.rights(token) == {("read", database)}  # the clinic's bucket, read only
        for kind in ("review", "day"):
            board = grafana.dashboards[f"kinetic-{kind}-{clinic}"]["dashboard"]
            assert {p["datasource"]["uid"] for p in board["panels"]} == {f"kinetic-influxdb-{clinic}"}
    clinic_sources = [d for uid, d in grafana.datasources.items() if uid != "kinetic-influxdb"]
    assert len(clinic_sources) == 2 and operator not in str(clinic_sources)
    assert tokens["influxdb_operator_token"] not in str(clinic_sources)
    assert missing.returncode == 2
    (line,) = [x for x in missing.stderr.splitlines() if x.startswith("kinetic: error:")]
    assert "influxdb_clinic_back-clinic-south_token is missing" in line and "kinetic store provision" in line
