"""Least privilege on InfluxDB 1.x: one user per service and purpose, each with only the grant it needs.

``kinetic store provision`` runs this once, as an admin, before the services start (docs/deployment.md):

| role | who logs in with it | 1.x grant on the database | may not |
|---|---|---|---|
| ``bridge`` | ``kinetic bridge`` | ``WRITE`` | read anything; create databases or policies; touch another database |
| ``reader`` | Grafana, ``kinetic report``, the web app | ``READ`` | write or delete; read another database |
| ``operator`` | ``kinetic data export / delete`` | ``ALL`` | create databases or policies (admin) |
| ``web`` | the web app (``kinetic serve``), the wearer's own report | ``READ`` | write or delete |

InfluxDB 1.x's ``WRITE`` also allows ``DROP SERIES`` and ``DELETE`` (measured on influxd 1.6.7: they require
``WRITE``): a 1.x bridge credential can erase data; 2.x/3.x scope tokens by bucket and action instead. The database and
the raw retention policy are made here with the admin credential, so the bridge runs with
``KINETIC_INFLUX__CREATE_DATABASE=false`` and needs no admin right. The alert service does not use InfluxDB at all
(its state is its own file; its events reach the store through the bridge).

With the wall between clinics (``KINETIC_STORE__CLINIC_WALL``, ingest/wall.py) provisioning also makes each clinic's
database ``<database>_<clinic>`` and the private one ``<database>_private``, gives ``bridge`` ``WRITE`` and
``operator`` ``ALL`` on each, and makes one read-only user per clinic, ``kinetic_clinic_<clinic>``, with ``READ`` on
its clinic's database and nothing else (Grafana's data source for that clinic's folder). ``reader`` then reads the
operations database only (``bridge_stats``); the private database is read only by ``operator`` and ``web``: the
wearer's own view (``kinetic serve`` without a clinic) reads a wearer's data wherever the wall put it
(``WalledQueries``), so ``web`` has ``READ`` on every database of the wall and writes none.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.errors import ConfigError
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.private import private_file
from ingest.wall import Wall

Role = Literal["bridge", "reader", "operator", "clinic", "web"]
GRANTS: dict[Role, str] = {"bridge": "WRITE", "reader": "READ", "operator": "ALL", "clinic": "READ", "web": "READ"}
DEFAULT_USERS: dict[Role, str] = {
    "bridge": "kinetic_bridge",
    "reader": "kinetic_reader",
    "operator": "kinetic_operator",
    "web": "kinetic_web",
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


async def provision_v1(
    admin: InfluxSettings,
    users: list[ServiceUser],
    wall: Wall | None = None,
    clinic_users: tuple[ServiceUser, ...] = (),
) -> list[str]:
    """As ``admin`` (a 1.x admin user): create the database and its raw retention policy (as the bridge would), and
    each service user with its grant on that database only; a user that exists gets the given password and its
    grants replaced. With ``wall``: the wall's databases too, ``bridge`` ``WRITE`` and ``operator`` ``ALL`` on each,
    and each of ``clinic_users`` (named by ``clinic_user_name``) ``READ`` on its clinic's database only. Idempotent.
    Returns what was done, one line each. Raises SinkRejected (refused: e.g. ``admin`` is no admin) or
    StoreUnreachable."""
    sink = InfluxV1Sink(admin.model_copy(update={"create_database": True}))
    db = admin.database
    done = [f"database {db!r} and its retention policies"]
    await sink.prepare()
    walled = wall.databases() if wall is not None else []
    for other in walled:
        await sink.create_database(other)
        done.append(f"database {other!r} and its retention policies")
    listed = await sink.query("SHOW USERS")
    existing = {row[0] for series in listed["results"][0].get("series", []) for row in series.get("values", [])}
    clinic_dbs = wall.clinic_databases() if wall is not None else {}
    for user in [*users, *clinic_users]:
        if user.name in existing:
            # GRANT replaces the user's privilege on the database (influxd 1.6.7: ALL then READ leaves READ), so a
            # re-run never leaves a running service without its right, not even for a moment
            await sink.query(f"SET PASSWORD FOR \"{user.name}\" = '{user.password}'", method="POST")
            verb = "updated"
        else:
            await sink.query(f"CREATE USER \"{user.name}\" WITH PASSWORD '{user.password}'", method="POST")
            verb = "created"
        if user.role == "clinic":
            clinic = next((c for c in clinic_dbs if clinic_user_name(c) == user.name), None)
            if clinic is None:
                raise ConfigError(f"InfluxDB user {user.name!r} is no clinic's reader (clinics: {sorted(clinic_dbs)})")
            targets = [clinic_dbs[clinic]]
        else:
            targets = [db, *(walled if user.role in ("bridge", "operator", "web") else [])]
        for target in targets:
            await sink.query(f'GRANT {GRANTS[user.role]} ON "{target}" TO "{user.name}"', method="POST")
        done.append(f"user {user.name!r} ({user.role}) {verb}: {GRANTS[user.role]} on {', '.join(map(repr, targets))}")
    return done


def clinic_user_name(clinic: str) -> str:
    """The read-only InfluxDB user of ``clinic`` under the wall: ``kinetic_clinic_<uid>`` (``-`` as ``_``)."""
    return f"kinetic_clinic_{clinic.replace('-', '_')}"


def clinic_users_from_secrets(directory: Path, clinics: list[str]) -> list[ServiceUser]:
    """Each clinic's read-only user, its password from ``influxdb_clinic_<uid>_password`` in ``directory``, made
    there (random, mode 600) when missing: the clinics file names the clinics, deploy/make_secrets.py cannot read
    it (standard library only, no YAML)."""
    out = []
    for clinic in clinics:
        path = directory / f"influxdb_clinic_{clinic}_password"
        if not path.is_file():
            directory.mkdir(parents=True, exist_ok=True)
            private_file(path).write_text(secrets.token_urlsafe(24) + "\n")
        out.append(ServiceUser("clinic", clinic_user_name(clinic), path.read_text().strip()))
    return out


def users_from_secrets(directory: Path, names: dict[Role, str] | None = None) -> list[ServiceUser]:
    """The service users whose passwords deploy/make_secrets.py wrote: ``influxdb_<role>_password`` in
    ``directory``. Raises ConfigError naming a missing file."""
    out = []
    for role, default in DEFAULT_USERS.items():  # clinic readers: clinic_users_from_secrets
        path = directory / f"influxdb_{role}_password"
        if not path.is_file():
            raise ConfigError(f"{path} is missing: the {role}'s InfluxDB password (python3 deploy/make_secrets.py)")
        out.append(ServiceUser(role, (names or {}).get(role, default), path.read_text().strip()))
    return out
