"""Settings of ``kinetic serve`` (KINETIC_WEB__...)."""

from __future__ import annotations

import ipaddress
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from alerts.settings import AlertsSettings
from ingest.settings import (
    AuditSettings,
    ClockSettings,
    InfluxSettings,
    ListenHost,
    MqttSettings,
    PhoneSettings,
    SettingPath,
    StoreSettings,
)

LOOPBACK_HOSTS = frozenset({"localhost"})


class WebSettings(BaseModel):
    """Where the web app listens and who may use it. Health data: loopback only unless a token is set."""

    model_config = ConfigDict(extra="forbid")

    host: ListenHost = Field(
        default="127.0.0.1",
        description="address to listen on; any address but loopback (127.0.0.1, ::1, localhost) needs a token",
    )
    port: int = Field(default=8765, ge=0, le=65535, description="TCP port (0: any free port, printed at start)")
    token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="the password a browser gives once (then a session cookie); needed to listen beyond loopback",
    )
    logins_path: SettingPath | None = Field(
        default=None,
        description="per-person logins instead of the one token: the JSON file of hashed passwords that "
        "`kinetic web-login add` writes (mode 600); each login sees and acts for its own wearer only, or for every "
        "wearer served (staff), and the audit trail names it (docs/web.md)",
    )
    clinic: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,30}$",
        description="serve one clinic's view (a uid of the clinics file; needs the wall between clinics): read the "
        "clinic's database with KINETIC_INFLUX__USERNAME/PASSWORD (the clinic's read-only user), show a wearer only "
        "while they are its patient and share their posture data with it, never send a command (docs/web.md)",
    )
    tls_cert: SettingPath | None = Field(
        default=None, description="HTTPS (TLS 1.2 or later): the server certificate (PEM, with its chain); with tls_key"
    )
    tls_key: SettingPath | None = Field(default=None, description="HTTPS: the certificate's key (PEM); with tls_cert")

    @model_validator(mode="after")
    def _cert_with_key(self) -> WebSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("KINETIC_WEB__TLS_CERT and KINETIC_WEB__TLS_KEY go together: set both or neither")
        return self


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebConfig(Protocol):
    """The sections of the root settings (``kinetic.settings.KineticSettings``) that ``kinetic serve`` reads."""

    @property
    def mqtt(self) -> MqttSettings: ...
    @property
    def store(self) -> StoreSettings: ...
    @property
    def influx(self) -> InfluxSettings: ...
    @property
    def clock(self) -> ClockSettings: ...
    @property
    def alerts(self) -> AlertsSettings: ...
    @property
    def web(self) -> WebSettings: ...
    @property
    def audit(self) -> AuditSettings: ...
    @property
    def phone(self) -> PhoneSettings: ...
