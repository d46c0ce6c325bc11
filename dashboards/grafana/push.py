"""``kinetic dashboards push``: put Kinetic into a running Grafana through its HTTP API (grafana-client).

For each clinic of the clinics file: a folder, a team of its clinicians, folder permissions that give that team
(and Grafana admins) and nobody else access, and the *Weekly review* and *My day* dashboards whose patient
selector lists only the clinic's patients. Once for all: the InfluxDB data source (InfluxQL mode, token header)
and the *Operations* dashboard in an admins-only folder. Running it again updates everything in place.

Without the wall the selector restricts only what the dashboards offer: the data source can read every wearer, so a
clinician who edits the URL's ``var-wearer`` sees another clinic's wearer. With the wall between clinics
(``KINETIC_STORE__CLINIC_WALL``, ingest/wall.py) each clinic also gets its own data source, ``kinetic-influxdb-<uid>``,
on its own database with its own read-only InfluxDB credential (``kinetic store provision``: on 1.x the user
``kinetic_clinic_<uid>``, on 2.x the token ``influxdb_clinic_<uid>_token``, never the operator's), and its
dashboards use that one: a hand-written query there cannot reach another clinic's database (InfluxDB refuses it).
Grafana OSS has no per-data-source permissions (an Enterprise feature), so a clinic that must not even *name* another
clinic's data source needs its own Grafana organization (docs/dashboards.md).

Rosters follow consent: with ``consenting`` given, a clinic's selector lists only the patients who grant it their
posture data now (``kinetic consent``); a clinic none of whose patients consent gets its folder and an empty roster.
Each roster pushed is an entry in the audit trail (who was offered whose data), by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import niquests
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.grafana import my_day, operations, weekly_review
from dashboards.grafana.build import to_dict
from dashboards.grafana.influxql import DATASOURCE_UID
from ingest import clinics as clinics_file
from ingest.clinics import Clinic, ClinicsFile
from ingest.errors import ConfigError

_LOGGER = logging.getLogger(__name__)
VIEW = 1  # Grafana folder permission levels: 1 View, 2 Edit, 4 Admin
OPS_FOLDER = "kinetic-operations"


def load_clinics(path: Path) -> ClinicsFile:
    """The clinics file (ingest/clinics.py's model: the same file is the wall's roster). Raises ConfigError."""
    return clinics_file.load_clinics(path, "KINETIC_GRAFANA__CLINICS_FILE")


def datasource_model(
    url: str, database: str, token: str | None, username: str | None = None, password: str | None = None
) -> dict[str, Any]:
    """The InfluxDB data source in InfluxQL mode: 2.x/3.x authenticate with ``Authorization: Token``, 1.x with a
    user and password (or nothing)."""
    model: dict[str, Any] = {
        "name": "Kinetic InfluxDB",
        "uid": DATASOURCE_UID,
        "type": "influxdb",
        "access": "proxy",
        "url": url,
        "isDefault": True,
        "jsonData": {"dbName": database, "httpMode": "GET"},
    }
    if token:
        model["jsonData"]["httpHeaderName1"] = "Authorization"
        model["secureJsonData"] = {"httpHeaderValue1": f"Token {token}"}
    elif username:
        model["user"] = username
        model["secureJsonData"] = {"password": password or ""}
    return model


def clinic_datasource_uid(clinic: str) -> str:
    return f"{DATASOURCE_UID}-{clinic}"


def clinic_datasource_model(
    url: str,
    clinic: Clinic,
    database: str,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """A clinic's own data source under the wall: its database and its read-only credential, on 1.x the clinic's
    user (``username``, ``password``), on 2.x the clinic's read-only token (``token``: ``Authorization: Token``
    header; ``kinetic store provision`` makes it, read on the clinic's buckets only). Raises ConfigError when neither
    or both are given (a clinic's data source must never fall back to another credential)."""
    if (token is None) == (username is None):
        raise ConfigError(f"clinic {clinic.uid!r}: its data source needs either its read-only user or its token")
    model = datasource_model(url, database, token, username, password)
    name = f"Kinetic InfluxDB - {clinic.name}"
    return {**model, "name": name, "uid": clinic_datasource_uid(clinic.uid), "isDefault": False}


def with_datasource(model: Any, uid: str) -> Any:
    """``model`` (a dashboard's JSON) with every reference to Kinetic's shared data source pointed at ``uid``."""
    if isinstance(model, dict):
        return {k: (uid if k == "uid" and v == DATASOURCE_UID else with_datasource(v, uid)) for k, v in model.items()}
    if isinstance(model, list):
        return [with_datasource(v, uid) for v in model]
    return model


class Pusher:
    """Idempotent: looks before it creates, and overwrites dashboards."""

    def __init__(self, api: GrafanaApi, progress: Callable[[str], None] = _LOGGER.info) -> None:
        self.api = api
        self.progress = progress

    def push(
        self,
        clinics: ClinicsFile,
        datasource: dict[str, Any],
        clinic_datasources: dict[str, dict[str, Any]] | None = None,
        consenting: Callable[[Clinic], list[str]] | None = None,
    ) -> dict[str, list[str]]:
        """Push everything; ``clinic_datasources`` (clinic uid -> data source model) under the wall; ``consenting``
        (clinic -> the patients it may be offered) when rosters follow consent. Returns each clinic's roster as
        pushed (clinic uid -> wearers)."""
        self.datasource(datasource)
        self.folder(OPS_FOLDER, "Kinetic - operations", [])  # admins only
        self.dashboard(to_dict(operations.build()), OPS_FOLDER)
        rosters: dict[str, list[str]] = {}
        for clinic in clinics.clinics:
            folder = f"kinetic-{clinic.uid}"
            team_id = self.team(f"kinetic-{clinic.uid}", clinic.clinicians)
            self.folder(folder, f"Kinetic - {clinic.name}", [{"teamId": team_id, "permission": VIEW}])
            own = (clinic_datasources or {}).get(clinic.uid)
            if own is not None:
                self.datasource(own)
            patients = list(clinic.patients) if consenting is None else consenting(clinic)
            rosters[clinic.uid] = patients
            # an empty roster must select nobody: a regex group of no names would match every wearer
            roster = clinic.roster_regex(patients) if patients else "(^$)"
            review = weekly_review.build(
                title=f"Weekly review - {clinic.name}",
                uid=f"kinetic-review-{clinic.uid}",
                patients=roster,
                tz=clinic.timezone,
            )
            day = my_day.build(
                title=f"My day - {clinic.name}", uid=f"kinetic-day-{clinic.uid}", patients=roster, tz=clinic.timezone
            )
            for board in (to_dict(review), to_dict(day)):
                self.dashboard(with_datasource(board, own["uid"]) if own is not None else board, folder)
            self.progress(
                f"clinic {clinic.uid}: {len(patients)} of {len(clinic.patients)} patients offered, "
                f"{len(clinic.clinicians)} clinicians" + (f", data source {own['uid']}" if own is not None else "")
            )
        return rosters

    def datasource(self, model: dict[str, Any]) -> None:
        if self._exists(lambda: self.api.datasource.get_datasource_by_uid(model["uid"])):
            self.api.datasource.update_datasource_by_uid(model["uid"], model)
            self.progress(f"data source {model['uid']}: updated")
        else:
            self.api.datasource.create_datasource(model)
            self.progress(f"data source {model['uid']}: created")

    def folder(self, uid: str, title: str, items: list[dict[str, int]]) -> None:
        """Create the folder if needed; its permissions become exactly ``items`` (Viewer/Editor roles lose it)."""
        if not self._exists(lambda: self.api.folder.get_folder(uid)):
            self.api.folder.create_folder(title, uid=uid)
            self.progress(f"folder {uid}: created")
        self.api.folder.update_folder_permissions(uid, {"items": items})

    def team(self, name: str, members: list[str]) -> int:
        found = [t for t in self.api.teams.search_teams(query=name) if t["name"] == name]
        team_id = int(found[0]["id"]) if found else int(self.api.teams.add_team({"name": name})["teamId"])
        present = {int(m["userId"]) for m in self.api.teams.get_team_members(team_id)}
        for login in members:
            try:
                user = self.api.users.find_user(login)
            except GrafanaClientError as exc:
                if exc.status_code == 404:
                    raise ConfigError(f"clinician {login!r} is not a Grafana user (create the user first)") from None
                raise
            if int(user["id"]) not in present:
                self.api.teams.add_team_member(team_id, int(user["id"]))
        return team_id

    def dashboard(self, model: dict[str, Any], folder_uid: str) -> None:
        result = self.api.dashboard.update_dashboard(
            {"dashboard": {**model, "id": None}, "folderUid": folder_uid, "overwrite": True, "message": "kinetic push"}
        )
        self.progress(f"dashboard {model['uid']}: {result.get('status', 'saved')} in folder {folder_uid}")

    @staticmethod
    def _exists(get: Callable[[], object]) -> bool:
        try:
            get()
        except GrafanaClientError as exc:
            if exc.status_code == 404:
                return False
            raise
        return True


def push(
    url: str,
    token: str,
    clinics: ClinicsFile,
    datasource: dict[str, Any],
    progress: Callable[[str], None],
    clinic_datasources: dict[str, dict[str, Any]] | None = None,
    consenting: Callable[[Clinic], list[str]] | None = None,
) -> dict[str, list[str]]:
    """``Pusher.push`` against the Grafana at ``url``. Raises ConfigError (refused, unreachable)."""
    api = GrafanaApi.from_url(url, credential=token)
    try:
        return Pusher(api, progress).push(clinics, datasource, clinic_datasources, consenting)
    except GrafanaException as exc:
        raise ConfigError(f"Grafana at {url} refused: {exc.status_code} {exc.message}") from None
    except niquests.exceptions.ConnectionError as exc:
        raise ConfigError(f"setting KINETIC_GRAFANA__URL: cannot reach Grafana at {url} ({exc})") from None
