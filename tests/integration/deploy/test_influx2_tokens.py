"""`kinetic store provision` on InfluxDB 2.x: buckets, InfluxQL mappings and one token per service and purpose,
scoped by bucket and action, through the documented API. InfluxDB 2.x cannot run here: a stand-in
(tests/support/fake_influx2.py) checks every request against the shapes of InfluxDB's OSS API contract."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.fake_influx2 import ROOT, FakeInflux2, FakeInflux2Server, walled_kinetic

pytestmark = pytest.mark.integration
ADMIN = "all-access-token"


def provision(url: str, secrets: Path, tmp_path: Path, token: str = ADMIN) -> subprocess.CompletedProcess[str]:
    kinetic = walled_kinetic(tmp_path, token, KINETIC_INFLUX__URL=url, KINETIC_INFLUX__RAW_RETENTION_DAYS="30")
    return kinetic("store", "provision", "--secrets", str(secrets))


def test_each_token_is_scoped_to_its_buckets_and_action(tmp_path: Path) -> None:
    influx = FakeInflux2(token=ADMIN)
    secrets = tmp_path / "secrets"
    with FakeInflux2Server(influx) as server:
        done = provision(server.url, secrets, tmp_path)
        assert done.returncode == 0, done.stderr
        assert influx.errors == []  # every request had the documented shape
        again = provision(server.url, secrets, tmp_path)  # idempotent: nothing new
        assert again.returncode == 0 and influx.errors == [], again.stderr
        refused = provision(server.url, tmp_path / "other", tmp_path, token="wrong")
    assert len(influx.authorizations) == 6  # bridge, reader, operator, web and one per clinic: made once
    walled = ["kinetic", "kinetic_physio_north", "kinetic_back_clinic_south", "kinetic_private"]
    assert set(influx.buckets) == {*walled, *(f"{db}_raw" for db in walled)}
    assert influx.buckets["kinetic_raw"]["retentionRules"] == [{"type": "expire", "everySeconds": 30 * 86_400}]
    mapped = {(d["database"], d["retention_policy"], d["default"]) for d in influx.dbrps}
    assert ("kinetic_physio_north", "autogen", True) in mapped and (
        "kinetic_physio_north",
        "kinetic_raw",
        False,
    ) in mapped
    assert len(influx.dbrps) == 8

    def rights(role: str) -> set[tuple[str, str]]:
        path = secrets / f"influxdb_{role}_token"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        return influx.rights(path.read_text().strip())

    every = {name for db in walled for name in (db, f"{db}_raw")}
    assert rights("bridge") == {("write", b) for b in every}  # writes everywhere, reads nothing
    assert rights("reader") == {("read", "kinetic"), ("read", "kinetic_raw")}  # the operations database only
    assert rights("operator") == {(a, b) for b in every for a in ("read", "write")}
    assert rights("web") == {("read", b) for b in every}  # the wearer's own view: reads every bucket, writes none
    assert rights("clinic_physio-north") == {("read", "kinetic_physio_north"), ("read", "kinetic_physio_north_raw")}
    assert rights("clinic_back-clinic-south") == {
        ("read", "kinetic_back_clinic_south"),
        ("read", "kinetic_back_clinic_south_raw"),
    }
    assert "token bridge created: write on 'kinetic'" in done.stderr and "token bridge: kept" in again.stderr
    assert ADMIN not in done.stderr and "tok-" not in done.stderr  # no token in the output
    assert refused.returncode == 2 and "KINETIC_INFLUX__TOKEN" in refused.stderr


def test_the_web_apps_token_reads_every_bucket_of_the_wall_and_writes_none(tmp_path: Path) -> None:
    """The wearer's own view (``kinetic serve``: ``open_wearer_queries`` -> ``WalledQueries``) with the ``web`` token
    reads each bucket of the wall through the v1-compatible /query (the stand-in checks the token's permission per
    bucket, mapped by DBRP); the reader's token is refused there, said in one line; the web token's write is refused."""
    import asyncio
    import urllib.error
    import urllib.request

    from pydantic import SecretStr

    from ingest.errors import SinkAuthError
    from ingest.settings import InfluxSettings, StoreSettings
    from ingest.store.export import open_wearer_queries

    influx = FakeInflux2(token=ADMIN)
    secrets = tmp_path / "secrets"
    with FakeInflux2Server(influx) as server:
        assert provision(server.url, secrets, tmp_path).returncode == 0
        store = StoreSettings(kind="influx_v1", clinic_wall=True, clinics_file=ROOT / "deploy" / "clinics.yaml")

        def ask(role: str) -> list[str]:
            token = (secrets / f"influxdb_{role}_token").read_text().strip()
            settings = InfluxSettings(url=server.url, token=SecretStr(token), create_database=False)

            async def run() -> list[str]:
                queries, close = open_wearer_queries(store, settings)
                try:
                    await queries.minutes("ann", 0, 86_400_000)
                    return await queries.wearers()
                finally:
                    await close()

            return asyncio.run(run())

        assert ask("web") == []  # the stand-in keeps no points: what matters is that every bucket answered
        read = {bucket for path, bucket, role in influx.v1_requests if path == "/query" and role == "kinetic web"}
        walled = {"kinetic_physio_north", "kinetic_back_clinic_south", "kinetic_private"}
        assert walled <= read, read
        needs = r"refused the credentials \(HTTP 403\): check KINETIC_INFLUX__TOKEN.*the web token \(2\.x"
        with pytest.raises(SinkAuthError, match=needs):
            ask("reader")  # the operations database only: the wall's buckets refuse it

        def write(role: str) -> int:
            token = (secrets / f"influxdb_{role}_token").read_text().strip()
            request = urllib.request.Request(
                f"{server.url}/write?db=kinetic_private&precision=ms",
                data=b"features,wearer=ann thigh_deg=1 1000",
                headers={"Authorization": f"Token {token}"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        assert write("web") == 403 and write("bridge") == 204
    assert influx.written == [("kinetic_private", "features,wearer=ann thigh_deg=1 1000")]
    assert influx.errors == []


def test_influxdb3_prints_the_enterprise_token_commands_and_contacts_no_server(tmp_path: Path) -> None:
    """`kinetic store provision --influxdb3`: the `influxdb3 create token` commands (InfluxDB 3 Enterprise), printed
    on stdout without asking any server (nothing listens on the discard port); no token is in the output."""
    kinetic = walled_kinetic(tmp_path, ADMIN, KINETIC_INFLUX__URL="http://127.0.0.1:9")
    done = kinetic("store", "provision", "--influxdb3", "--secrets", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    commands = [line for line in done.stdout.splitlines() if line.startswith("influxdb3 create token")]
    assert len(commands) == 6 and ADMIN not in done.stdout
    assert (
        "influxdb3 create token --permission db:kinetic_physio_north:read --name kinetic-clinic_physio-north "
        '--token "$INFLUXDB3_AUTH_TOKEN"'
    ) in commands
    assert not (tmp_path / "s").exists()  # nothing written: the operator saves each printed token
