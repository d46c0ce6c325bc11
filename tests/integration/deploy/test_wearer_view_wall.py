"""The wearer's own view across the wall's databases, on real influxd 1.6.7 with authentication (issue 20).

With the wall on, a wearer's points are in their clinic's database or the private one, by the consent in force when
each was recorded; a move between clinics leaves earlier points in the old clinic's database until `kinetic data
move` runs. ann's week here: Monday in clinic A's database (before she moved; not moved yet), Wednesday in clinic
B's, Friday in the private one; her grant to clinic A is stored (as the bridge stores each consent event) and is
what names A's database to her queries: each wearer's queries ask the private database, their clinic's and each
clinic a stored grant of theirs names, no other. Her own `kinetic serve` (without KINETIC_WEB__CLINIC), logged in as
kinetic_web (`kinetic store provision`: READ on every database of the wall, nothing else), shows the whole week and
each day; her own `kinetic report weekly` (without --clinic) too. kinetic_reader (Grafana's Operations user) still
reads the operations database only, and kinetic_web cannot write."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.errors import SinkAuthError
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.points import Point
from ingest.store.walled import WalledQueries
from ingest.wall import Wall
from tests.integration.deploy.test_clinic_wall import _http
from tests.support.influx_auth import ADMIN_LOGIN, as_user, influxd_with_admin, make_secrets
from tests.support.influx_auth import password as stored_password
from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
CLINICS = """\
clinics:
  - {uid: clinic-a, name: Clinic A, patients: [carl]}
  - {uid: clinic-b, name: Clinic B, patients: [ann, bob]}
  - {uid: clinic-c, name: Clinic C, patients: [dora]}
"""
MONDAY_MS = 1_795_424_400_000  # 2026-11-23T09:00:00Z, ISO week 2026-W48
DAY_MS = 86_400_000
# (day offset from Monday, the database suffix the point is in)
WEEK = [(0, "clinic_a"), (2, "clinic_b"), (4, "private")]


def test_the_wearers_own_view_reads_their_week_from_every_database_of_the_wall(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    with influxd_with_admin(tmp_path / "influxd") as influxd:
        _check(influxd, mosquitto, tmp_path, unique)


def _check(influxd: Server, mosquitto: Server, tmp_path: Path, unique: str) -> None:
    secrets = make_secrets(tmp_path)
    clinics = tmp_path / "clinics.yaml"
    clinics.write_text(CLINICS)
    env = env_for(mosquitto.port, influxd.url, unique, tmp_path) | {
        "KINETIC_INFLUX__RAW_RETENTION_DAYS": "30",
        "KINETIC_STORE__CLINIC_WALL": "true",
        "KINETIC_STORE__CLINICS_FILE": str(clinics),
    }

    def login(role: str) -> dict[str, str]:
        if role == "admin":
            return ADMIN_LOGIN
        return {
            "KINETIC_INFLUX__USERNAME": f"kinetic_{role}",
            "KINETIC_INFLUX__PASSWORD": stored_password(secrets, role),
        }

    def kinetic(*args: str, role: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "kinetic", *args],
            env=env | login(role) | {"KINETIC_INFLUX__CREATE_DATABASE": "false"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    provision = kinetic("store", "provision", "--secrets", str(secrets), role="admin").stderr
    databases = ", ".join(
        repr(f"{unique}{suffix}") for suffix in ("", "_clinic_a", "_clinic_b", "_clinic_c", "_private")
    )
    assert f"user 'kinetic_web' (web) created: READ on {databases}" in provision, provision

    def settings_as(role: str, database: str) -> InfluxSettings:
        user = login(role)
        return as_user(influxd.url, database, user["KINETIC_INFLUX__USERNAME"], user["KINETIC_INFLUX__PASSWORD"])

    def as_role(role: str, database: str) -> InfluxV1Sink:
        return InfluxV1Sink(settings_as(role, database))

    async def store_week() -> None:
        for day, suffix in WEEK:
            sink = as_role("admin", f"{unique}_{suffix}")
            t = MONDAY_MS + day * DAY_MS
            hour = Point.make("summary_1h", {"wearer": "ann"}, {"sitting_s": 3600.0, "breaks": 2.0}, t)
            tags = {"wearer": "ann", "device": "ann-thigh", "placement": "thigh"}
            fields = {"incl_deg": 80.0, "lean_deg": 4.0, "enmo_mg": 2.0, "steps": 0}
            seconds = [Point.make("features", tags, fields, t + 1000 * i) for i in range(60)]  # one minute
            try:
                await sink.write_to(f"{unique}_{suffix}", sink.encode([hour, *seconds]))
            finally:
                await sink.aclose()

    async def store_grant() -> None:  # the bridge keeps each consent event it routes by in the private database
        sink = as_role("admin", f"{unique}_private")
        grant = Point.make(
            "events", {"wearer": "ann", "kind": "consent_granted"}, {"clinic": "clinic-a", "data": "posture"}, MONDAY_MS
        )
        try:
            await sink.write_to(f"{unique}_private", sink.encode([grant]))
        finally:
            await sink.aclose()

    asyncio.run(store_week())
    asyncio.run(store_grant())

    async def asked() -> None:
        """Each wearer's queries ask the databases their roster and stored grants name, no other clinic's."""
        roster = {"carl": "clinic-a", "ann": "clinic-b", "bob": "clinic-b", "dora": "clinic-c"}
        walled = WalledQueries(settings_as("web", unique), Wall(unique, roster))
        try:
            assert await walled.asked("ann") == [
                f"{unique}_private",
                f"{unique}_clinic_a",
                f"{unique}_clinic_b",
                unique,
            ]
            assert await walled.asked("bob") == [f"{unique}_private", f"{unique}_clinic_b", unique]
            assert len(await walled.hours("ann", MONDAY_MS, MONDAY_MS + 7 * DAY_MS)) == 3  # Monday, Wednesday, Friday
        finally:
            await walled.aclose()

    asyncio.run(asked())

    async def refused() -> None:
        reader = as_role("reader", f"{unique}_private")
        web = as_role("web", f"{unique}_private")
        try:
            with pytest.raises(SinkAuthError, match="HTTP 403"):
                await reader.query("SELECT * FROM summary_1h")
            with pytest.raises(SinkAuthError):
                await web.write_to(f"{unique}_private", b"summary_1h,wearer=ann sitting_s=1 1795424400000\n")
        finally:
            await reader.aclose()
            await web.aclose()

    asyncio.run(refused())

    proc = Proc(["serve"], env | login("web") | {"KINETIC_WEB__PORT": "0"}, tmp_path / "serve.log")
    try:
        proc.wait_for("web: following")
        proc.wait_for("kinetic serve: open http")  # said after the server is up: it may come after "following"
        found = re.search(r"kinetic serve: open (http://\S+)/", proc.text())
        assert found, proc.text()
        url = found.group(1)
        status, body, _ = _http(url, "GET", "/w/ann/week.json?week=2026-W48")
        assert status == 200, body[:500]
        week = json.loads(body)
        assert week["weeks"][-1] == "2026-W48" and week["sitting_h"][-1] == 3.0  # Monday, Wednesday and Friday
        for day, _ in WEEK:
            date = f"2026-11-{23 + day}"
            status, body, _ = _http(url, "GET", f"/w/ann/today.json?day={date}")
            minute_s = (MONDAY_MS + day * DAY_MS) / 1000
            assert status == 200 and json.loads(body)["lean"]["t"] == [minute_s], (date, body[:500])  # its minute
    finally:
        assert proc.terminate() == 0, proc.text()[-2000:]

    out = tmp_path / "report"
    kinetic("report", "weekly", "--wearer", "ann", "--week", "2026-W48", "--out", str(out), role="web")
    [table] = out.glob("*.csv")
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert [float(r["sitting_min"] or 0) for r in rows[:7]] == [60.0, 0.0, 60.0, 0.0, 60.0, 0.0, 0.0]
