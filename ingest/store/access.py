"""Least privilege on InfluxDB 1.x: one user per service and purpose, each with only the grant it needs.

``kinetic store provision`` runs this once, as an admin, before the services start (docs/deployment.md):

| role | who logs in with it | 1.x grant on the database | may not |
|---|---|---|---|
| ``bridge`` | ``kinetic bridge`` | ``WRITE`` | read anything; create databases or policies; touch another database |
| ``reader`` | Grafana, ``kinetic report``, the web app | ``READ`` | write or delete; read another database |
| ``operator`` | ``kinetic data export / delete`` | ``ALL`` | create databases or policies (admin) |

InfluxDB 1.x's ``WRITE`` also allows ``DROP SERIES`` and ``DELETE`` (measured on influxd 1.6.7: they require
``WRITE``): a 1.x bridge credential can erase data; 2.x/3.x scope tokens by bucket and action instead. The database and
the raw retention policy are made here with the admin credential, so the bridge runs with
``KINETIC_INFLUX__CREATE_DATABASE=false`` and needs no admin right. The alert service does not use InfluxDB at all
(its state is its own file; its events reach the store through the bridge).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.errors import ConfigError
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink

Role = Literal["bridge", "reader", "operator"]
GRANTS: dict[Role, str] = {"bridge": "WRITE", "reader": "READ", "operator": "ALL"}
DEFAULT_USERS: dict[Role, str] = {
    "bridge": "kinetic_bridge",
    "reader": "kinetic_reader",
    "operator": "kinetic_operator",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_PASSWORD = re.compile(r"^[^'\\\x00-\x1f]{12,256}$")


@dataclass(frozen=True, slots=True)
class ServiceUser:
    role: Role
    name: str
    password: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"InfluxDB user name {self.name!r} ({self.role}): letters, digits, '_' and '-' only")
        if not _PASSWORD.match(self.password):
            raise ConfigError(
                f"the password of InfluxDB user {self.name!r} ({self.role}) must be 12 to 256 characters without "
                "quotes, backslashes or control characters (deploy/make_secrets.py makes such passwords)"
            )


async def provision_v1(admin: InfluxSettings, users: list[ServiceUser]) -> list[str]:
    """As ``admin`` (a 1.x admin user): create the database and its raw retention policy (as the bridge would), and
    each service user with its grant on that database only; a user that exists gets the given password and its
    grants replaced. Idempotent. Returns what was done, one line each. Raises SinkRejected (refused: e.g. ``admin``
    is no admin) or StoreUnreachable."""
    sink = InfluxV1Sink(admin.model_copy(update={"create_database": True}))
    db = admin.database
    done = [f"database {db!r} and its retention policies"]
    await sink.prepare()
    listed = await sink.query("SHOW USERS")
    existing = {row[0] for series in listed["results"][0].get("series", []) for row in series.get("values", [])}
    for user in users:
        if user.name in existing:
            # GRANT replaces the user's privilege on the database (influxd 1.6.7: ALL then READ leaves READ), so a
            # re-run never leaves a running service without its right, not even for a moment
            await sink.query(f"SET PASSWORD FOR \"{user.name}\" = '{user.password}'", method="POST")
            verb = "updated"
        else:
            await sink.query(f"CREATE USER \"{user.name}\" WITH PASSWORD '{user.password}'", method="POST")
            verb = "created"
        await sink.query(f'GRANT {GRANTS[user.role]} ON "{db}" TO "{user.name}"', method="POST")
        done.append(f"user {user.name!r} ({user.role}) {verb}: {GRANTS[user.role]} on {db!r}")
    return done


def users_from_secrets(directory: Path, names: dict[Role, str] | None = None) -> list[ServiceUser]:
    """The service users whose passwords deploy/make_secrets.py wrote: ``influxdb_<role>_password`` in
    ``directory``. Raises ConfigError naming a missing file."""
    out = []
    for role, default in DEFAULT_USERS.items():
        path = directory / f"influxdb_{role}_password"
        if not path.is_file():
            raise ConfigError(f"{path} is missing: the {role}'s InfluxDB password (python3 deploy/make_secrets.py)")
        out.append(ServiceUser(role, (names or {}).get(role, default), path.read_text().strip()))
    return out
