"""The clinics file (``KINETIC_STORE__CLINICS_FILE``): clinics, their clinicians and their patients (the roster).

Ingest reads it to route each wearer's points to their clinic's database when the wall between clinics is on
(``ingest/wall.py``); the dashboards side reads the same model to make each clinic's Grafana folder, team and
data source (``dashboards/grafana/push.py``). One model, in the lowest package that needs it (import-linter layers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingest.errors import ConfigError
from ingest.textfile import TextFileError, load_yaml
from ingest.wire import Id, Text

PRIVATE = "private"  # the wall's database for wearers in no clinic (or without consent): not a clinic uid


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a tz folder ('Europe'), a long name
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Berlin')") from exc
    return value


ZoneName = Annotated[str, AfterValidator(_known_zone)]


class Clinic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uid: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$", description="short id: folder, team and dashboard uids")
    name: Text = Field(min_length=1, max_length=100)
    timezone: ZoneName = "UTC"
    clinicians: list[Text] = Field(default_factory=list, description="Grafana logins or e-mails of existing users")
    patients: list[Id] = Field(min_length=1, description="wearer ids (the wire contract's Id)")

    def roster_regex(self, patients: list[str] | None = None) -> str:
        """An InfluxQL/Grafana regex group of ``patients`` (default: all of the clinic's)."""
        return "(" + "|".join(self.patients if patients is None else patients) + ")"


class ClinicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clinics: list[Clinic] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_clinic_each(self) -> ClinicsFile:
        uids = [c.uid for c in self.clinics]
        if len(set(uids)) != len(uids):
            raise ValueError(f"clinic uids must be unique, got {uids}")
        if PRIVATE in uids:
            raise ValueError(f"{PRIVATE!r} is no clinic uid: the wall keeps wearers in no clinic in that database")
        seen: dict[str, str] = {}
        for clinic in self.clinics:
            for wearer in clinic.patients:
                if wearer in seen and seen[wearer] != clinic.uid:
                    raise ValueError(
                        f"wearer {wearer!r} is a patient of {seen[wearer]!r} and {clinic.uid!r}: a wearer's data "
                        "lives in one clinic's database; move the wearer (kinetic data move) instead"
                    )
                seen[wearer] = clinic.uid
        return self

    def roster(self) -> dict[str, str]:
        """wearer id -> the uid of their clinic."""
        return {wearer: clinic.uid for clinic in self.clinics for wearer in clinic.patients}

    def clinic(self, uid: str) -> Clinic:
        """The clinic ``uid``. Raises ConfigError naming the clinics there are."""
        for clinic in self.clinics:
            if clinic.uid == uid:
                return clinic
        raise ConfigError(f"no clinic {uid!r} in the clinics file (there are {[c.uid for c in self.clinics]})")


def load_clinics(path: Path, setting: str = "KINETIC_STORE__CLINICS_FILE") -> ClinicsFile:
    """The clinics file at ``path``. Raises ConfigError naming the file (or ``setting`` when it does not exist)
    and the first problem."""
    try:
        data = load_yaml(path)
        return ClinicsFile.model_validate(data)
    except TextFileError as exc:
        if not path.exists():
            raise ConfigError(f"setting {setting}: {path} does not exist") from None
        raise ConfigError(f"clinics file {path}: {exc}") from None
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()
        raise ConfigError(f"clinics file {path}: {' '.join(first[:3])}") from None
