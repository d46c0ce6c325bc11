"""Settings of ``kinetic homeassistant`` (KINETIC_HOMEASSISTANT__...)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from alerts.settings import AlertsSettings
from ingest.settings import ClockSettings, MqttSettings

# MQTT topic names Home Assistant accepts for its discovery prefix: no wildcards, no empty level
_PREFIX_PATTERN = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"


class HomeAssistantSettings(BaseModel):
    """Where Home Assistant looks for discovery configs, and how often an entity's state may change."""

    model_config = ConfigDict(extra="forbid")

    discovery_prefix: str = Field(
        default="homeassistant",
        pattern=_PREFIX_PATTERN,
        description="Home Assistant's MQTT discovery prefix (its MQTT integration's setting; 'homeassistant' unless "
        "changed there)",
    )
    birth_topic: str = Field(
        default="homeassistant/status",
        pattern=_PREFIX_PATTERN,
        description="where Home Assistant announces 'online' when it (re)starts: every config is published again",
    )
    min_interval_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description="an entity's state is published at most this often, in event time (a change of posture at once)",
    )


class HomeAssistantConfig(Protocol):
    """The sections of the root settings (``kinetic.settings.KineticSettings``) that ``kinetic homeassistant``
    reads."""

    @property
    def mqtt(self) -> MqttSettings: ...
    @property
    def clock(self) -> ClockSettings: ...
    @property
    def alerts(self) -> AlertsSettings: ...
    @property
    def homeassistant(self) -> HomeAssistantSettings: ...
