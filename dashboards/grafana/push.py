"""``kinetic dashboards push``: put Kinetic into a running Grafana through its HTTP API (grafana-client).

For each clinic of the clinics file: a folder, a team of its clinicians, folder permissions that give that team
(and Grafana admins) and nobody else access, and the *Weekly review* and *My day* dashboards whose patient
selector lists only the clinic's patients. Once for all: the InfluxDB data source (InfluxQL mode, token header)
and the *Operations* dashboard in an admins-only folder. Running it again updates everything in place.

Limits, said plainly: the selector restricts what the dashboards offer; the data source itself can read every
wearer, so a clinician who edits the URL's ``var-wearer`` sees another clinic's wearer. Clinics that need a hard
wall get their own InfluxDB database/bucket and data source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import niquests
import yaml
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.prompts.policy.model import ZoneName
from dashboards.grafana import my_day, operations, weekly_review
from dashboards.grafana.build import to_dict
from dashboards.grafana.influxql import DATASOURCE_UID
from ingest.errors import ConfigError
from ingest.textfile import TextFileError, load_yaml
from ingest.wire import Id, Text

_LOGGER = logging.getLogger(__name__)
VIEW = 1  # Grafana folder permission levels: 1 View, 2 Edit, 4 Admin
OPS_FOLDER = "kinetic-operations"


class Clinic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uid: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$", description="short id: folder, team and dashboard uids")
    name: Text = Field(min_length=1, max_length=100)
    timezone: ZoneName = "UTC"
    clinicians: list[Text] = Field(default_factory=list, description="Grafana logins or e-mails of existing users")
    patients: list[Id] = Field(min_length=1, description="wearer ids (the wire contract's Id)")

    def roster_regex(self) -> str:
        return "(" + "|".join(self.patients) + ")"


class ClinicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clinics: list[Clinic] = Field(min_length=1)


def load_clinics(path: Path) -> ClinicsFile:
    try:
        data = load_yaml(path)
        clinics = ClinicsFile.model_validate(data)
    except TextFileError as exc:
        if not path.exists():
            raise ConfigError(f"setting KINETIC_GRAFANA__CLINICS_FILE: {path} does not exist") from None
        raise ConfigError(f"clinics file {path}: {exc}") from None
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()
        raise ConfigError(f"clinics file {path}: {' '.join(first[:3])}") from None
    uids = [c.uid for c in clinics.clinics]
    if len(set(uids)) != len(uids):
        raise ConfigError(f"clinics file {path}: clinic uids must be unique, got {uids}")
    return clinics


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


class Pusher:
    """Idempotent: looks before it creates, and overwrites dashboards."""

    def __init__(self, api: GrafanaApi, progress: Callable[[str], None] = _LOGGER.info) -> None:
        self.api = api
        self.progress = progress

    def push(self, clinics: ClinicsFile, datasource: dict[str, Any]) -> None:
        self.datasource(datasource)
        self.folder(OPS_FOLDER, "Kinetic - operations", [])  # admins only
        self.dashboard(to_dict(operations.build()), OPS_FOLDER)
        for clinic in clinics.clinics:
            folder = f"kinetic-{clinic.uid}"
            team_id = self.team(f"kinetic-{clinic.uid}", clinic.clinicians)
            self.folder(folder, f"Kinetic - {clinic.name}", [{"teamId": team_id, "permission": VIEW}])
            roster = clinic.roster_regex()
            review = weekly_review.build(
                title=f"Weekly review - {clinic.name}",
                uid=f"kinetic-review-{clinic.uid}",
                patients=roster,
                tz=clinic.timezone,
            )
            self.dashboard(to_dict(review), folder)
            day = my_day.build(
                title=f"My day - {clinic.name}", uid=f"kinetic-day-{clinic.uid}", patients=roster, tz=clinic.timezone
            )
            self.dashboard(to_dict(day), folder)
            self.progress(f"clinic {clinic.uid}: {len(clinic.patients)} patients, {len(clinic.clinicians)} clinicians")

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
    url: str, token: str, clinics: ClinicsFile, datasource: dict[str, Any], progress: Callable[[str], None]
) -> None:
    api = GrafanaApi.from_url(url, credential=token)
    try:
        Pusher(api, progress).push(clinics, datasource)
    except GrafanaException as exc:
        raise ConfigError(f"Grafana at {url} refused: {exc.status_code} {exc.message}") from None
    except niquests.exceptions.ConnectionError as exc:
        raise ConfigError(f"setting KINETIC_GRAFANA__URL: cannot reach Grafana at {url} ({exc})") from None
