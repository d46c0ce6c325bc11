"""The wire contract: every MQTT topic and payload Kinetic speaks, in one module.

Topics (``<root>`` defaults to ``kinetic``; tests use their own root so they can run in any order)::

    <root>/v1/<wearer>/<device>/features   FeatureBatchV1, QoS 1, several seconds per message
    <root>/v1/<wearer>/<device>/status     DeviceStatusV1, QoS 1, retained, also the last will
    <root>/v1/<wearer>/prompts             PromptV1, QoS 1
    <root>/v1/<wearer>/events              EventV1, QoS 1 (bouts, prompts sent, hourly summaries)
    <root>/v1/<wearer>/commands            CommandV1, QoS 1 (e.g. an explicit calibration; never ``forget``)
    <root>/v1/<wearer>/consent             EventV1 consent_granted / consent_withdrawn only, QoS 1
    <root>/v1/<wearer>/erasure             CommandV1 ``forget`` only, QoS 1 (``kinetic data delete``)
    <root>/v1/<wearer>/prescriptions       EventV1 prescription_changed / progression_proposed only, QoS 1
    <root>/v1/<wearer>/policy              PolicyV1, QoS 1, retained (the policy the alert service applies)
    <root>/v1/_collector/<id>/status       CollectorStatusV1, QoS 1, retained, also the collector's last will
    <root>/v1/_deadletter/<service>        DeadLetterV1: what a service could not accept, and why

Payloads are JSON, validated by pydantic v2 models with ``extra="forbid"``. Per-second feature frames travel
batched: one MQTT message per sample is far too slow in Python (about 16k messages/s at QoS 1 with paho),
while 50 samples per message move about 750k samples/s (../shared/reference/services.md).

This module is pure: no I/O, no clock reads. ``alerts`` depends on ``ingest`` only through this module.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal, NewType, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ingest.errors import WireError
from ingest.order import admit

_LOGGER = logging.getLogger(__name__)

WIRE_VERSION = "v1"

WearerId = NewType("WearerId", str)
DeviceId = NewType("DeviceId", str)

# Lower-case ids that are safe in topics, InfluxDB tags and file names. A leading "_" is reserved for
# Kinetic's own topics (the dead-letter topic), so an id can never collide with them.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN[:-1] + r"\Z")  # Python's "$" also matches before a final line feed: "ann\n"

Placement = Literal["thigh", "trunk", "wrist"]
"""Where the sensor sits on the body: it decides what posture can be known (sedentary-science.md s3)."""

# The mean acceleration over a second of a worn or resting sensor is about 1 g; below this it has no direction (a
# sensor reporting zeros), and every angle computed from it would be undefined.
MIN_GRAVITY_G = 0.1

# The widest full-scale range of a wearable accelerometer, per axis: +-16 g (the Polar Verity Sense's and the
# MetaMotion's BMI160 at their widest, a phone's IMU). A mean over a second (gx, gy, gz) lies within it, a sample's
# Euclidean norm within sqrt(3) * 16 g = 27,713 mg, so ENMO (norm minus 1 g, averaged) within 26,713 mg and the
# norm's standard deviation within half that range, 13,857 mg (Popoviciu's inequality). Bounds rounded up to whole
# mg; a value beyond them is a wrong unit or a broken sender, and a minute's mean of such values overflows.
ACCEL_RANGE_G = 16.0
MAX_ENMO_MG = 26_713.0
MAX_SD_MG = 13_857.0

# A frame list is bounded so one message cannot ask a service for unbounded memory.
MAX_FRAMES_PER_BATCH = 600

# RR intervals (time between successive heartbeats, Heart Rate Measurement characteristic) on a frame: those that
# ended in its second, in ms. 250-2500 ms is 240-24 bpm, what a human heart beats at (the HRV artefact bounds,
# alerts/detect/hrv.py); a value outside is a wrong unit or not a heartbeat. At 240 bpm four beats end in a second;
# 8 leaves room for a notification delivered late with the next one's.
RR_MIN_MS = 250
RR_MAX_MS = 2500
MAX_RR_PER_FRAME = 8

Id = Annotated[str, Field(pattern=ID_PATTERN)]

# Every time on the wire lies in [EARLIEST_MS, LATEST_MS]: a Unix epoch in milliseconds from 2015 (before any
# Kinetic data, and before the clock of a device or Raspberry Pi that booted without a real-time clock: 1970/2000)
# to 2100. This is what tells a time in the wrong unit apart: seconds read as milliseconds fall in 1970, and
# microseconds or nanoseconds fall after 2100 (the poison message of issue 13, 1764230400000000, is microseconds).
# Times ahead of the receiver's clock are refused by each service (``ahead_limit_ms``).
EARLIEST_MS = 1_420_070_400_000  # 2015-01-01T00:00:00Z
LATEST_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
EpochMs = Annotated[int, Field(ge=EARLIEST_MS, le=LATEST_MS)]


def _plausible_time(value: datetime) -> datetime:
    ms = value.timestamp() * 1000
    if not EARLIEST_MS <= ms <= LATEST_MS:
        raise ValueError(f"{value.isoformat()} is outside 2015-01-01 .. 2100-01-01")
    return value


WireTime = Annotated[AwareDatetime, AfterValidator(_plausible_time)]
"""A time zone-aware time from 2015 to 2100 (ISO 8601 on the wire)."""


# Free text (titles, prompt texts, reasons, firmware strings): one line of printable characters, each field with its
# own length bound. Control characters (C0 and C1: line feed, carriage return, tab, NUL, ...) are refused: InfluxDB
# line protocol cannot carry a line break (docs/data-model.md, "Text"), the bridge splits bodies at line ends, and no
# one-line text needs one. Anything else (quotes, backslashes, commas, any script, emoji) is stored exactly.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f"  # as a regular expression's character class
_CONTROL_RE = re.compile(f"[{CONTROL_CHARACTERS}]")


def check_text(value: Any) -> Any:
    """``value``, unless it is a string with a control character: then a validation error naming the first one and
    where it is (pydantic puts the field's name in front). Runs before the field's type and length checks."""
    bad = _CONTROL_RE.search(value) if isinstance(value, str) else None
    if bad is not None:
        raise PydanticCustomError(
            "text_control_character",
            "control character {character} at position {position}: one line of printable text expected",
            {"character": f"U+{ord(bad.group()):04X}", "position": bad.start()},
        )
    return value


def one_line(text: str, max_length: int) -> str:
    """``text`` made into what ``Text`` accepts: control characters written as Python escapes (a line feed as
    ``\\n``), cut to ``max_length`` characters. For text Kinetic builds from what it received (dead letters)."""
    if _CONTROL_RE.search(text):
        text = _CONTROL_RE.sub(lambda m: repr(m.group())[1:-1], text)
    return text if len(text) <= max_length else text[: max_length - 3] + "..."


Text = Annotated[str, BeforeValidator(check_text)]
TextOrNone = Annotated[str | None, BeforeValidator(check_text)]  # so that a length bound reads as one on a string


class _Model(BaseModel):
    """Every wire payload. Received payloads are validated in pydantic's strict JSON mode (``decode_at``): a JSON
    number where a number belongs (an integer where an integer belongs), text where text belongs. So ``true`` is no
    1 and ``"5"`` no 5 (a sender's bug, refused naming the field), at no cost per field: a Python check of every
    field before validation had cost more than the validation itself (``python -m bench.wire_validation``)."""

    # NaN and infinity are not numbers a sensor measures, and InfluxDB's line protocol cannot carry them
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FeatureFrameV1(_Model):
    """Features of one second of accelerometer data, computed at the edge (ingest.features).

    ``gx, gy, gz`` are the mean acceleration over the second in g, in the sensor's own axes: the gravity
    direction. The alert service calibrates the mounting and derives posture angles from them. A sender that
    knows its mounting may also send the angles directly: ``incl_deg`` (body segment's long axis from vertical,
    0 = upright, 90 = horizontal) and ``lean_deg`` (lateral tilt, + to the wearer's right, trunk only).
    ``enmo_mg`` is the mean Euclidean norm minus one g, clipped at 0; ``sd_mg`` the standard deviation of the norm.
    A frame carries the gravity vector, the inclination, or both.
    """

    t_ms: int = Field(
        ge=0,
        description="start of the second, Unix epoch milliseconds (UTC), device clock; on the wire (in a batch) "
        "from 2015 to 2100",
    )
    gx: float | None = Field(default=None, ge=-ACCEL_RANGE_G, le=ACCEL_RANGE_G)
    gy: float | None = Field(default=None, ge=-ACCEL_RANGE_G, le=ACCEL_RANGE_G)
    gz: float | None = Field(default=None, ge=-ACCEL_RANGE_G, le=ACCEL_RANGE_G)
    incl_deg: float | None = Field(default=None, ge=0.0, le=180.0)
    lean_deg: float | None = Field(default=None, ge=-90.0, le=90.0)
    enmo_mg: float = Field(ge=0.0, le=MAX_ENMO_MG, description="at most what a +-16 g accelerometer can give")
    sd_mg: float | None = Field(default=None, ge=0.0, le=MAX_SD_MG)
    steps: int = Field(default=0, ge=0, le=100, description="steps in this second (a person makes fewer than 5)")
    n: int = Field(ge=0, le=10_000, description="samples that went into this frame (a sensor samples at 1 kHz at most)")
    hr_bpm: float | None = Field(
        default=None, ge=20, le=300, description="heart rate in the second (Heart Rate Service), when the sensor has it"
    )
    trans: Literal["sit_to_stand", "stand_to_sit"] | None = Field(
        default=None,
        description="a postural transition the edge detected from the raw trunk samples (ingest.transitions), "
        "reported in the first frame after it was decided; optional, added within v1",
    )
    trans_conf: float | None = Field(default=None, ge=0.0, le=1.0, description="the transition's confidence, 0-1")
    trans_lag_ms: int | None = Field(
        default=None, ge=0, le=60_000, description="how long before this second's start the transition's peak was"
    )
    activity: Literal["automotive"] | None = Field(
        default=None,
        description="the phone's motion activity in this second says the wearer rides in a vehicle (Sensor Logger's "
        "'activity' automotive, medium or high confidence); the alert service holds prompts while driving; "
        "optional, added within v1",
    )
    rr_ms: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_RR_PER_FRAME,
        description="RR intervals (ms, oldest first) that ended in this second, each RR_MIN_MS..RR_MAX_MS, from a "
        "sensor whose Heart Rate Measurement carries them (Polar H10); optional, added within v1",
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
    seq: int = Field(ge=0, le=2**63 - 1, description="per-device message counter, for gap and duplicate accounting")
    frames: list[FeatureFrameV1] = Field(min_length=1, max_length=MAX_FRAMES_PER_BATCH)

    @model_validator(mode="after")
    def _frames_well_formed_and_in_time_order(self) -> FeatureBatchV1:
        problem = batch_problem(self.frames)
        if problem:
            raise ValueError(problem)
        return self


def batch_problem(frames: Sequence[Any]) -> str | None:
    """Why a batch's frames break the rules the field types cannot say, or None: times strictly increasing and
    plausible (``EARLIEST_MS`` .. ``LATEST_MS``, the unit named when it looks like another), and each frame with the
    whole gravity vector (gx, gy, gz, with a direction: at least ``MIN_GRAVITY_G`` long) or an inclination. One pass
    per batch (a validator per frame cost a quarter of the bridge's decoding time); also used by the bridge's fast
    path (ingest/store/fast_features.py)."""
    last = -1
    for i, frame in enumerate(frames):
        if frame.t_ms <= last:
            return "frames must be in strictly increasing t_ms order"
        last = frame.t_ms
        if not EARLIEST_MS <= last <= LATEST_MS:
            return f"frames.{i}.t_ms: {describe_epoch_ms(last)}"
        if frame.rr_ms is not None:
            bad = next((rr for rr in frame.rr_ms if not RR_MIN_MS <= rr <= RR_MAX_MS), None)
            if bad is not None:
                return f"frames.{i}.rr_ms: {bad} ms is not an RR interval ({RR_MIN_MS}-{RR_MAX_MS} ms: 240-24 bpm)"
        if frame.gx is not None and frame.gy is not None and frame.gz is not None:
            if frame.gx * frame.gx + frame.gy * frame.gy + frame.gz * frame.gz < MIN_GRAVITY_G * MIN_GRAVITY_G:
                return f"frames.{i}: the gravity vector ({frame.gx}, {frame.gy}, {frame.gz}) has no direction"
        else:
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
    t_ms: EpochMs | None = None
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    rssi_dbm: int | None = Field(default=None, ge=-200, le=50)
    firmware: TextOrNone = Field(default=None, max_length=64)


Trigger = Literal["sitting", "standing", "lean"]
PROMPT_TITLE_MAX = 120
PROMPT_TEXT_MAX = 1000


class PromptV1(_Model):
    """A micro-movement prompt: the canonical form every delivery channel renders from.

    ``id`` is deterministic (wearer, trigger, event time), so a redelivered prompt is recognisable.
    ``created`` is event time: the data's clock, not the wall clock of the alert service.
    """

    v: Literal[1] = 1
    id: Text = Field(min_length=1, max_length=128)
    wearer: Id
    trigger: Trigger
    exercise: Id = Field(description="the catalog entry's id")
    title: Text = Field(min_length=1, max_length=PROMPT_TITLE_MAX)
    text: Text = Field(min_length=1, max_length=PROMPT_TEXT_MAX)
    created: WireTime
    expires: WireTime
    bout_start: WireTime | None = None
    attempt: int = Field(default=1, ge=1, le=10, description="1 = first prompt of this bout; 2 = the one re-prompt")
    duration_s: int | None = Field(default=None, ge=0, description="how long the suggested exercise takes")
    held_s: float | None = Field(
        default=None, ge=0.0, description="how long the prompt was held (do-not-disturb, quiet hours, caps)"
    )


SessionOutcome = Literal["done", "partial", "skipped"]
# why a prompt was sent (issue 17), carried on its ``prompt_outcome`` so a dashboard can group responses by it without
# joining the outcome to the ``prompt_sent`` event (InfluxQL cannot): the sitting / standing / lean threshold was
# reached, a meeting sat through had ended (docs/prompts.md, Calendars), or the one re-prompt of a bout
PromptContext = Literal["threshold", "after_meeting", "reprompt"]
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
    "checkin",
    "readiness",
    "consent_granted",
    "consent_withdrawn",
    "session_outcome",
    "prescription_changed",
    "progression_proposed",
    "session_adherence",
]
# A clinician's decisions (``kinetic prescription``): taken from the wearer's prescriptions topic only
PRESCRIPTION_KINDS = ("prescription_changed", "progression_proposed", "session_adherence")
ConsentData = Literal["posture", "checkins", "exercise"]
MetricName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class ConsentV1(_Model):
    """What a consent event grants or withdraws (``kinetic consent``; ingest/wall.py): ``data`` of the wearer to
    ``clinic`` (a clinic uid of the clinics file); a grant runs from the event's ``t`` until ``until`` (None: open)."""

    clinic: Id
    data: list[ConsentData] = Field(min_length=1, max_length=3)
    until: WireTime | None = None


class EventV1(_Model):
    """Something the alert service concluded, in event time, for storage and dashboards; or a wearer's consent
    change (kinds ``consent_granted`` / ``consent_withdrawn``, with ``consent``; t = since / from when)."""

    v: Literal[1] = 1
    kind: EventKind
    wearer: Id
    t: WireTime
    posture: TextOrNone = Field(default=None, max_length=32)
    bout_start: WireTime | None = None
    duration_s: float | None = Field(default=None, ge=0.0)
    prompt_id: TextOrNone = Field(default=None, max_length=128)
    trigger: Trigger | None = None
    exercise: Id | None = None
    reason: TextOrNone = Field(default=None, max_length=200, description="why a prompt was held or cancelled")
    session: Id | None = Field(default=None, description="kind 'session_outcome': the exercise session's id")
    outcome: SessionOutcome | None = Field(
        default=None, description="kind 'session_outcome': done, partial or skipped (docs/exercises.md)"
    )
    metrics: dict[MetricName, float] | None = Field(
        default=None,
        max_length=64,
        description="kind 'summary': an hour's metrics (docs/metrics.md), t = hour start; kind 'prompt_outcome': "
        "break_after_s, broke_1min / broke_3min / broke_5min (1 or 0), acked, snoozed, held_s (when it was held); "
        "t = the prompt's created; "
        "kind 'checkin': pain (0-10), stress_level (0 low, 1 medium, 2 high), t = when reported; kind 'readiness': "
        "the day's figures (relief 1/0, rmssd_ms, ln_rmssd, lying_h, pain, ...), t = when decided; "
        "kind 'session_outcome': the dose achieved and prescribed, quality figures, effort and pain (docs/wire.md)",
    )
    consent: ConsentV1 | None = Field(default=None, description="kinds consent_granted / consent_withdrawn only")
    context: PromptContext | None = Field(
        default=None,
        description="kind 'prompt_outcome': why the prompt was sent (threshold, after_meeting, reprompt); its "
        "reason then says what held it ('held: meeting') and metrics held_s how long; none: an outcome from before "
        "this field",
    )

    @model_validator(mode="after")
    def _consent_with_its_kinds(self) -> EventV1:
        if (self.consent is not None) != self.kind.startswith("consent_"):
            raise ValueError("kinds consent_granted / consent_withdrawn carry `consent`, and only they do")
        return self


class CollectorStatusV1(_Model):
    """A collector's own status, retained on ``<root>/v1/_collector/<id>/status``; its ``offline`` form is the
    collector's MQTT last will. A device status that says ``online`` is only current while its collector is online
    (one MQTT connection carries many devices, and a connection has one will)."""

    v: Literal[1] = 1
    collector: Id
    state: Literal["online", "offline"]
    devices: list[Id] = Field(default_factory=list, max_length=256)
    t_ms: EpochMs | None = None


CommandKind = Literal[
    "calibrate",
    "ack",
    "snooze",
    "pause",
    "resume",
    "policy",
    "forget",
    "dnd_on",
    "dnd_off",
    "checkin",
    "session_start",
    "session_end",
]
StressLevel = Literal["low", "medium", "high"]
STRESS_LEVELS: tuple[StressLevel, ...] = ("low", "medium", "high")  # in order: stress_level 0, 1, 2
PAIN_MAX = 10  # a 0-10 numeric rating scale
SETTING_TEXT_MAX = 200


def _check_settings_text(settings: dict[str, object]) -> dict[str, object]:
    """Every string in a policy command (keys and values, nested too) is one line of at most SETTING_TEXT_MAX
    characters: the alert service quotes them in the ``policy_changed`` event it stores."""
    strings: list[object] = [settings]
    while strings:
        item = strings.pop()
        if isinstance(item, dict):
            strings.extend(item.keys())
            strings.extend(item.values())
        elif isinstance(item, list):
            strings.extend(item)
        elif isinstance(item, str):
            check_text(item)
            if len(item) > SETTING_TEXT_MAX:
                raise PydanticCustomError(
                    "text_too_long",
                    "a text of {length} characters (at most {limit})",
                    {"length": len(item), "limit": SETTING_TEXT_MAX},
                )
    return settings


MAX_SNOOZE_MIN = 24 * 60  # a snooze longer than a day is a pause (``kinetic prompts pause``)
MAX_PAUSE_MIN = 30 * 24 * 60  # a month: longer is "until resume" (no time given)


class CommandV1(_Model):
    """An instruction to the alert service about one wearer, on ``<root>/v1/<wearer>/commands``.

    - ``calibrate``: the wearer stands still now (``at``, event time) for 5 s; their sensors' upright is taken from
      those seconds (``device`` narrows it to one sensor).
    - ``ack``: the wearer did prompt ``prompt_id`` (the "Done" button): no re-prompt for that bout.
    - ``snooze``: remind again in ``minutes`` (default 10) if still sitting.
    - ``pause``: do not disturb until ``until`` (or until ``resume``); prompts due meanwhile are held, then sent
      if still relevant. ``for_min`` says the pause is a span ("for 60 min", from ``at``; ``until`` is then
      ``at`` + ``for_min``, filled in when absent); without it ``until`` is a time of the wearer's day ("until
      15:30"). The two differ only where a command is judged on the data's clock (``on_data_clock``): a span moves
      with ``at``, a time of day does not. A command from before ``for_min`` (none) reads as a time of day.
    - ``resume``: end a pause now.
    - ``dnd_on`` / ``dnd_off``: a do-not-disturb switch (Home Assistant's, a scenario's) from ``at`` on: prompts are
      held while it is on, then sent if still relevant; separate from a pause, so neither ends the other.
    - ``policy``: per-wearer policy overrides (``settings``, the keys of docs/prompts.md); the value ``"default"``
      removes an override.
    - ``forget``: drop everything held for the wearer (``kinetic data delete``): no event, nothing stored. Taken
      from the wearer's erasure topic only (``Topics.erasure``), never from the commands topic.
    - ``checkin``: the wearer reports ``pain`` (0-10 numeric rating scale) and / or ``stress`` (low, medium, high)
      at ``at``; the alert service stores it as a ``checkin`` event and uses it for the day's readiness.
    - ``session_start``: the wearer starts prescribed exercise ``exercise`` now (or prompt ``prompt_id``'s exercise:
      the "Start" action beside Done / Snooze), as session ``session`` (none: an id made from the time and the
      exercise; ``kinetic session start``); raw samples are streamed on the session topic until ``session_end``.
    - ``session_end``: session ``session`` (none: the wearer's running session) is over; ``effort`` and ``pain``
      (0-10) are what the wearer reported after it. The alert service answers with a ``session_outcome`` event.
    """

    v: Literal[1] = 1
    kind: CommandKind
    wearer: Id
    at: WireTime
    device: Id | None = None
    prompt_id: TextOrNone = Field(default=None, min_length=1, max_length=128)
    minutes: float | None = Field(default=None, gt=0, le=MAX_SNOOZE_MIN)
    until: WireTime | None = None
    for_min: float | None = Field(
        default=None, gt=0, le=MAX_PAUSE_MIN, description="pause: a span of minutes from at (until = at + for_min)"
    )
    settings: Annotated[dict[str, object], AfterValidator(_check_settings_text)] | None = Field(
        default=None, max_length=64
    )
    source: TextOrNone = Field(default=None, max_length=64, description="who sent it: cli, ntfy, mqtt client id")
    pain: int | None = Field(
        default=None, ge=0, le=PAIN_MAX, description="checkin: pain now; session_end: pain after it; 0 none - 10 worst"
    )
    stress: StressLevel | None = Field(default=None, description="checkin: stress now")
    exercise: Id | None = Field(default=None, description="session_start: the prescribed exercise")
    session: Id | None = Field(default=None, description="session_start / session_end: the session's id")
    effort: int | None = Field(default=None, ge=0, le=10, description="session_end: reported effort, 0-10")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> CommandV1:
        if self.kind == "checkin" and self.pain is None and self.stress is None:
            raise ValueError("a 'checkin' command needs pain (0-10) or stress (low, medium, high)")
        if self.kind not in ("checkin", "session_end") and self.pain is not None:
            raise ValueError(f"pain belongs to a 'checkin' or 'session_end' command, not {self.kind!r}")
        if self.kind != "checkin" and self.stress is not None:
            raise ValueError(f"stress belongs to a 'checkin' command, not {self.kind!r}")
        if self.kind == "session_start" and self.exercise is None and self.prompt_id is None:
            raise ValueError("a 'session_start' command needs exercise, or the prompt_id of a prompt to start")
        if self.kind in ("ack", "snooze") and self.prompt_id is None:
            raise ValueError(f"a {self.kind!r} command needs prompt_id")
        if self.kind == "policy" and not self.settings:
            raise ValueError("a 'policy' command needs settings")
        if self.for_min is not None:
            if self.kind != "pause":
                raise ValueError(f"for_min belongs to a 'pause' command, not {self.kind!r}")
            end = self.at + timedelta(minutes=self.for_min)
            if self.until is None:  # the span's end, for every reader of until
                object.__setattr__(self, "until", end)
            elif abs((self.until - end).total_seconds()) > 1:
                raise ValueError(
                    f"pause until {self.until.isoformat()} is not at + for_min ({end.isoformat()}): give one of them"
                )
        if self.kind == "pause" and self.until is not None and self.until <= self.at:
            raise ValueError(
                f"pause until {self.until.isoformat()} is not after the command's time {self.at.isoformat()}"
            )
        return self


def retained_command_problem() -> str:
    """Why a command that reached a service as a retained message is refused. A command is an instruction for once;
    retained, the broker hands it to every new subscription, so a service restarting with a clean session (or a
    bridge resubscribing) would obey it again: a ``forget`` would erase what was stored since, a ``calibrate``
    would re-learn the upright from whatever the wearer does then. Published without retain it is obeyed once."""
    return "a retained command is refused: a command is obeyed once, when published (publish it without retain)"


PolicySource = Literal["default", "file", "command"]


class PolicyV1(_Model):
    """The prompt policy the alert service applies to one wearer, retained on ``<root>/v1/<wearer>/policy``: published
    by the alert service at its start for the wearers it knows and whenever a wearer's effective policy changes (a
    ``policy`` command applied, a wearer's first message), so a page or command started later reads what is in force
    without having seen the commands that made it. ``forget`` clears it (an empty retained message).

    ``values``: every policy key (docs/prompts.md) with the value applied (JSON); ``sources``: for each key, where its
    value comes from: ``default`` (built in, or the service's settings), ``file`` (the policy file: its ``defaults``
    or the wearer's ``wearers.<id>`` section) or ``command`` (a live ``policy`` command); ``timezone``: the IANA zone
    the wearer's schedules, caps per day and day types run in; ``file``: the policy file's path (None: none);
    ``t``: when the alert service published it (its host clock)."""

    v: Literal[1] = 1
    wearer: Id
    t: WireTime
    timezone: Text = Field(max_length=64)
    values: Annotated[dict[str, object], AfterValidator(_check_settings_text)] = Field(max_length=64)
    sources: dict[str, PolicySource] = Field(max_length=64)
    file: TextOrNone = Field(default=None, max_length=SETTING_TEXT_MAX)

    @model_validator(mode="after")
    def _a_source_per_value(self) -> PolicyV1:
        if set(self.sources) != set(self.values):
            raise ValueError("sources must name the source of each key of values, and only those")
        return self


# A session stream (docs/wire.md): raw accelerometer samples while an exercise session runs, for the detectors that
# verify it (alerts/detect/exercise). Bounded: a message holds at most MAX_SESSION_SAMPLES (10 s at 104 Hz, about
# 20 KB of JSON), spans at most MAX_SESSION_CHUNK_MS, and values are a +-16 g accelerometer's in milli-g.
MAX_SESSION_SAMPLES = 1_040
MAX_SESSION_CHUNK_MS = 20_000
# a whole session's stream: 60 minutes at 104 Hz; a sender stops there, the alert service refuses what is past it
MAX_SESSION_STREAM_SAMPLES = 60 * 60 * 104
MAX_ACC_MG = int(ACCEL_RANGE_G * 1000)


class SessionSamplesV1(_Model):
    """One chunk of a session stream, on ``<root>/v1/<wearer>/<device>/session``: sample ``i`` was taken at
    ``t0_ms + dt_ms[i]`` (Unix epoch ms, device clock; ``dt_ms`` non-decreasing) and read ``acc_mg[i]`` (x, y, z in
    milli-g, the sensor's own axes). ``seq`` counts the session's chunks from 0 (a gap says a chunk was lost);
    ``last`` marks the final chunk, which closes the stream."""

    v: Literal[1] = 1
    wearer: Id
    device: Id
    session: Id
    seq: int = Field(ge=0, le=100_000)
    t0_ms: EpochMs
    dt_ms: list[Annotated[int, Field(ge=0, le=MAX_SESSION_CHUNK_MS)]] = Field(max_length=MAX_SESSION_SAMPLES)
    acc_mg: list[
        Annotated[list[Annotated[int, Field(ge=-MAX_ACC_MG, le=MAX_ACC_MG)]], Field(min_length=3, max_length=3)]
    ] = Field(max_length=MAX_SESSION_SAMPLES)
    last: bool = Field(
        default=False,
        description="the sender's final chunk of this session (sent when the session ends; its t0_ms is the sender's "
        "time then, so a sensor lost before the end shows as the gap to it)",
    )

    @model_validator(mode="after")
    def _samples_line_up(self) -> SessionSamplesV1:
        if len(self.dt_ms) != len(self.acc_mg):
            raise ValueError(f"{len(self.dt_ms)} sample times for {len(self.acc_mg)} samples")
        if any(b < a for a, b in zip(self.dt_ms, self.dt_ms[1:], strict=False)):
            raise ValueError("dt_ms must not decrease")
        return self


DEAD_LETTER_TOPIC_MAX = 1024
DEAD_LETTER_REASON_MAX = 2000
DEAD_LETTER_PAYLOAD_MAX = 65_536  # bytes of the refused payload kept in its dead letter; the size says the rest

# The largest message any Kinetic service reads, in bytes. The largest valid message is a batch of
# MAX_FRAMES_PER_BATCH frames with every field at its longest (about 200 KB as JSON); a payload past this limit is
# refused before it is parsed, so a runaway or hostile sender (a 66 MB or 2 GB message) costs one line, not minutes
# of parsing in every service. The broker's own limit (max_packet_size in deploy/mosquitto) stops it earlier.
MAX_PAYLOAD_BYTES = 1_048_576


def payload_problem(payload: bytes) -> str | None:
    """Why a payload is too large to read (None when it is not)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return f"a payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit of a Kinetic message"
    return None


class DeadLetterV1(_Model):
    """A message a service could not accept, republished with the reason so nothing is silently lost."""

    v: Literal[1] = 1
    service: Id
    topic: Text = Field(max_length=DEAD_LETTER_TOPIC_MAX)
    reason: Text = Field(max_length=DEAD_LETTER_REASON_MAX)
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    received: AwareDatetime  # the receiver's clock (maybe unset, 1970), not the data's: not range-checked
    payload_size: int | None = Field(
        default=None,
        ge=0,
        description="the refused payload's size when only its first DEAD_LETTER_PAYLOAD_MAX bytes are kept",
    )

    def original(self) -> bytes:
        """The refused payload's bytes as kept (its first DEAD_LETTER_PAYLOAD_MAX; ``payload_size`` says when cut)."""
        return base64.b64decode(self.payload) if self.payload_encoding == "base64" else self.payload.encode("utf-8")

    @classmethod
    def wrap(cls, *, service: str, topic: str, reason: str, payload: bytes, received: datetime) -> DeadLetterV1:
        size = len(payload) if len(payload) > DEAD_LETTER_PAYLOAD_MAX else None
        payload = payload[:DEAD_LETTER_PAYLOAD_MAX]
        try:
            text, encoding = payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
        return cls(
            service=service,
            topic=one_line(topic, DEAD_LETTER_TOPIC_MAX),
            reason=one_line(reason, DEAD_LETTER_REASON_MAX),
            payload=text,
            payload_encoding=encoding,
            received=received,
            payload_size=size,
        )


TopicKind = Literal[
    "features",
    "status",
    "prompts",
    "events",
    "consent",
    "prescriptions",
    "commands",
    "erasure",
    "policy",
    "collector",
    "deadletter",
    "session",
]


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

    def session(self, wearer: str, device: str) -> str:
        """A device's session stream (``SessionSamplesV1``), only while an exercise session runs."""
        return f"{self.base}/{check_id(wearer)}/{check_id(device)}/session"

    def prompts(self, wearer: str) -> str:
        return f"{self.base}/{check_id(wearer)}/prompts"

    def events(self, wearer: str) -> str:
        return f"{self.base}/{check_id(wearer)}/events"

    def consent(self, wearer: str) -> str:
        """The wearer's consent changes (``EventV1`` kinds ``consent_granted`` / ``consent_withdrawn`` only): the one
        topic the bridge takes consent from, writable only by the wearer's own logins (deploy/mosquitto/acl)."""
        return f"{self.base}/{check_id(wearer)}/consent"

    def prescriptions(self, wearer: str) -> str:
        """The wearer's prescription changes and progression proposals (``EventV1`` kinds ``PRESCRIPTION_KINDS``
        only, ``kinetic prescription``): the one topic the bridge takes them from, writable only by the clinicians'
        logins of the wearer's clinic and the operator (deploy/mosquitto/acl)."""
        return f"{self.base}/{check_id(wearer)}/prescriptions"

    def event_topic(self, event: EventV1) -> str:
        """Where ``event`` is published: a consent change on the wearer's consent topic, a prescription change or
        proposal on their prescriptions topic, any other on their events."""
        if event.consent is not None:
            return self.consent(event.wearer)
        if event.kind in PRESCRIPTION_KINDS:
            return self.prescriptions(event.wearer)
        return self.events(event.wearer)

    def commands(self, wearer: str) -> str:
        return f"{self.base}/{check_id(wearer)}/commands"

    def policy(self, wearer: str) -> str:
        """The policy the alert service applies to the wearer (``PolicyV1``, retained)."""
        return f"{self.base}/{check_id(wearer)}/policy"

    def erasure(self, wearer: str) -> str:
        """The wearer's erasure requests (``CommandV1`` kind ``forget`` only, ``kinetic data delete``): the one topic
        the services take ``forget`` from, writable only by the operator's and the wearer's own logins
        (deploy/mosquitto/acl)."""
        return f"{self.base}/{check_id(wearer)}/erasure"

    def command_topic(self, command: CommandV1) -> str:
        """Where ``command`` is published: a ``forget`` on the wearer's erasure topic, any other on their commands."""
        return self.erasure(command.wearer) if command.kind == "forget" else self.commands(command.wearer)

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

    def all_sessions(self) -> str:
        return f"{self.base}/+/+/session"

    def all_events(self) -> str:
        return f"{self.base}/+/events"

    def all_consent(self) -> str:
        return f"{self.base}/+/consent"

    def all_prescriptions(self) -> str:
        return f"{self.base}/+/prescriptions"

    def all_commands(self) -> str:
        return f"{self.base}/+/commands"

    def all_policies(self) -> str:
        return f"{self.base}/+/policy"

    def all_erasure(self) -> str:
        return f"{self.base}/+/erasure"

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
        if (
            len(parts) == 2
            and parts[1] in ("prompts", "events", "consent", "prescriptions", "commands", "erasure", "policy")
            and _ID_RE.match(parts[0])
        ):
            return TopicAddress(parts[1], WearerId(parts[0]), None)  # type: ignore[arg-type]
        if (
            len(parts) == 3
            and parts[2] in ("features", "status", "session")
            and _ID_RE.match(parts[0])
            and _ID_RE.match(parts[1])
        ):
            return TopicAddress(parts[2], WearerId(parts[0]), DeviceId(parts[1]))  # type: ignore[arg-type]
        raise WireError(f"topic {topic!r} is not a Kinetic {WIRE_VERSION} topic")


def check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise WireError(f"id {value!r} must match {ID_PATTERN} (lower-case letters, digits, '-', '_')")
    return value


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad field: 'frames.3.t_ms: Input should be ...'; a time in milliseconds that is out of
    range says which unit it would be in ('... as microseconds it is 2025-11-27T08:00:00Z')."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "value_error":  # a rule of ours: its own words, which name the field
            msg = str(err.get("ctx", {}).get("error", msg))
            if not loc:
                parts.append(msg)
                continue
        loc = loc or "payload"
        if err["type"] in _NUMBER_TYPES and isinstance(err["input"], bool | str):
            msg = _not_a_number(err["input"], err["type"])
        elif (
            err["loc"]
            and str(err["loc"][-1]).endswith("_ms")
            and err["type"] in ("greater_than_equal", "less_than_equal")
        ):
            msg = describe_epoch_ms(err["input"])
        parts.append(f"{loc}: {msg}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


_NUMBER_TYPES = {"int_type": "an integer", "float_type": "a number"}


def _not_a_number(value: bool | str, error_type: str) -> str:
    expected = _NUMBER_TYPES[error_type]
    if isinstance(value, bool):
        return f"{str(value).lower()} is a boolean; expected {expected}"
    return f"{value[:20]!r} is text; expected {expected} (a JSON number, not in quotes)"


_UNITS = (("seconds", 1000.0), ("microseconds", 1e-3), ("nanoseconds", 1e-6))


def describe_epoch_ms(value: object) -> str:
    """Why ``value`` is not a plausible epoch-milliseconds time, naming the unit it looks like it is in."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return f"{value!r}"[:40] + " is not Unix epoch milliseconds"
    if not -1e21 < value < 1e21:  # no unit makes it a time (nanoseconds of 2100 are 4.1e18); may not fit a float
        text = str(value) if isinstance(value, float) else f"a number of {len(str(abs(value)))} digits"
        return f"{text} is not Unix epoch milliseconds from 2015 to 2100"
    for unit, to_ms in _UNITS:
        if EARLIEST_MS <= value * to_ms <= LATEST_MS:
            when = datetime.fromtimestamp(value * to_ms / 1000, UTC).isoformat()
            return f"{value} is not Unix epoch milliseconds from 2015 to 2100 (as {unit} it is {when})"
    return f"{value} is not Unix epoch milliseconds from 2015 to 2100"


class _Timed(Protocol):
    @property
    def t_ms(self) -> int: ...


F = TypeVar("F", bound=_Timed)


@cache  # said once per process, at the first time it matters
def _say_host_clock_unset() -> None:
    _LOGGER.warning(
        "this host's clock is outside 2015..2100: it is not set yet (no real-time clock, NTP not answered), so "
        "received times are not judged against it; KINETIC_CLOCK__MAX_AHEAD_S applies again once it is set"
    )


def ahead_limit_ms(now_ms: int, max_ahead_ms: int | None) -> int | None:
    """The latest time (Unix epoch ms) a receiver whose clock reads ``now_ms`` (Unix epoch ms) takes:
    ``now_ms + max_ahead_ms``. None means no limit: ``max_ahead_ms`` None (replays of future-dated scenarios), or a
    host clock outside ``EARLIEST_MS`` .. ``LATEST_MS``, which is not set yet (a Raspberry Pi without a real-time
    clock boots at 1970 until NTP answers) and so is no judge of what lies ahead; that is logged once. Every
    service's "ahead" check goes through here (``frames_not_ahead``, ``time_ahead_problem``)."""
    if max_ahead_ms is None:
        return None
    if not EARLIEST_MS <= now_ms <= LATEST_MS:
        _say_host_clock_unset()
        return None
    return now_ms + max_ahead_ms


def frames_not_ahead(frames: Sequence[F], now_ms: int, max_ahead_ms: int | None) -> tuple[list[F], str | None]:
    """A batch's frames that are at most ``max_ahead_ms`` ahead of ``now_ms`` (the receiver's clock), and the
    reason the others were refused (None when none was). Each frame is judged on its own: one frame stamped a day
    ahead in the middle of a batch costs that frame, not the frames after it. No limit (``ahead_limit_ms``):
    ``max_ahead_ms`` None (replays of future-dated scenarios) or a host clock not set."""
    limit = ahead_limit_ms(now_ms, max_ahead_ms)
    if limit is None:
        return list(frames), None
    kept = [frame for frame in frames if frame.t_ms <= limit]
    if len(kept) == len(frames):
        return kept, None
    first = next(frame for frame in frames if frame.t_ms > limit)
    ahead_s = (first.t_ms - now_ms) / 1000
    reason = (
        f"{len(frames) - len(kept)} of {len(frames)} frames refused: t_ms {first.t_ms} is {ahead_s:.0f} s ahead of "
        "this host's clock (KINETIC_CLOCK__MAX_AHEAD_S)"
    )
    return kept, reason


def message_time(message: BaseModel) -> tuple[str, int] | None:
    """The time a status, collector status, prompt, event or command is stamped with, as (its field's name, Unix
    epoch ms); None for a message without one (a status without ``t_ms``, a feature batch: its frames each have
    theirs, ``frames_not_ahead``)."""
    if isinstance(message, DeviceStatusV1 | CollectorStatusV1):
        return None if message.t_ms is None else ("t_ms", message.t_ms)
    if isinstance(message, PromptV1):
        return "created", round(message.created.timestamp() * 1000)
    if isinstance(message, EventV1):
        return "t", round(message.t.timestamp() * 1000)
    if isinstance(message, CommandV1):
        return "at", round(message.at.timestamp() * 1000)
    return None


def time_ahead_problem(message: BaseModel, now_ms: int, max_ahead_ms: int | None) -> str | None:
    """Why a status, collector status, prompt, event or command stamped more than ``max_ahead_ms`` ahead of
    ``now_ms`` (the receiver's clock, Unix epoch ms) is refused whole, naming the field; None when it is not (or no
    limit applies: ``ahead_limit_ms``). The rule frames meet one by one in ``frames_not_ahead``: a time from the
    future would move what the services keep for today (a summary stored for tomorrow, a wearer's clock a day on)."""
    stamped = message_time(message)
    limit = ahead_limit_ms(now_ms, max_ahead_ms)
    if stamped is None or limit is None or stamped[1] <= limit:
        return None
    name, t_ms = stamped
    shown = t_ms if name == "t_ms" else datetime.fromtimestamp(t_ms / 1000, UTC).isoformat()
    return (
        f"{type(message).__name__} {name} {shown} is {(t_ms - now_ms) / 1000:.0f} s ahead of this host's clock "
        "(KINETIC_CLOCK__MAX_AHEAD_S)"
    )


_PAYLOAD_MODELS: dict[str, type[_Model]] = {
    "features": FeatureBatchV1,
    "status": DeviceStatusV1,
    "prompts": PromptV1,
    "events": EventV1,
    "consent": EventV1,
    "prescriptions": EventV1,
    "commands": CommandV1,
    "policy": PolicyV1,
    "erasure": CommandV1,
    "collector": CollectorStatusV1,
    "deadletter": DeadLetterV1,
    "session": SessionSamplesV1,
}

Payload = (
    FeatureBatchV1
    | DeviceStatusV1
    | PromptV1
    | EventV1
    | CommandV1
    | PolicyV1
    | CollectorStatusV1
    | DeadLetterV1
    | SessionSamplesV1
)


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
    too_large = payload_problem(payload)
    if too_large is not None:
        raise WireError(too_large)
    try:
        message = model.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        raise WireError(f"invalid {model.__name__}: {describe_validation_error(exc)}") from exc
    wearer = getattr(message, "wearer", None)
    if address.wearer is not None and wearer != address.wearer:
        raise WireError(f"payload wearer {wearer!r} does not match topic wearer {address.wearer!r}")
    sender_problem = _own_topic_problem(address, message)
    if sender_problem is not None:
        raise WireError(sender_problem)
    device = getattr(message, "device", None)
    if address.device is not None and device != address.device:
        raise WireError(f"payload device {device!r} does not match topic device {address.device!r}")
    return message  # type: ignore[return-value]


def _own_topic_problem(address: TopicAddress, message: _Model) -> str | None:
    """What must not be forged travels on a topic of its own, and that topic carries nothing else: the broker
    restricts topics, not a message's kind, and an MQTT 3.1.1 message names no sender (docs/privacy.md, "What the
    MQTT ACL cannot restrict"). A consent change is taken from the wearer's consent topic only (a consent event on the
    events topic, which the alert service, the web app and clinicians may write, would be a forgery); a ``forget``
    from the wearer's erasure topic only (one on the commands topic, which the alert service, the web app and Home
    Assistant may write, would be); a prescription change or proposal from the wearer's prescriptions topic only
    (one on the events topic, which the alert service and the web app may write, would be)."""
    if isinstance(message, CommandV1):
        if address.kind == "commands" and message.kind == "forget":
            return "forget on a commands topic: erasure is taken from <root>/v1/<wearer>/erasure only"
        if address.kind == "erasure" and message.kind != "forget":
            return f"{message.kind} on an erasure topic: it carries forget only"
        return None
    if not isinstance(message, EventV1):
        return None
    if address.kind == "events" and message.consent is not None:
        return f"{message.kind} on an events topic: consent changes are taken from <root>/v1/<wearer>/consent only"
    if address.kind == "consent" and message.consent is None:
        return f"{message.kind} on a consent topic: it carries consent_granted / consent_withdrawn only"
    if address.kind == "events" and message.kind in PRESCRIPTION_KINDS:
        return (
            f"{message.kind} on an events topic: prescription changes are taken from <root>/v1/<wearer>/prescriptions "
            "only"
        )
    if address.kind == "prescriptions" and message.kind not in PRESCRIPTION_KINDS:
        return f"{message.kind} on a prescriptions topic: it carries {' / '.join(PRESCRIPTION_KINDS)} only"
    return None


def decode_salvaging(address: TopicAddress, payload: bytes) -> tuple[Payload, str | None]:
    """``decode_at``, except that a feature batch whose envelope is valid keeps its valid frames: each frame that
    breaks a rule (a field type, a time out of range, a gravity vector without direction) or does not come after
    the frame before it (a repeat, out of order) is left out, and the reason names how many and the first. Returns
    the message and that reason (None when nothing was left out). Raises WireError when nothing can be kept: a
    bad envelope, or no good frame. One bad second from a sensor never costs the seconds beside it."""
    try:
        return decode_at(address, payload), None
    except WireError as exc:
        if address.kind != "features":
            raise
        salvaged = _salvage_frames(payload)
        if salvaged is None:
            raise
        batch, refused, first = salvaged
        try:
            message = decode_at(address, encode(batch))
        except WireError:
            raise exc from None
        return message, f"{refused} of {refused + len(batch.frames)} frames refused (first: {first})"


def _salvage_frames(payload: bytes) -> tuple[FeatureBatchV1, int, str] | None:
    """The batch with only its good frames, how many were left out and why the first was; None if none is good
    or the envelope is not a batch's."""
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("frames"), list):
        return None
    kept: list[FeatureFrameV1] = []
    first: str | None = None
    last_ms: int | None = None
    held: FeatureFrameV1 | None = None
    held_at = 0
    for i, item in enumerate(raw["frames"]):
        at = i  # the frame a problem is about
        try:
            frame = FeatureFrameV1.model_validate_json(json.dumps(item, allow_nan=True), strict=True)
        except ValidationError as exc:
            problem: str | None = f"frames.{i}: {describe_validation_error(exc)}"
        else:
            problem = batch_problem([frame])
            if problem is None:  # in the device's order, as every receiver takes it (ingest/order.py)
                held_before = held
                last_ms, held, admitted = admit(last_ms, held, frame)
                kept += admitted.frames
                if held is frame:
                    held_at = i
                if admitted.refused is not None and held_before is not None:
                    problem, at = admitted.reason, held_at  # named as the frame it is about
                elif admitted.stale:
                    before = kept[-1].t_ms if kept else last_ms
                    problem = f"t_ms {frame.t_ms} does not come after {before} (repeated or out of order)"
            if problem is not None:
                problem = f"frames.{at}{problem[len('frames.0') :]}" if problem.startswith("frames.0") else problem
                problem = problem if problem.startswith("frames.") else f"frames.{at}: {problem}"
        if problem is not None and first is None:
            first = problem
    if held is not None:  # the batch's last frame jumped ahead: the receiver's order decides with the next batch
        kept.append(held)
    if not kept or first is None:
        return None
    envelope = {key: value for key, value in raw.items() if key != "frames"}
    try:
        batch = FeatureBatchV1.model_validate({**envelope, "frames": kept}, strict=True)
    except ValidationError:
        return None
    return batch, len(raw["frames"]) - len(kept), first


def encode(message: _Model) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()
