"""The root settings object, built once at the entry point and passed down.

Sources, highest priority first: keyword arguments (tests), environment variables ``KINETIC_...`` nested with
``__`` (``KINETIC_MQTT__HOST``), secret files in ``secrets_dir`` named like the variables
(``KINETIC_MQTT__PASSWORD``; default ``/run/secrets`` when it exists), then an optional TOML file
(``--config`` or ``KINETIC_CONFIG``), then the defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from alerts.settings import AlertsSettings
from dashboards.homeassistant.settings import HomeAssistantSettings
from dashboards.settings import GrafanaSettings
from dashboards.web.settings import WebSettings
from ingest.errors import ConfigError
from ingest.settings import (
    AuditSettings,
    BridgeSettings,
    ClockSettings,
    CollectorSettings,
    InfluxSettings,
    MqttSettings,
    PhoneSettings,
    SimulateSettings,
    StoreSettings,
)
from ingest.textfile import TextFileError, load_toml

ENV_PREFIX = "KINETIC_"
DEFAULT_SECRETS_DIR = Path("/run/secrets")


class KineticSettings(BaseSettings):
    """Every setting of every Kinetic service. See docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    # Set by load_settings for one build; a class attribute because pydantic-settings asks the class.
    _toml_file: ClassVar[Path | None] = None
    _secrets_dir: ClassVar[Path | None] = None

    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    bridge: BridgeSettings = Field(default_factory=BridgeSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    simulate: SimulateSettings = Field(default_factory=SimulateSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    phone: PhoneSettings = Field(default_factory=PhoneSettings)
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings)
    homeassistant: HomeAssistantSettings = Field(default_factory=HomeAssistantSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @model_validator(mode="before")
    @classmethod
    def _embedded_unless_influxdb(cls, data: Any) -> Any:
        """Neither a store kind nor any InfluxDB setting given: the embedded store, so that a newcomer's commands
        (demo, report, serve) share one file in the user's data directory with no setting at all."""
        if not isinstance(data, dict):
            return data
        store, influx = data.get("store"), data.get("influx")
        if isinstance(store, StoreSettings) or (isinstance(store, dict) and "kind" in store) or influx:
            return data
        return {**data, "store": {**(store if isinstance(store, dict) else {}), "kind": "embedded"}}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._secrets_dir is not None:
            sources.append(
                NestedSecretsSettingsSource(
                    file_secret_settings,
                    secrets_dir=cls._secrets_dir,
                    secrets_prefix=ENV_PREFIX,
                    secrets_nested_delimiter="__",
                )
            )
        if cls._toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_file))
        return tuple(sources)


def load_settings(
    config_file: Path | None = None,
    *,
    secrets_dir: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> KineticSettings:
    """Build the settings; raise ConfigError with one line naming the bad setting."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get(f"{ENV_PREFIX}CONFIG"):
        config_file = Path(env[f"{ENV_PREFIX}CONFIG"])
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist (--config / {ENV_PREFIX}CONFIG)")
    if config_file is not None:
        try:  # checked first: pydantic-settings' own reading would raise a traceback for some (RecursionError)
            load_toml(config_file)
        except TextFileError as exc:
            raise ConfigError(f"config file {config_file}: {exc}") from None
    if secrets_dir is None:
        raw = env.get(f"{ENV_PREFIX}SECRETS_DIR")
        secrets_dir = Path(raw) if raw else (DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None)
    if secrets_dir is not None and not secrets_dir.is_dir():
        raise ConfigError(f"secrets dir {secrets_dir} does not exist ({ENV_PREFIX}SECRETS_DIR)")

    saved = dict(os.environ)
    try:
        if environ is not None:  # tests pass an explicit environment
            os.environ.clear()
            os.environ.update(environ)
        # CONFIG and SECRETS_DIR choose sources; they are not settings themselves.
        for key in (f"{ENV_PREFIX}CONFIG", f"{ENV_PREFIX}SECRETS_DIR"):
            os.environ.pop(key, None)
        KineticSettings._toml_file = config_file
        KineticSettings._secrets_dir = secrets_dir
        return KineticSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_settings_error(exc, config_file)) from exc
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError(f"config file {config_file}: {exc}") from exc
    finally:
        KineticSettings._toml_file = None
        KineticSettings._secrets_dir = None
        os.environ.clear()
        os.environ.update(saved)


def describe_settings_error(exc: ValidationError, config_file: Path | None) -> str:
    """'KINETIC_MQTT__PORT (mqtt.port in the TOML file): Input should be ... (got 'abc')'."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    env_name = ENV_PREFIX + "__".join(p.upper() for p in loc)
    where = f"{env_name} ({'.'.join(loc)} in {config_file})" if config_file else env_name
    got = err.get("input")
    shown = "" if isinstance(got, (dict, BaseModel)) or got is None else f" (got {got!r})"
    more = exc.error_count() - 1
    tail = f"; {more} more setting(s) wrong" if more else ""
    return f"setting {where}: {err['msg']}{shown}{tail}"
