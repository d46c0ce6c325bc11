"""Least privilege on real influxd 1.6.7 with authentication on (issue 20, item 1): `kinetic store provision` makes
one user per service with the passwords deploy/make_secrets.py writes; the real `kinetic bridge` stores a day as
kinetic_bridge (WRITE only), the reader reads it and may not write, neither reaches another database, and the
operator erases a wearer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.errors import SinkAuthError
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.influxql_queries import InfluxQLQueries
from ingest.store.points import Point
from tests.support.influx_auth import ADMIN_LOGIN, ADMIN_PASSWORD, as_user, influxd_with_admin, make_secrets
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
"""


def point(wearer: str, t_ms: int) -> Point:
    return Point.make("events", {"wearer": wearer, "kind": "summary"}, {"sitting_s": 60.0}, t_ms)


def test_each_service_user_can_do_its_part_only(mosquitto: Server, tmp_path: Path, unique: str) -> None:
    with influxd_with_admin(tmp_path / "influxd") as influxd:
        _check(influxd, mosquitto, tmp_path, unique)


def _check(influxd: Server, mosquitto: Server, tmp_path: Path, unique: str) -> None:
    secrets = make_secrets(tmp_path)
    password = {role: stored_password(secrets, role) for role in ("bridge", "reader", "operator")}
    env = (
        env_for(mosquitto.port, influxd.url, unique, tmp_path)
        | ADMIN_LOGIN
        | {"KINETIC_INFLUX__RAW_RETENTION_DAYS": "30"}
    )

    def kinetic(*args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kinetic", *args],
            env=env | (extra or {}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    provision = kinetic("store", "provision", "--secrets", str(secrets))
    assert provision.returncode == 0, provision.stderr
    assert "user 'kinetic_bridge' (bridge) created: WRITE" in provision.stderr
    again = kinetic("store", "provision", "--secrets", str(secrets))  # idempotent: passwords and grants set again
    assert again.returncode == 0 and "user 'kinetic_reader' (reader) updated: READ" in again.stderr, again.stderr
    admin = InfluxV1Sink(InfluxSettings(url=influxd.url, database="other", username="admin", password=ADMIN_PASSWORD))  # type: ignore[arg-type]
    asyncio.run(admin.prepare())
    asyncio.run(admin.write([point("zed", 1_763_884_800_000)]))

    # the real bridge, logged in as kinetic_bridge (WRITE only, nothing to create at start), stores a simulated day
    bridge_env = {
        "KINETIC_INFLUX__USERNAME": "kinetic_bridge",
        "KINETIC_INFLUX__PASSWORD": password["bridge"],
        "KINETIC_INFLUX__CREATE_DATABASE": "false",
    }
    bridge = Proc(["bridge"], env | bridge_env, tmp_path / "bridge.log")
    try:
        bridge.wait_for("subscribed under")
        (tmp_path / "day.yaml").write_text(DAY)
        sim = kinetic("simulate", str(tmp_path / "day.yaml"), "--speed", "0")
        assert sim.returncode == 0, sim.stderr
        reader = InfluxV1Sink(as_user(influxd.url, unique, "kinetic_reader", password["reader"]))
        queries = InfluxQLQueries(reader)

        async def stored() -> int:
            for _ in range(150):
                rows = await queries.export("ann")
                if len(rows.get("features", [])) >= 300:
                    return len(rows["features"])
                await asyncio.sleep(0.2)
            return 0

        assert asyncio.run(stored()) == 300  # every second of the day, in the raw retention policy
    finally:
        assert bridge.terminate() == 0, bridge.text()[-2000:]
    assert "refused the credentials" not in bridge.text()

    bridge_sink = InfluxV1Sink(as_user(influxd.url, unique, "kinetic_bridge", password["bridge"]))
    with pytest.raises(SinkAuthError, match="HTTP 403"):
        asyncio.run(bridge_sink.query("SELECT * FROM events"))  # the bridge may not read
    other_as_bridge = InfluxV1Sink(as_user(influxd.url, "other", "kinetic_bridge", password["bridge"]))
    with pytest.raises(SinkAuthError, match="HTTP 403"):
        asyncio.run(other_as_bridge.write([point("ann", 1_763_884_800_000)]))  # nor write another database
    with pytest.raises(SinkAuthError, match="HTTP 403"):
        asyncio.run(reader.write([point("ann", 1_763_884_900_000)]))  # the reader may not write
    with pytest.raises(SinkAuthError, match="HTTP 403"):
        asyncio.run(queries.delete("ann"))  # nor erase
    other_as_reader = InfluxQLQueries(InfluxV1Sink(as_user(influxd.url, "other", "kinetic_reader", password["reader"])))
    with pytest.raises(SinkAuthError, match="HTTP 403"):
        asyncio.run(other_as_reader.export("zed"))  # nor read another database

    # the operator erases a wearer (kinetic data delete's credential)
    operator = InfluxQLQueries(InfluxV1Sink(as_user(influxd.url, unique, "kinetic_operator", password["operator"])))
    asyncio.run(operator.delete("ann"))
    assert all(not rows for rows in asyncio.run(queries.export("ann")).values())
    assert asyncio.run(InfluxQLQueries(admin).export("zed"))["events"]  # another database untouched


def test_provision_refuses_a_password_it_cannot_quote(tmp_path: Path) -> None:
    from ingest.errors import ConfigError
    from ingest.store.access import ServiceUser

    with pytest.raises(ConfigError, match="without quotes, backslashes"):
        ServiceUser("reader", "kinetic_reader", "it's-a-password-with-a-quote")
    with pytest.raises(ConfigError, match="letters, digits"):
        ServiceUser("reader", 'kinetic"reader', "0123456789abcdef")
