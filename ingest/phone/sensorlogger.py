"""Sensor Logger messages -> samples in Kinetic's units and axes -> per-second frames -> wire batches. Pure: no I/O,
no clock reads (the receiver's clock, where there is one, arrives as an argument).

The app (iOS and Android, github.com/tszheichoi/awesome-sensor-logger) streams a recording as JSON, the same schema
by HTTP push and by MQTT (PUSHING.md)::

    {"messageId": 0, "sessionId": "...", "deviceId": "...",
     "payload": [{"name": "accelerometer", "time": 1698501144401773000, "values": {"x": .., "y": .., "z": ..}}, ...]}

``messageId`` counts the messages of a recording (``sessionId``); ``time`` is UTC epoch nanoseconds of the phone's
clock. What Kinetic takes from it (UNITS.md, COORDINATES.md, CROSSPLATFORM.md):

- ``totalacceleration`` (Android: the raw accelerometer, gravity included), ``accelerometer`` (gravity removed) and
  ``gravity``, all in m/s^2 with g = 9.80665 m/s^2. Kinetic's samples are the acceleration with gravity, in g, in
  the Android convention (a phone lying on its back reads +1 g on z), which is what Kinetic's other sensors report.
  Without ``totalacceleration`` a sample is ``accelerometer`` + the latest ``gravity`` (iOS logs no total
  acceleration).
- iOS and Android differ by a sign on all three axes of acceleration and gravity, unless the app's "Standardise
  Units & Frames" setting (version 1.29) is on, which makes iOS report Android's convention: ``ios_axes`` says the
  values arrive in iOS's convention (an iPhone with that setting off) and are negated.
- A second's gravity direction (``gx, gy, gz`` of the frame) is the mean of the ``gravity`` sensor's readings in it
  when the phone sends them, else the one-second mean of the total acceleration (``ingest.features``).
- ``battery`` (``batteryLevel``, 0 to 1) goes into the device status. ``activity`` (the phone's motion activity,
  UNITS.md: walking, running, cycling, automotive, stationary, tilting or unknown, with a confidence low, medium,
  high or unknown) marks each second from its time on until the next activity reading: ``activity: "automotive"`` on
  the frames while the latest says automotive with medium or high confidence (the alert service holds prompts while
  driving, docs/prompts.md). Every other sensor the app has is ignored and counted (``unused_readings``); a name
  Kinetic does not know is counted apart (``unknown_readings``).

Per-second features and batches are the BLE collector's (``ingest.ble.aggregate``: ``SecondAggregator``,
``Batcher``), so a phone's frames are made exactly as a wearable's. Messages: a ``messageId`` already taken in this
recording (the app or a proxy sending again) is a repeat, dropped and counted like a repeated BLE notification; one
older than the newest taken came out of order and is dropped too (its seconds were already made); ids skipped are
counted as missing messages (``missing_messages``: MQTT at QoS 0 or a push that never arrived). Times: each reading's
``time`` must be epoch nanoseconds from 2015 to 2100 (``ingest.wire``'s range; the reason names the unit it looks
like), and a phone clock that disagrees with the receiver's by more than ``PhoneClock.trust_ms`` is mapped onto the
receiver's (``PhoneClock``). A motion reading stamped apart from the rest of its message (more than
``GLITCH_GAP_MS``: one reading a day ahead) is a glitch of that reading, refused and counted (``time_glitches``).
"""

from __future__ import annotations

import bisect
import json
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeGuard

from ingest.ble.aggregate import Batcher, SecondAggregator
from ingest.ble.profiles.repeats import RepeatFilter
from ingest.errors import DecodeError
from ingest.wire import EARLIEST_MS, LATEST_MS, FeatureBatchV1, FeatureFrameV1, Placement

STANDARD_GRAVITY_MS2 = 9.80665  # UNITS.md: the app assumes g = 9.80665 m/s^2
MAX_READINGS = 100_000  # per message: 60 s batches of 4 sensors at 100 Hz are 24,000; more is no phone's
MAX_ACCELERATION_MS2 = 2_000.0  # about 200 g: no phone's accelerometer reaches it (most saturate at 8-16 g)
MAX_ID_CHARACTERS = 200
MAX_GRAVITY_AGE_MS = 1_000  # an accelerometer reading takes the latest gravity reading no older than this
# Within one message the motion sensors' readings run on without a pause (50-100 Hz, one push period). A motion
# reading this far from the rest of its message (a day ahead, a year back) is a clock glitch of that reading: it
# is refused, so it moves neither the clock map nor the seconds around it. As long as the Polar clock map's step.
GLITCH_GAP_MS = 10_000

MOTION_SENSORS = frozenset({"accelerometer", "gravity", "totalacceleration"})
STATUS_SENSORS = frozenset({"battery"})
ACTIVITIES = frozenset({"walking", "running", "cycling", "automotive", "stationary", "tilting", "unknown"})
CONFIDENCES = frozenset({"low", "medium", "high", "unknown"})
MAX_ACTIVITY_CHANGES = 1024  # activity readings kept to mark the seconds still to come (one a second for 17 min)
# Other sensors the app has (README, UNITS.md): ignored, counted apart from names nobody documented.
UNUSED_SENSORS = frozenset(
    {
        "accelerometeruncalibrated",
        "annotation",
        "barometer",
        "batterytemp",
        "bluetooth",
        "bluetoothmetadata",
        "brightness",
        "camera",
        "compass",
        "gyroscope",
        "gyroscopeuncalibrated",
        "headphone",
        "heartrate",
        "light",
        "location",
        "magnetometer",
        "magnetometeruncalibrated",
        "microphone",
        "network",
        "orientation",
        "pedometer",
        "watchbarometer",
        "watchcompass",
        "watchlocation",
        "watchmagnetometer",
        "watchmicrophone",
        "wifi",
        "wristmotion",
    }
)

Platform = Literal["ios", "android"]


class SensorLoggerError(DecodeError):
    """A Sensor Logger message that cannot be used at all (not JSON, not the app's envelope, too many readings).
    One bad reading never raises: it is left out and counted."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of one sensor: ``name`` lower-case as the app sends it, ``t_ns`` UTC epoch nanoseconds (phone
    clock), ``values`` as sent (m/s^2 for the motion sensors)."""

    name: str
    t_ns: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One message as the app sends it by HTTP push or MQTT; ``refused`` readings were left out, ``first_refusal``
    says why the first was, ``refused_items`` are those readings as sent (JSON values, for the dead letter)."""

    message_id: int
    session_id: str
    device_id: str
    readings: list[Reading]
    refused: int = 0
    first_refusal: str | None = None
    refused_items: tuple[object, ...] = ()


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def describe_epoch_ns(value: object) -> str:
    """Why ``value`` is not plausible UTC epoch nanoseconds (2015 to 2100), naming the unit it looks like."""
    if not _is_number(value) or not -1e30 < value < 1e30:
        return f"{str(value)[:40]} is not UTC epoch nanoseconds"
    for unit, to_ms in (("milliseconds", 1.0), ("microseconds", 1e-3), ("seconds", 1000.0)):
        ms = value * to_ms
        if EARLIEST_MS <= ms <= LATEST_MS:
            when = datetime.fromtimestamp(ms / 1000, UTC).isoformat()
            return f"{value} is not UTC epoch nanoseconds from 2015 to 2100 (as {unit} it is {when})"
    return f"{value} is not UTC epoch nanoseconds from 2015 to 2100"


def epoch_ns(value: object) -> int | str:
    """``value`` as UTC epoch nanoseconds (an integer, or a string of digits as in the JSON export), or the reason
    it is not one."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) <= 40:
        value = int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e30:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{str(value)[:40]!s} is not UTC epoch nanoseconds (an integer)"
    if not EARLIEST_MS * 1_000_000 <= value <= LATEST_MS * 1_000_000:
        return describe_epoch_ns(value)
    return value


def parse_reading(item: object) -> Reading | str:
    """One element of ``payload`` -> a Reading, or the reason it cannot be used. Motion sensors need finite x, y, z
    below ``MAX_ACCELERATION_MS2``; a battery reading needs ``batteryLevel`` from 0 to 1. Other sensors' values
    are not looked at."""
    if not isinstance(item, dict):
        return f"a reading must be an object with name, time and values, not {type(item).__name__}"
    name = item.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        return "name: a sensor name (text of 1 to 64 characters) expected"
    name = name.lower()
    t_ns = epoch_ns(item.get("time"))
    if isinstance(t_ns, str):
        return f"{name} time: {t_ns}"
    values = item.get("values")
    if not isinstance(values, dict):
        return f"{name} values: an object expected"
    if name in MOTION_SENSORS:
        for axis in ("x", "y", "z"):
            v = values.get(axis)
            if not _is_number(v) or not math.isfinite(v) or abs(v) > MAX_ACCELERATION_MS2:
                return f"{name} {axis}: {str(v)[:40]} is not an acceleration in m/s^2 (|a| <= {MAX_ACCELERATION_MS2:g})"
    elif name == "battery":
        level = values.get("batteryLevel")
        if not _is_number(level) or not 0.0 <= level <= 1.0:
            return f"battery batteryLevel: {str(level)[:40]} is not a charge level from 0 to 1"
    elif name == "activity":
        activity, confidence = values.get("activity"), values.get("confidence", "unknown")
        if activity not in ACTIVITIES:
            return f"activity activity: {str(activity)[:40]} is not one of {', '.join(sorted(ACTIVITIES))}"
        if confidence not in CONFIDENCES:
            return f"activity confidence: {str(confidence)[:40]} is not one of {', '.join(sorted(CONFIDENCES))}"
    return Reading(name, t_ns, values)


def decode_message(payload: bytes) -> PushMessage:
    """The bytes of one HTTP push body or MQTT message -> a PushMessage. Raises SensorLoggerError, one line naming
    what is wrong, when the envelope cannot be used (not JSON; messageId, sessionId, deviceId or payload missing or
    of the wrong kind; more than ``MAX_READINGS`` readings). A bad reading is left out and counted, never raises.
    Fields Kinetic does not use are ignored: the app may add some in a later version."""
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise SensorLoggerError(f"not JSON ({str(exc)[:120]})") from None
    if not isinstance(raw, dict):
        raise SensorLoggerError(f"a message must be a JSON object, not {type(raw).__name__}")
    message_id = raw.get("messageId")
    if not isinstance(message_id, int) or isinstance(message_id, bool) or not 0 <= message_id < 2**63:
        raise SensorLoggerError(f"messageId: {str(message_id)[:40]} is not a message counter (an integer >= 0)")
    ids = []
    for key in ("sessionId", "deviceId"):
        value = raw.get(key)
        if not isinstance(value, str) or len(value) > MAX_ID_CHARACTERS:
            raise SensorLoggerError(f"{key}: text of at most {MAX_ID_CHARACTERS} characters expected")
        ids.append(value)
    items = raw.get("payload")
    if not isinstance(items, list):
        raise SensorLoggerError("payload: a list of readings expected")
    if len(items) > MAX_READINGS:
        raise SensorLoggerError(f"payload: {len(items)} readings in one message (at most {MAX_READINGS})")
    readings: list[Reading] = []
    refused: list[object] = []
    first = None
    for i, item in enumerate(items):
        reading = parse_reading(item)
        if isinstance(reading, str):
            refused.append(item)
            first = first or f"payload.{i}: {reading}"
        else:
            readings.append(reading)
    return PushMessage(message_id, ids[0], ids[1], readings, len(refused), first, tuple(refused))


def time_glitches(readings: Sequence[Reading]) -> list[int]:
    """Indexes of the motion readings of one message that lie apart from the rest of it: its motion readings in
    time order split where two are more than ``GLITCH_GAP_MS`` apart, the run with the most readings (the latest of
    equals) is the message, every other reading is a clock glitch. Empty for a message without such a gap."""
    motion = sorted((r.t_ns, i) for i, r in enumerate(readings) if r.name in MOTION_SENSORS)
    gap_ns = GLITCH_GAP_MS * 1_000_000
    runs: list[list[int]] = []
    previous: int | None = None
    for t_ns, i in motion:
        if previous is None or t_ns - previous > gap_ns:
            runs.append([])
        runs[-1].append(i)
        previous = t_ns
    if len(runs) < 2:
        return []
    main = max(range(len(runs)), key=lambda k: (len(runs[k]), k))
    return sorted(i for k, run in enumerate(runs) if k != main for i in run)


def glitch_reason(reading: Reading) -> str:
    """Why ``reading`` was refused as a clock glitch (``time_glitches``), naming what is expected."""
    return (
        f"{reading.name} time {reading.t_ns} lies more than {GLITCH_GAP_MS // 1000} s from the rest of the message "
        "(a clock glitch): expected the times of one push period"
    )


@dataclass
class PhoneClock:
    """The phone's clock -> the receiver's, when they disagree. Sensor Logger stamps readings with the phone's
    clock (optionally corrected by NTP); a phone set to a wrong time would otherwise send seconds that the services
    refuse as lying in the future, or that arrive as hours-old data.

    The offset receiver - phone is estimated per message from its newest reading and its arrival, and the smallest
    over the last ``window`` messages is kept: delivery only ever delays a message, so the smallest is the closest
    to the truth (the Polar clock map's rule, ``ingest.ble.profiles.polar_pmd.ClockMap``). Within ``trust_ms`` the
    phone's own times are used unchanged (a phone's clock is usually right to well under a second, and its own
    stamps are the precise ones); beyond it every reading is moved by the offset, counted in ``mapped_messages``. A
    phone clock that is set back shows as a step back in sample time, which ``SecondAggregator`` follows."""

    window: int = 32
    trust_ms: int = 5_000
    mapped_messages: int = 0
    _offsets: deque[int] = field(default_factory=deque)

    def shift_ms(self, newest_ms: int, received_ms: int) -> int:
        """Milliseconds to add to the phone's times of a message whose newest reading is ``newest_ms`` (phone
        clock), received at ``received_ms`` (receiver's clock)."""
        self._offsets.append(received_ms - newest_ms)
        if len(self._offsets) > self.window:
            self._offsets.popleft()
        best = min(self._offsets)
        if abs(best) <= self.trust_ms:
            return 0
        self.mapped_messages += 1
        return best


@dataclass
class PhoneCounters:
    messages: int = 0  # messages taken
    repeated_messages: int = 0  # the same messageId of the same recording again: dropped
    late_messages: int = 0  # a messageId older than the newest taken (out of order): dropped
    missing_messages: int = 0  # messageIds skipped: lost on the way (QoS 0, a failed push)
    recordings: int = 0  # sessionIds seen
    readings: int = 0  # readings taken (all sensors)
    refused_readings: int = 0  # bad readings (a time in the wrong unit, a value that is no acceleration)
    unused_readings: int = 0  # documented sensors Kinetic does not use (gyroscope, location, ...)
    unknown_readings: int = 0  # sensor names the app's documentation does not list
    no_gravity: int = 0  # accelerometer readings without total acceleration or a gravity reading to add
    samples: int = 0  # acceleration samples (with gravity) made
    frames: int = 0
    refused_frames: int = 0  # seconds the wire contract refuses
    clock_steps: int = 0  # sample time went back by more than a late reading can
    batches: int = 0


@dataclass
class PhoneStream:
    """One phone of one wearer: messages (or an export's readings) in, feature batches out.

    ``add_message`` for live messages (``received_ms``: the receiver's clock, for ``PhoneClock``); ``add_readings``
    for readings whose times are already right (an export replayed). ``flush`` at the end gives what is held."""

    wearer: str
    device: str
    placement: Placement
    batch_s: int = 10
    ios_axes: bool = False
    counters: PhoneCounters = field(default_factory=PhoneCounters)
    clock: PhoneClock = field(default_factory=PhoneClock)
    battery_pct: int | None = None
    last_refusal: str | None = None  # the reason the last refused reading or frame was refused
    # the readings of the last message ``add_message`` refused as clock glitches (``time_glitches``); empty for a
    # message dropped whole (a repeat, a late one), whose readings were not looked at
    last_glitches: list[Reading] = field(default_factory=list)
    # each acceleration sample (ms, (x, y, z) in g, gravity included) as it is made: what ``kinetic evaluate``
    # scores an export on, so it sees exactly the samples a live phone would give
    on_sample: Callable[[int, tuple[float, float, float]], None] | None = None

    def __post_init__(self) -> None:
        self._aggregator = SecondAggregator()
        self._batcher = Batcher(self.wearer, self.device, self.placement, self.batch_s)
        self._repeats: RepeatFilter[tuple[str, int]] = RepeatFilter(memory=1024)
        self._newest: dict[str, int] = {}  # recording -> newest messageId taken
        self._recordings: deque[str] = deque(maxlen=64)
        self._gravity: tuple[int, tuple[float, float, float]] | None = None  # latest gravity reading (ms, g)
        self._gravity_seconds: dict[int, list[float]] = {}  # second -> [sum x, sum y, sum z, n] of gravity, in g
        self._sign = -1.0 if self.ios_axes else 1.0
        self._activity: list[tuple[int, bool]] = []  # (ms, in a vehicle) of the activity readings, in time order

    def add_message(self, message: PushMessage, received_ms: int | None = None) -> list[FeatureBatchV1]:
        """A live message -> the batches it completes. Repeats and messages older than the newest taken are dropped
        (counted); ``received_ms`` (None: no receiver clock, times used as they are) maps a wrong phone clock."""
        session, message_id = message.session_id, message.message_id
        self.last_glitches = []
        if self._repeats.is_repeat((session, message_id), 0):
            self.counters.repeated_messages += 1
            return []
        newest = self._newest.get(session)
        # older than the newest taken, or from an earlier recording after a newer one started: late
        if (newest is not None and message_id < newest) or (newest is None and session in self._recordings):
            self.counters.late_messages += 1
            return []
        if newest is None:
            self.counters.recordings += 1
            self._newest.clear()  # a new recording: the app starts counting again
            self._recordings.append(session)
        elif message_id > newest + 1:
            self.counters.missing_messages += message_id - newest - 1
        self._newest[session] = message_id
        self.counters.messages += 1
        self.counters.refused_readings += message.refused
        if message.first_refusal is not None:
            self.last_refusal = message.first_refusal
        readings = message.readings
        glitches = time_glitches(readings)
        if glitches:  # the reading costs only itself: the clock map and the seconds around it go on
            first = readings[glitches[0]]
            self.counters.refused_readings += len(glitches)
            self.last_refusal = (
                f"{len(glitches)} of {len(readings)} readings of message {message_id} refused: {glitch_reason(first)}"
            )
            dropped = set(glitches)
            self.last_glitches = [readings[i] for i in glitches]
            readings = [r for i, r in enumerate(readings) if i not in dropped]
        shift = 0
        if received_ms is not None and readings:
            # the motion readings' times are the ones used; another sensor's (a location fix) may be old or odd
            timed = [r for r in readings if r.name in MOTION_SENSORS] or readings
            newest_ms = max(r.t_ns for r in timed) // 1_000_000
            shift = self.clock.shift_ms(newest_ms, received_ms)
        return self.add_readings(readings, shift)

    def add_readings(self, readings: Sequence[Reading], shift_ms: int = 0) -> list[FeatureBatchV1]:
        """Readings (any sensors, any order) -> the batches they complete; ``shift_ms`` is added to every time."""
        motion: list[tuple[int, int, str, tuple[float, float, float]]] = []
        has_total = False
        sign, g0 = self._sign, STANDARD_GRAVITY_MS2
        for reading in readings:
            self.counters.readings += 1
            name = reading.name
            if name in MOTION_SENSORS:
                v = reading.values
                g = (sign * v["x"] / g0, sign * v["y"] / g0, sign * v["z"] / g0)
                t_ms = reading.t_ns // 1_000_000 + shift_ms
                # gravity before acceleration of the same time (iOS stamps both from one device-motion update)
                motion.append((t_ms, 0 if name == "gravity" else 1, name, g))
                has_total = has_total or name == "totalacceleration"
            elif name == "battery":
                self.battery_pct = round(float(reading.values["batteryLevel"]) * 100)
            elif name == "activity":
                v = reading.values
                driving = v["activity"] == "automotive" and v.get("confidence") in ("medium", "high")
                bisect.insort(self._activity, (reading.t_ns // 1_000_000 + shift_ms, driving))
                del self._activity[:-MAX_ACTIVITY_CHANGES]
            elif name in UNUSED_SENSORS:
                self.counters.unused_readings += 1
            else:
                self.counters.unknown_readings += 1
        motion.sort(key=lambda m: (m[0], m[1]))
        frames: list[FeatureFrameV1] = []
        steps = self._aggregator.clock_steps
        for t_ms, _, name, g in motion:
            if name == "gravity":
                self._gravity = (t_ms, g)
                acc = self._gravity_seconds.setdefault(t_ms // 1000, [0.0, 0.0, 0.0, 0.0])
                acc[0] += g[0]
                acc[1] += g[1]
                acc[2] += g[2]
                acc[3] += 1
                continue
            if name == "totalacceleration":
                sample = g
            elif has_total:
                continue  # Android sent its raw accelerometer too: that is the sample
            elif self._gravity is None or abs(t_ms - self._gravity[0]) > MAX_GRAVITY_AGE_MS:
                self.counters.no_gravity += 1
                continue
            else:
                gravity = self._gravity[1]
                sample = (g[0] + gravity[0], g[1] + gravity[1], g[2] + gravity[2])
            self.counters.samples += 1
            if self.on_sample is not None:
                self.on_sample(t_ms, sample)
            frames += self._aggregator.add(t_ms, sample)
        self.counters.clock_steps += self._aggregator.clock_steps - steps
        return self._batches(frames)

    def flush(self) -> list[FeatureBatchV1]:
        """The second held and the frames not yet batched (end of a recording, a stop)."""
        return self._batches(self._aggregator.flush()) + self._count(self._batcher.flush())

    def _batches(self, frames: list[FeatureFrameV1]) -> list[FeatureBatchV1]:
        frames = [self._with_activity(self._with_gravity_sensor(frame)) for frame in frames]
        if frames:  # the gravity of seconds already made is no longer needed
            done = frames[-1].t_ms // 1000
            for second in [s for s in self._gravity_seconds if s <= done]:
                del self._gravity_seconds[second]
        if len(self._gravity_seconds) > 600:  # gravity without acceleration: keep the last ten minutes' worth
            for second in sorted(self._gravity_seconds)[:-600]:
                del self._gravity_seconds[second]
        self.counters.frames += len(frames)
        refused = self._batcher.refused
        batches = self._batcher.add(frames)
        if self._batcher.refused > refused:
            self.counters.refused_frames += self._batcher.refused - refused
            self.last_refusal = self._batcher.last_refusal
        return self._count(batches)

    def _count(self, batches: list[FeatureBatchV1]) -> list[FeatureBatchV1]:
        self.counters.batches += len(batches)
        return batches

    def _with_activity(self, frame: FeatureFrameV1) -> FeatureFrameV1:
        """The frame marked ``automotive`` when the latest activity reading up to its second's end says so."""
        at = bisect.bisect_right(self._activity, (frame.t_ms + 999, True))
        if at == 0 or not self._activity[at - 1][1]:
            return frame
        return frame.model_copy(update={"activity": "automotive"})

    def _with_gravity_sensor(self, frame: FeatureFrameV1) -> FeatureFrameV1:
        """The frame with the gravity sensor's mean over its second as the gravity direction, when there is one."""
        acc = self._gravity_seconds.get(frame.t_ms // 1000)
        if acc is None or acc[3] == 0:
            return frame
        n = acc[3]
        gx, gy, gz = (max(-16.0, min(16.0, acc[i] / n)) for i in range(3))
        return frame.model_copy(update={"gx": gx, "gy": gy, "gz": gz})
