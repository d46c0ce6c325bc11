"""Settings of the dashboards side (KINETIC_GRAFANA__...)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from alerts.settings import AlertsSettings
from ingest.settings import AuditSettings, InfluxSettings, SettingPath, StoreSettings


class GrafanaSettings(BaseModel):
    """Where ``kinetic dashboards push`` sends dashboards, folders, teams and the data source."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="http://127.0.0.1:3000", pattern=r"^https?://", description="Grafana's base URL")
    token: SecretStr | None = Field(default=None, description="a Grafana service-account token (Admin role)")
    clinics_file: SettingPath | None = Field(default=None, description="clinics, their clinicians and patients (YAML)")
    datasource_url: str = Field(
        default="http://influxdb:8086", pattern=r"^https?://", description="InfluxDB as Grafana reaches it"
    )
    clinic_secrets: SettingPath = Field(
        default=Path("deploy/secrets"),
        description="with the wall between clinics: where influxdb_clinic_<uid>_password files are (each clinic's "
        "data source logs in as that clinic's read-only user; `kinetic store provision` writes them)",
    )


class DashboardsConfig(Protocol):
    """The sections of the root settings (``kinetic.settings.KineticSettings``) that the dashboards side reads."""

    @property
    def store(self) -> StoreSettings: ...
    @property
    def influx(self) -> InfluxSettings: ...
    @property
    def alerts(self) -> AlertsSettings: ...
    @property
    def grafana(self) -> GrafanaSettings: ...
    @property
    def audit(self) -> AuditSettings: ...
