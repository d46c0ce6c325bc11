"""The wire contract: every MQTT topic and payload Kinetic speaks, in one module.

Topics (``<root>`` defaults to ``kinetic``; tests use their own root so they can run in any order)::

    <root>/v1/<wearer>/<device>/features   FeatureBatchV1, QoS 1, several seconds per message
    <root>/v1/<wearer>/<device>/status     DeviceStatusV1, QoS 1, retained, also the last will
    <root>/v1/<wearer>/prompts             PromptV1, QoS 1
    <root>/v1/<wearer>/events              EventV1, QoS 1 (bouts, prompts sent, hourly summaries)
    <root>/v1/<wearer>/commands            CommandV1, QoS 1 (e.g. an explicit calibration)
    <root>/v1/_collector/<id>/status       CollectorStatusV1, QoS 1, retained, also the collector's last will
    <root>/v1/_deadletter/<service>        DeadLetterV1: what a service could not accept, and why

Payloads are JSON, validated by pydantic v2 models with ``extra="forbid"``. Per-second feature frames travel
batched: one MQTT message per sample is far too slow in Python (about 16k messages/s at QoS 1 with paho),
while 50 samples per message move about 750k samples/s (../shared/reference/services.md).

This module is pure: no I/O, no clock reads. ``alerts`` depends on ``ingest`` only through this module.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NewType

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingest.errors import WireError

WIRE_VERSION = "v1"

WearerId = NewType("WearerId", str)
DeviceId = NewType("DeviceId", str)

# Lower-case ids that are safe in topics, InfluxDB tags and file names. A leading "_" is reserved for
# Kinetic's own topics (the dead-letter topic), so an id can never collide with them.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)

Placement = Literal["thigh", "trunk", "wrist"]
"""Where the sensor sits on the body: it decides what posture can be known (sedentary-science.md s3)."""

# A frame list is bounded so one message cannot ask a service for unbounded memory.
MAX_FRAMES_PER_BATCH = 600

Id = Annotated[str, Field(pattern=ID_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureFrameV1(_Model):
    """Features of one second of accelerometer data, computed at the edge (ingest.features).

    ``gx, gy, gz`` are the mean acceleration over the second in g, in the sensor's own axes: the gravity
    direction. The alert service calibrates the mounting and derives posture angles from them. A sender that
    knows its mounting may also send the angles directly: ``incl_deg`` (body segment's long axis from vertical,
    0 = upright, 90 = horizontal) and ``lean_deg`` (lateral tilt, + to the wearer's right, trunk only).
    ``enmo_mg`` is the mean Euclidean norm minus one g, clipped at 0; ``sd_mg`` the standard deviation of the norm.
    A frame carries the gravity vector, the inclination, or both.
    """

    t_ms: int = Field(ge=0, description="start of the second, Unix epoch milliseconds (UTC), device clock")
    gx: float | None = Field(default=None, ge=-16.0, le=16.0)
    gy: float | None = Field(default=None, ge=-16.0, le=16.0)
    gz: float | None = Field(default=None, ge=-16.0, le=16.0)
    incl_deg: float | None = Field(default=None, ge=0.0, le=180.0)
    lean_deg: float | None = Field(default=None, ge=-90.0, le=90.0)
    enmo_mg: float = Field(ge=0.0)
    sd_mg: float | None = Field(default=None, ge=0.0)
    steps: int = Field(default=0, ge=0)
    n: int = Field(ge=0, description="samples that went into this frame")
    hr_bpm: float | None = Field(
        default=None, ge=20, le=300, description="heart rate in the second (Heart Rate Service), when the sensor has it"
    )

    @property
    def gravity(self) -> tuple[float, float, float] | None:
        if self.gx is None or self.gy is None or self.gz is None:
            return None
        return (self.gx, self.gy, self.gz)


class FeatureBatchV1(_Model):
    """Several consecutive seconds of one device's features."""

    v: Literal[1] = 1
    wearer: Id
    device: Id
    placement: Placement
    seq: int = Field(ge=0, description="per-device message counter, for gap and duplicate accounting")
    frames: list[FeatureFrameV1] = Field(min_length=1, max_length=MAX_FRAMES_PER_BATCH)

    @model_validator(mode="after")
    def _frames_well_formed_and_in_time_order(self) -> FeatureBatchV1:
        problem = batch_problem(self.frames)
        if problem:
            raise ValueError(problem)
        return self


def batch_problem(frames: Sequence[Any]) -> str | None:
    """Why a batch's frames break the rules the field types cannot say, or None: times strictly increasing, and
    each frame with the whole gravity vector (gx, gy, gz) or an inclination. One pass per batch (a validator per
    frame cost a quarter of the bridge's decoding time); also used by the bridge's fast path
    (ingest/store/fast_features.py)."""
    last = -1
    for i, frame in enumerate(frames):
        if frame.t_ms <= last:
            return "frames must be in strictly increasing t_ms order"
        last = frame.t_ms
        if frame.gx is None or frame.gy is None or frame.gz is None:
            missing_g = frame.gx is None
            if (frame.gy is None) != missing_g or (frame.gz is None) != missing_g:
                return f"frames.{i}: gx, gy and gz go together"
            if frame.incl_deg is None:
                return f"frames.{i}: a frame needs the gravity vector (gx, gy, gz) or incl_deg"
    return None


class DeviceStatusV1(_Model):
    """Retained device status; the ``offline`` form is also registered as the MQTT last will."""

    v: Literal[1] = 1
    wearer: Id
    device: Id
    state: Literal["online", "offline"]
    placement: Placement | None = None
    t_ms: int | None = Field(default=None, ge=0)
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    rssi_dbm: int | None = None
    firmware: str | None = Field(default=None, max_length=64)


Trigger = Literal["sitting", "standing", "lean"]


class PromptV1(_Model):
    """A micro-movement prompt: the canonical form every delivery channel renders from.

    ``id`` is deterministic (wearer, trigger, event time), so a redelivered prompt is recognisable.
    ``created`` is event time: the data's clock, not the wall clock of the alert service.
    """

    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=128)
    wearer: Id
    trigger: Trigger
    exercise: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=120)
    text: str = Field(min_length=1, max_length=1000)
    created: AwareDatetime
    expires: AwareDatetime
    bout_start: AwareDatetime | None = None
    attempt: int = Field(default=1, ge=1, le=10, description="1 = first prompt of this bout; 2 = the one re-prompt")
    duration_s: int | None = Field(default=None, ge=0, description="how long the suggested exercise takes")
    held_s: float | None = Field(
        default=None, ge=0.0, description="how long the prompt was held (do-not-disturb, quiet hours, caps)"
    )


EventKind = Literal[
    "bout_started",
    "bout_ended",
    "prompt_sent",
    "prompt_held",
    "prompt_cancelled",
    "prompt_outcome",
    "prompt_ack",
    "prompt_snoozed",
    "policy_changed",
    "summary",
]
MetricName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class EventV1(_Model):
    """Something the alert service concluded, in event time, for storage and dashboards."""

    v: Literal[1] = 1
    kind: EventKind
    wearer: Id
    t: AwareDatetime
    posture: str | None = Field(default=None, max_length=32)
    bout_start: AwareDatetime | None = None
    duration_s: float | None = Field(default=None, ge=0.0)
    prompt_id: str | None = Field(default=None, max_length=128)
    trigger: Trigger | None = None
    exercise: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=200, description="why a prompt was held or cancelled")
    metrics: dict[MetricName, float] | None = Field(
        default=None,
        max_length=64,
        description="kind 'summary': an hour's metrics (docs/metrics.md), t = hour start; kind 'prompt_outcome': "
        "break_after_s, broke_1min / broke_3min / broke_5min (1 or 0), acked, snoozed; t = the prompt's created",
    )


class CollectorStatusV1(_Model):
    """A collector's own status, retained on ``<root>/v1/_collector/<id>/status``; its ``offline`` form is the
    collector's MQTT last will. A device status that says ``online`` is only current while its collector is online
    (one MQTT connection carries many devices, and a connection has one will)."""

    v: Literal[1] = 1
    collector: Id
    state: Literal["online", "offline"]
    devices: list[Id] = Field(default_factory=list, max_length=256)
    t_ms: int | None = Field(default=None, ge=0)


CommandKind = Literal["calibrate", "ack", "snooze", "pause", "resume", "policy", "forget"]


class CommandV1(_Model):
    """An instruction to the alert service about one wearer, on ``<root>/v1/<wearer>/commands``.

    - ``calibrate``: the wearer stands still now (``at``, event time) for 5 s; their sensors' upright is taken from
      those seconds (``device`` narrows it to one sensor).
    - ``ack``: the wearer did prompt ``prompt_id`` (the "Done" button): no re-prompt for that bout.
    - ``snooze``: remind again in ``minutes`` (default 10) if still sitting.
    - ``pause``: do not disturb until ``until`` (or until ``resume``); prompts due meanwhile are held, then sent
      if still relevant.
    - ``resume``: end a pause now.
    - ``policy``: per-wearer policy overrides (``settings``, the keys of docs/prompts.md); the value ``"default"``
      removes an override.
    - ``forget``: drop everything held for the wearer (``kinetic data delete``): no event, nothing stored.
    """

    v: Literal[1] = 1
    kind: CommandKind
    wearer: Id
    at: AwareDatetime
    device: Id | None = None
    prompt_id: str | None = Field(default=None, max_length=128)
    minutes: float | None = Field(default=None, gt=0, le=24 * 60)
    until: AwareDatetime | None = None
    settings: dict[str, object] | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=64, description="who sent it: cli, ntfy, mqtt client id")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> CommandV1:
        if self.kind in ("ack", "snooze") and self.prompt_id is None:
            raise ValueError(f"a {self.kind!r} command needs prompt_id")
        if self.kind == "policy" and not self.settings:
            raise ValueError("a 'policy' command needs settings")
        return self


class DeadLetterV1(_Model):
    """A message a service could not accept, republished with the reason so nothing is silently lost."""

    v: Literal[1] = 1
    service: str
    topic: str
    reason: str
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    received: AwareDatetime

    @classmethod
    def wrap(cls, *, service: str, topic: str, reason: str, payload: bytes, received: datetime) -> DeadLetterV1:
        try:
            text, encoding = payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
        return cls(
            service=service,
            topic=topic,
            reason=reason,
            payload=text,
            payload_encoding=encoding,
            received=received,
        )


TopicKind = Literal["features", "status", "prompts", "events", "commands", "collector", "deadletter"]


@dataclass(frozen=True, slots=True)
class TopicAddress:
    """What a topic says: its kind and the wearer/device it belongs to."""

    kind: TopicKind
    wearer: WearerId | None
    device: DeviceId | None


@dataclass(frozen=True, slots=True)
class Topics:
    """Builds and parses every Kinetic topic under one root."""

    root: str = "kinetic"

    def __post_init__(self) -> None:
        if not self.root or any(c in self.root for c in "+#") or self.root.endswith("/"):
            raise WireError(f"topic root {self.root!r} must be non-empty, without '+', '#' or a trailing '/'")

    @property
    def base(self) -> str:
        return f"{self.root}/{WIRE_VERSION}"

    def features(self, wearer: str, device: str) -> str:
        return f"{self.base}/{check_id(wearer)}/{check_id(device)}/features"

    def status(self, wearer: str, device: str) -> str:
        return f"{self.base}/{check_id(wearer)}/{check_id(device)}/status"

    def prompts(self, wearer: str) -> str:
        return f"{self.base}/{check_id(wearer)}/prompts"

    def events(self, wearer: str) -> str:
        return f"{self.base}/{check_id(wearer)}/events"

    def commands(self, wearer: str) -> str:
        return f"{self.base}/{check_id(wearer)}/commands"

    def collector_status(self, collector: str) -> str:
        return f"{self.base}/_collector/{check_id(collector)}/status"

    def dead_letter(self, service: str) -> str:
        return f"{self.base}/_deadletter/{check_id(service)}"

    # Subscription filters
    def all_features(self) -> str:
        return f"{self.base}/+/+/features"

    def all_status(self) -> str:
        return f"{self.base}/+/+/status"

    def all_prompts(self) -> str:
        return f"{self.base}/+/prompts"

    def all_events(self) -> str:
        return f"{self.base}/+/events"

    def all_commands(self) -> str:
        return f"{self.base}/+/commands"

    def all_collector_status(self) -> str:
        return f"{self.base}/_collector/+/status"

    def all_dead_letters(self) -> str:
        return f"{self.base}/_deadletter/+"

    def parse(self, topic: str) -> TopicAddress:
        """Say what a topic is; raise WireError for anything that is not a Kinetic v1 topic."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            raise WireError(f"topic {topic!r} is not under {prefix!r}")
        parts = topic[len(prefix) :].split("/")
        if len(parts) == 2 and parts[0] == "_deadletter":
            return TopicAddress("deadletter", None, None)
        if len(parts) == 3 and parts[0] == "_collector" and parts[2] == "status" and _ID_RE.match(parts[1]):
            return TopicAddress("collector", None, None)
        if len(parts) == 2 and parts[1] in ("prompts", "events", "commands") and _ID_RE.match(parts[0]):
            return TopicAddress(parts[1], WearerId(parts[0]), None)  # type: ignore[arg-type]
        if len(parts) == 3 and parts[2] in ("features", "status") and _ID_RE.match(parts[0]) and _ID_RE.match(parts[1]):
            return TopicAddress(parts[2], WearerId(parts[0]), DeviceId(parts[1]))  # type: ignore[arg-type]
        raise WireError(f"topic {topic!r} is not a Kinetic {WIRE_VERSION} topic")


def check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise WireError(f"id {value!r} must match {ID_PATTERN} (lower-case letters, digits, '-', '_')")
    return value


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad field: 'frames.3.t_ms: Input should be ...'."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


_PAYLOAD_MODELS: dict[str, type[_Model]] = {
    "features": FeatureBatchV1,
    "status": DeviceStatusV1,
    "prompts": PromptV1,
    "events": EventV1,
    "commands": CommandV1,
    "collector": CollectorStatusV1,
    "deadletter": DeadLetterV1,
}

Payload = FeatureBatchV1 | DeviceStatusV1 | PromptV1 | EventV1 | CommandV1 | CollectorStatusV1 | DeadLetterV1


def decode(topics: Topics, topic: str, payload: bytes) -> tuple[TopicAddress, Payload]:
    """Validate a message against its topic. Raises WireError with a one-line reason.

    Beyond the schema, the wearer (and device) in the payload must match the topic: a sensor may only speak
    for the topic it publishes on, which is what the broker's per-wearer ACL protects.
    """
    address = topics.parse(topic)
    return address, decode_at(address, payload)


def decode_at(address: TopicAddress, payload: bytes) -> Payload:
    """``decode`` for a topic already parsed."""
    model = _PAYLOAD_MODELS[address.kind]
    try:
        message = model.model_validate_json(payload)
    except ValidationError as exc:
        raise WireError(f"invalid {model.__name__}: {describe_validation_error(exc)}") from exc
    wearer = getattr(message, "wearer", None)
    if address.wearer is not None and wearer != address.wearer:
        raise WireError(f"payload wearer {wearer!r} does not match topic wearer {address.wearer!r}")
    device = getattr(message, "device", None)
    if address.device is not None and device != address.device:
        raise WireError(f"payload device {device!r} does not match topic device {address.device!r}")
    return message  # type: ignore[return-value]


def encode(message: _Model) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()
