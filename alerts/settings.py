"""Alert-service settings (KINETIC_ALERTS__...)."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Protocol

import tzlocal
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from alerts.shard import Shard, parse_shard
from ingest.settings import ClockSettings, ListenHost, MqttSettings, SettingPath
from ingest.wire import ID_PATTERN

# The names the tz database gives Coordinated Universal Time: shown as "UTC"
_UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "UCT", "Etc/UCT", "GMT", "Etc/GMT", "GMT0"}
    | {"Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "Etc/Greenwich", "Greenwich", "GMT+0", "GMT-0"}
)


def host_zone_name() -> str:
    """This host's time zone as an IANA name (tzlocal: the TZ variable, else /etc/localtime or /etc/timezone); "UTC"
    for UTC under any of its names, and when the host names no zone tzlocal can read."""
    try:
        name = tzlocal.get_localzone_name()
    except (ValueError, LookupError, OSError, zoneinfo.ZoneInfoNotFoundError):  # a TZ naming no known zone
        return "UTC"
    return "UTC" if not name or name in _UTC_NAMES else name


class AlertsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # infinity is no setting (ingest.settings)

    sitting_threshold_min: float = Field(
        default=30.0, gt=0, le=24 * 60, description="continuous sitting (event time) before a prompt"
    )
    min_posture_s: int = Field(
        default=10, ge=1, le=600, description="activPAL-style minimum duration before a new posture counts"
    )
    max_gap_s: int = Field(default=60, ge=2, le=3600, description="a data gap longer than this ends the current bout")
    trunk_transitions: bool = Field(
        default=False,
        description="a trunk sensor's sitting/upright is held from the postural transitions its edge reports "
        "(alerts.detect.transitions); off: orientation alone (docs/evaluation.md has both)",
    )
    lean_episode_min: float = Field(
        default=5.0, gt=0, le=240, description="a sustained lean episode lasts at least this long beyond 10 deg"
    )
    prompt_ttl_min: float = Field(
        default=15.0, gt=0, le=24 * 60, description="a prompt expires this long after creation (the policy's bound)"
    )
    catalog_dirs: list[SettingPath] = Field(
        default_factory=list, description="extra catalog folders (clinicians' own exercises)"
    )
    policy_file: SettingPath | None = Field(
        default=None, description="YAML prompt policy: defaults and per-wearer overrides (docs/prompts.md)"
    )
    timezone: str = Field(
        default_factory=host_zone_name,
        description="IANA zone of a wearer whose policy names none (schedules, days, the pages' and reports' hours); "
        "default: this host's zone (TZ, else /etc/localtime; UTC when neither names one)",
    )
    prescriptions_file: SettingPath | None = Field(
        default=None,
        description="YAML prescriptions (docs/exercises.md): which exercises each wearer may start as a session, "
        "and their dose; none: any catalog exercise, its dose not judged",
    )
    state_dir: Path | None = Field(
        default=Path("~/.local/state/kinetic/alerts").expanduser(),
        description="per-wearer state and the prompt outbox (restart safety); empty: in memory only",
    )
    checkpoint_s: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="state checkpoint interval; messages are acknowledged after it (1 s: a checkpoint's work comes "
        "in small pieces, which prompts do not wait behind; docs/prompts.md)",
    )
    max_unacked: int = Field(
        default=50_000, ge=1, description="checkpoint early when this many messages wait for their acknowledgement"
    )
    shard: str | None = Field(
        default=None,
        description="INDEX/COUNT: this instance handles only the wearers whose id hashes to INDEX (CRC-32 mod COUNT) "
        "and has its own MQTT client id and state file; one instance per INDEX (docs/scaling.md); none: all wearers",
    )
    idle_checkpoint_s: float = Field(
        default=0.1, gt=0, le=300, description="checkpoint early when nothing arrived for this long and acks are owed"
    )
    ntfy_url: str | None = Field(default=None, description="ntfy server (e.g. https://ntfy.example.org); none: off")
    ntfy_token: SecretStr | None = Field(default=None, description="ntfy access token (Authorization: Bearer)")
    ntfy_topic_prefix: str = Field(
        default="kinetic-", pattern=r"^[A-Za-z0-9_-]{0,32}$", description="ntfy topic = prefix + wearer"
    )
    webhook_url: str | None = Field(default=None, description="POST every prompt here as JSON; none: off")
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key: the body's signature goes in X-Kinetic-Signature"
    )
    callback_url: str | None = Field(
        default=None, description="public base URL of the callback server, for ntfy's Done and Snooze buttons"
    )
    callback_host: ListenHost = Field(default="127.0.0.1", description="address the callback server listens on")
    callback_port: int = Field(default=8642, ge=0, le=65535, description="port of the callback server (0: any)")
    callback_secret: SecretStr | None = Field(
        default=None, description="HMAC key that signs the callback URLs; the buttons are left out without it"
    )
    callback_tls_cert: SettingPath | None = Field(
        default=None,
        description="HTTPS for the callback server (TLS 1.2 or later): its certificate (PEM, with its chain); with "
        "callback_tls_key, and callback_url must then be https://",
    )
    callback_tls_key: SettingPath | None = Field(
        default=None, description="HTTPS for the callback server: the certificate's key (PEM); with callback_tls_cert"
    )
    channel_timeout_s: float = Field(default=10.0, gt=0, le=120, description="one HTTP delivery attempt")
    channel_concurrency: int = Field(
        default=16, ge=1, le=1000, description="deliveries in flight per channel (a slow one does not block others)"
    )
    send_expired_prompts: bool = Field(
        default=False,
        description="send prompts already expired by this host's clock when their data arrives (a dated scenario "
        "replayed as if now); off: such a prompt is not sent, a prompt_cancelled event says why",
    )
    commands_on_data_clock: bool = Field(
        default=False,
        description="judge a command a person sends (Done, Snooze, pause, check-in) at the wearer's latest event time, "
        "not at the host time it is stamped with: for a simulated or replayed stream (the demo does); a scenario's "
        "scripted commands are in event time already",
    )

    calendar_feeds: dict[str, list[SecretStr]] = Field(
        default_factory=dict,
        description="per wearer id, their calendar feeds: iCalendar addresses (http/https) or file paths; secrets "
        '(JSON, e.g. {"ann": ["https://...basic.ics"]}; prefer a secret file)',
    )
    calendar_addresses: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per wearer id, their own e-mail addresses: an invitation they declined holds nothing",
    )
    calendar_refresh_min: float = Field(
        default=15.0, ge=1, le=24 * 60, description="how often each calendar feed is fetched again"
    )
    calendar_all_day: bool = Field(
        default=False, description="all-day events count as busy (off: a holiday or a reminder is no meeting)"
    )

    @model_validator(mode="after")
    def _callback_tls(self) -> AlertsSettings:
        if (self.callback_tls_cert is None) != (self.callback_tls_key is None):
            raise ValueError(
                "KINETIC_ALERTS__CALLBACK_TLS_CERT and KINETIC_ALERTS__CALLBACK_TLS_KEY go together: "
                "set both or neither"
            )
        url = self.callback_url
        if self.callback_tls_cert is not None and url and not url.lower().startswith("https://"):
            raise ValueError(
                f"KINETIC_ALERTS__CALLBACK_URL={self.callback_url!r}: the callback server speaks HTTPS "
                "(KINETIC_ALERTS__CALLBACK_TLS_CERT is set), so the URL ntfy's buttons call must start with https://"
            )
        return self

    @field_validator("calendar_feeds")
    @classmethod
    def _feeds(cls, value: dict[str, list[SecretStr]]) -> dict[str, list[SecretStr]]:
        for wearer, feeds in value.items():
            if not re.match(ID_PATTERN, wearer):
                raise ValueError(f"wearer id {wearer!r} must be lower-case letters, digits, '-' or '_' (max 64)")
            for feed in feeds:
                if not feed.get_secret_value().strip():
                    raise ValueError(f"wearer {wearer!r}: a feed is empty; give an https:// address or a file path")
        return value

    @field_validator("calendar_addresses")
    @classmethod
    def _addresses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {w: [a.strip().lower().removeprefix("mailto:") for a in addresses] for w, addresses in value.items()}

    @field_validator("state_dir", mode="before")
    @classmethod
    def _empty_is_memory(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value  # blank: empty, not a dir named "  "

    @field_validator("shard", mode="before")
    @classmethod
    def _shard(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        shard = parse_shard(str(value))  # a number from TOML (shard = 1) is refused as any text without a slash
        return f"{shard.index}/{shard.count}"

    @property
    def sharding(self) -> Shard | None:
        """The shard of ``shard`` (None: this instance handles every wearer)."""
        return parse_shard(self.shard) if self.shard is not None else None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Berlin')") from exc
        return value


class AlertsConfig(Protocol):
    """The sections of the root settings (``kinetic.settings.KineticSettings``) that the alert side reads."""

    @property
    def mqtt(self) -> MqttSettings: ...
    @property
    def alerts(self) -> AlertsSettings: ...
    @property
    def clock(self) -> ClockSettings: ...
