"""influxd 1.x with authentication on, as ``kinetic store provision`` finds it: the first user (``admin``) made,
the services' passwords written by deploy/make_secrets.py, and each service's settings with its own user."""

from __future__ import annotations

import asyncio
import contextlib
import runpy
from collections.abc import Iterator
from pathlib import Path

from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from tests.support.servers import Server, start_influxd

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "admin-password-0123456789"
ADMIN_LOGIN = {"KINETIC_INFLUX__USERNAME": "admin", "KINETIC_INFLUX__PASSWORD": ADMIN_PASSWORD}


@contextlib.contextmanager
def influxd_with_admin(base: Path) -> Iterator[Server]:
    """influxd 1.x with authentication on and its first user, ``admin`` (``ADMIN_PASSWORD``), made; stopped after.
    (The first user of an influxd with authentication on may be made without credentials.)"""
    influxd = start_influxd(base, auth=True)
    try:
        asyncio.run(
            InfluxV1Sink(InfluxSettings(url=influxd.url, create_database=False)).query(
                f"CREATE USER admin WITH PASSWORD '{ADMIN_PASSWORD}' WITH ALL PRIVILEGES", method="POST"
            )
        )
        yield influxd
    finally:
        influxd.stop()


def make_secrets(tmp_path: Path) -> Path:
    """The deployment's secrets (deploy/make_secrets.py) in ``tmp_path / "secrets"``: the folder."""
    secrets = tmp_path / "secrets"
    runpy.run_path(str(ROOT / "deploy" / "make_secrets.py"))["make_secrets"](secrets, tmp_path / "passwd", [])
    return secrets


def password(secrets: Path, role: str) -> str:
    """The InfluxDB password of ``role`` (``bridge``, ``reader``, ``web``, ``clinic_<uid>``...) in ``secrets``."""
    return (secrets / f"influxdb_{role}_password").read_text().strip()


def as_user(url: str, database: str, user: str, secret: str) -> InfluxSettings:
    """A service's settings: its user, the provisioned database (raw features in their 30-day policy)."""
    return InfluxSettings(
        url=url, database=database, username=user, password=secret, create_database=False, raw_retention_days=30
    )
