"""Settings of the ingest side (MQTT, InfluxDB, embedded store, simulator, bridge) as pydantic models.

The root settings object that the CLI builds from the environment, a TOML file and secret files is
``kinetic.settings.KineticSettings``; services receive these sub-models, never read the environment themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, Protocol

import platformdirs
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)


class _Section(BaseModel):
    # infinity and NaN are no setting: a service would die of them (``int(inf)``), so they are refused, named
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _not_empty(what: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"an empty {what}, or leave the setting unset")
        return value

    return check


# A path setting. An empty value (``KINETIC_BRIDGE__SPOOL_PATH=``, as an env file or an unset variable in a compose
# file gives it) would be ``Path("")``, the working directory, which no file setting means: it is refused in one
# line naming the setting, as any bad value is. A setting where empty means something says so (ALERTS__STATE_DIR).
SettingPath = Annotated[Path, BeforeValidator(_not_empty("path is no file or directory: give one"))]
# The broker's host. Empty, a client would fail at connect time, not at start with the setting named.
BrokerHost = Annotated[str, BeforeValidator(_not_empty("host: give the broker's host name or IP address"))]
# Where a server listens. Empty is refused: asyncio's ``create_server`` reads it as every interface, wider than the
# loopback default that a person who left it empty expected.
ListenHost = Annotated[
    str,
    StringConstraints(max_length=253),
    BeforeValidator(_not_empty("address to listen on: give one (0.0.0.0 for every interface)")),
]

# A bound for sizes in MB (a spool, a queue): one TB is beyond any disk a collector or a bridge has.
MAX_SIZE_MB = 1_000_000.0


class MqttSettings(_Section):
    """MQTT broker connection (KINETIC_MQTT__...)."""

    host: BrokerHost = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: SettingPath | None = None
    cert_file: SettingPath | None = None
    key_file: SettingPath | None = None
    tls_insecure: bool = Field(default=False, description="skip server certificate name checks (testing only)")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    topic_root: str = Field(default="kinetic", min_length=1)
    client_id_prefix: str = Field(default="kinetic", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _tls_files_need_tls(self) -> MqttSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be set together")
        if not self.tls and (self.ca_file or self.cert_file):
            raise ValueError("ca_file/cert_file are set but tls is false: set tls = true")
        return self


class InfluxSettings(_Section):
    """InfluxDB: the v1 HTTP API (1.x, or 2.4+/3.x through their v1-compatible API) or the v2 write API."""

    url: str = Field(default="http://127.0.0.1:8086", pattern=r"^https?://")
    database: str = Field(default="kinetic", min_length=1, description="database (1.x) or bucket (2.x/3.x)")
    org: str = Field(default="kinetic", min_length=1, description="2.x organisation (v2 write API)")
    retention_policy: str | None = None
    token: SecretStr | None = Field(default=None, description="2.x/3.x token: sent as 'Authorization: Token'")
    username: str | None = None
    password: SecretStr | None = None
    create_database: bool = Field(
        default=True,
        description="make the database and raw retention policy at start (1.x, an admin right); false for a "
        "database provisioned by `kinetic store provision` (least privilege) and for 2.x/3.x buckets",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=3600)
    raw_retention_days: int = Field(
        default=0,
        ge=0,
        le=100 * 366,
        description="1.x: keep raw points this many days (0 = forever); minute rollups are kept",
    )


def user_data_dir() -> Path:
    """Kinetic's folder in the user's data directory: ``$XDG_DATA_HOME/kinetic``, else ``~/.local/share/kinetic``
    on Linux (the XDG Base Directory specification, as platformdirs applies it; macOS and Windows: their own)."""
    return platformdirs.user_data_path("kinetic", appauthor=False)


class StoreSettings(_Section):
    """Where the bridge writes points and the reports and web app read them. The root settings pick the embedded
    store when neither ``KINETIC_STORE__KIND`` nor any ``KINETIC_INFLUX__`` setting is given (a laptop, the demo)."""

    kind: Literal["influx_v1", "influx_v2", "embedded"] = "influx_v1"
    embedded_path: SettingPath = Field(
        default_factory=lambda: user_data_dir() / "kinetic.sqlite",
        description="the embedded store's SQLite file (default: in the user's data directory)",
    )
    clinic_wall: bool = Field(
        default=False,
        description="InfluxDB 1.x: each clinic's patients in their own database, by the clinics file and the "
        "wearers' consent (ingest/wall.py); needs clinics_file and `kinetic store provision`",
    )
    clinics_file: SettingPath | None = Field(
        default=None, description="clinics, their clinicians and patients (YAML; the wall's roster)"
    )
    consent_path: SettingPath = Field(
        default_factory=lambda: user_data_dir() / "consent.jsonl",
        description="the wearers' consent records (`kinetic consent`; JSON lines, mode 600, append-only)",
    )


class BridgeSettings(_Section):
    batch_max_points: int = Field(default=5000, ge=1, le=100_000, description="points per database write")
    commit_linger_s: float = Field(
        default=0.05,
        ge=0,
        le=10,
        description="how long a received message may wait for others to share its spool transaction (and its "
        "acknowledgement); 0: commit whenever no message is waiting",
    )
    write_linger_s: float = Field(
        default=0.25,
        ge=0,
        le=60,
        description="how long the spool's points may wait for more before a database write that would carry fewer "
        "than batch_max_points; 0: write at once",
    )
    spool_path: SettingPath = Field(
        default_factory=lambda: user_data_dir() / "bridge-spool.sqlite",
        description="the bridge's on-disk spool (default: in the user's data directory)",
    )
    spool_max_mb: float = Field(
        default=512.0, gt=0, le=MAX_SIZE_MB, description="spool size at which the bridge stops taking"
    )
    shutdown_flush_s: float = Field(
        default=10.0, ge=0, le=3600, description="how long a stop may spend writing the spool"
    )
    stats_interval_s: float = Field(
        default=10.0,
        ge=0,
        le=86_400,
        description="how often the bridge stores its own counters (bridge_stats); 0: never",
    )


DEFAULT_MAX_AHEAD_MS = 300_000  # a device clock may run ahead of the receiver's a little; minutes is a wrong clock
MAX_MAX_AHEAD_S = 366 * 86_400  # a year: beyond, say "no limit" (empty, or inf)


class ClockSettings(_Section):
    """How far the times in received data may run ahead of this host's clock (KINETIC_CLOCK__...)."""

    max_ahead_s: float | None = Field(
        default=DEFAULT_MAX_AHEAD_MS / 1000,
        ge=0,
        le=MAX_MAX_AHEAD_S,
        description="a frame or command more than this ahead of this host's clock is refused (dead-lettered); "
        "empty or inf: no limit (replaying future-dated data); at most a year",
    )

    @field_validator("max_ahead_s", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """Empty (or blank), or infinity (``inf``, ``1e400``: the natural way to write 'no limit'), is no limit."""
        if isinstance(value, str) and not value.strip():
            return None
        try:
            return None if float(value) == math.inf else value  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return value  # pydantic names what is wrong with it

    @property
    def max_ahead_ms(self) -> int | None:
        return None if self.max_ahead_s is None else round(self.max_ahead_s * 1000)


class SimulateSettings(_Section):
    batch_s: int = Field(default=10, ge=1, le=600, description="seconds of frames per MQTT message")
    speed: float = Field(default=1.0, ge=0, le=1_000_000, description="time acceleration; 0 = as fast as possible")


class WearableConfig(_Section):
    """One wearable the collector looks after."""

    wearer: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    device: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Kinetic's id for this sensor")
    profile: Literal["infinitime", "kinetic-diy", "polar-pmd", "microbit"]
    rate_hz: int | None = Field(
        default=None, ge=1, le=1000, description="polar-pmd: ACC sample rate to ask for (default: 50, or what it has)"
    )
    placement: Literal["thigh", "trunk", "wrist"]
    address: str | None = Field(default=None, description="BLE address (or, on macOS, the CoreBluetooth UUID)")
    name: str | None = Field(default=None, description="advertised name, when the address is not known")

    @model_validator(mode="after")
    def _address_or_name(self) -> WearableConfig:
        if not self.address and not self.name:
            raise ValueError("a wearable needs an address or a name")
        return self


class CollectorSettings(_Section):
    """The BLE collector (KINETIC_COLLECTOR__...; the wearables list is easiest in the TOML file)."""

    id: str = Field(default="collector", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="this collector's name")
    wearables: list[WearableConfig] = Field(default_factory=list)
    batch_s: int = Field(default=10, ge=1, le=600, description="seconds of frames per MQTT message")
    queue_path: SettingPath = Field(
        default_factory=lambda: user_data_dir() / "collector-queue.sqlite",
        description="store-and-forward queue (default: in the user's data directory)",
    )
    queue_max_mb: float = Field(
        default=256.0, gt=0, le=MAX_SIZE_MB, description="queue size at which the oldest batches are dropped"
    )
    scan_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    bumble_transport: str | None = Field(
        default=None,
        description="drive a Bluetooth controller through Bumble instead of the OS (e.g. 'usb:0', 'serial:/dev/ttyACM0'"
        "); none: bleak's platform backend (BlueZ, CoreBluetooth, WinRT)",
    )

    @model_validator(mode="after")
    def _each_sensor_once(self) -> CollectorSettings:
        """A sensor listed twice (a copied block whose device id, address or name was left) would be connected
        once and its seconds published under two ids, or two sensors under one: refused, naming the duplicate.
        BLE addresses compare without case (``aa:bb`` is ``AA:BB``)."""
        for what, values in (
            ("device", [w.device for w in self.wearables]),
            ("address", [w.address.upper() for w in self.wearables if w.address]),
            ("name", [w.name for w in self.wearables if w.name and not w.address]),
        ):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"one sensor per wearables entry: {what} {', '.join(twice)} listed more than once")
        return self


class PhoneConfig(_Section):
    """One wearer's phone running Sensor Logger (docs/phone.md)."""

    wearer: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    device: str = Field(
        default="",
        pattern=r"^([a-z0-9][a-z0-9_-]{0,63})?$",
        description="Kinetic's id for the phone (default <wearer>-phone)",
    )
    placement: Literal["thigh", "trunk"] = Field(
        default="thigh", description="trouser pocket: thigh; belt clip or chest pocket: trunk"
    )
    platform: Literal["ios", "android"]
    standardised: bool = Field(default=False, description="the app's 'Standardise Units & Frames' setting is on")
    token: SecretStr | None = Field(default=None, description="the HTTP push token (in the push URL); none: no push")

    @model_validator(mode="after")
    def _default_device(self) -> PhoneConfig:
        if not self.device:
            self.device = f"{self.wearer}-phone"[:64]
        return self


class PhoneSettings(_Section):
    """``kinetic phone``: Sensor Logger by HTTP push and MQTT (KINETIC_PHONE__...; the phones are easiest in TOML)."""

    phones: list[PhoneConfig] = Field(default_factory=list)
    http_host: ListenHost = Field(default="127.0.0.1", description="address the push endpoint listens on")
    http_port: int = Field(default=8643, ge=0, le=65535, description="port of the push endpoint (0: none)")
    max_request_kb: int = Field(default=4096, ge=1, le=1_000_000, description="larger pushes are refused (413)")
    mqtt_topic_root: str = Field(
        default="sensor-logger", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="phones publish on <root>/<wearer>"
    )
    batch_s: int = Field(default=10, ge=1, le=600, description="seconds of frames per MQTT message")
    queue_path: SettingPath = Field(
        default_factory=lambda: user_data_dir() / "phone-queue.sqlite",
        description="store-and-forward queue (default: in the user's data directory)",
    )
    tokens_path: SettingPath = Field(
        default_factory=lambda: user_data_dir() / "phone-tokens.json",
        description="per-device push tokens made on the web app's Settings page or by `kinetic phone token add` "
        "(hashes only; default: in the user's data directory)",
    )
    queue_max_mb: float = Field(
        default=256.0, gt=0, le=MAX_SIZE_MB, description="queue size at which the oldest batches are dropped"
    )
    idle_flush_s: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="a phone silent this long has its last seconds sent (the recording stopped)",
    )
    tls_cert: SettingPath | None = Field(
        default=None, description="HTTPS for the push endpoint: the server certificate (PEM, with its chain)"
    )
    tls_key: SettingPath | None = Field(
        default=None, description="HTTPS for the push endpoint: the certificate's key (PEM)"
    )

    @model_validator(mode="after")
    def _cert_with_key(self) -> PhoneSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: HTTPS needs the certificate and its key")
        return self

    @model_validator(mode="after")
    def _one_phone_per_wearer(self) -> PhoneSettings:
        wearers = [p.wearer for p in self.phones]
        twice = sorted({w for w in wearers if wearers.count(w) > 1})
        if twice:
            raise ValueError(f"one phone per wearer: {', '.join(twice)} listed more than once")
        tokens = [p.token.get_secret_value() for p in self.phones if p.token is not None]
        if len(set(tokens)) != len(tokens):
            raise ValueError("two phones share a push token: give each wearer their own")
        if any(len(t) < 16 for t in tokens):
            raise ValueError(
                "a push token must be at least 16 characters "
                "(python3 -c 'import secrets; print(secrets.token_urlsafe(24))' makes one)"
            )
        return self


class AuditSettings(_Section):
    """The audit trail of reads (ingest/audit.py; KINETIC_AUDIT__...)."""

    path: SettingPath = Field(
        default_factory=lambda: user_data_dir() / "audit.sqlite",
        description="the audit trail's SQLite file, apart from the data (default: in the user's data directory)",
    )
    retention_days: int = Field(default=400, ge=1, le=3650, description="entries older than this are removed")
    actor: str | None = Field(
        default=None, max_length=200, description="who reads, as the trail names them (default: this OS user@host)"
    )


class IngestConfig(Protocol):
    """The sections of the root settings (``kinetic.settings.KineticSettings``) that ingest's commands read."""

    @property
    def mqtt(self) -> MqttSettings: ...
    @property
    def influx(self) -> InfluxSettings: ...
    @property
    def store(self) -> StoreSettings: ...
    @property
    def bridge(self) -> BridgeSettings: ...
    @property
    def clock(self) -> ClockSettings: ...
    @property
    def simulate(self) -> SimulateSettings: ...
    @property
    def collector(self) -> CollectorSettings: ...
    @property
    def phone(self) -> PhoneSettings: ...
    @property
    def audit(self) -> AuditSettings: ...
