"""One wearer, one second: the primary sensor's posture -> the wearer's posture (thigh + trunk fusion) -> bouts and
exposures -> hourly summaries. Pure; time comes from the frames.

The most informative sensor a wearer wears drives the bouts (thigh, then trunk, then wrist:
sedentary-science.md s3); a trunk sensor worn with a thigh sensor adds lying (fusion) and the lean exposure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import msgspec

from alerts.detect.asymmetry import EPISODE_TOLERANCE_MS, ExposureSnapshot, LeanRun, LeanRunSnapshot
from alerts.detect.bouts import BoutEnded, BoutStarted, BoutTracker, TrackerSnapshot
from alerts.detect.device import DeviceSnapshot, DeviceState
from alerts.detect.posture import Posture, fuse, inclination_deg
from alerts.detect.structs import restore_fields
from alerts.detect.summary import HourSnapshot, HourSummary, StillSeconds, local_hour, local_hour_start_ms
from alerts.detect.transitions import SitStandSnapshot, SitStandState
from ingest.wire import FeatureFrameV1, Placement, Trigger

PLACEMENT_RANK: dict[Placement, int] = {"thigh": 0, "trunk": 1, "wrist": 2}
# How far apart in event time a thigh second and its trunk partner's latest second may be to be fused.
FUSION_WINDOW_MS = 15_000

BoutChange = BoutStarted | BoutEnded


@dataclass(slots=True)  # not frozen: made once a second, and a frozen dataclass's __init__ costs several times more
class WearerSecond:
    """What one second of the primary sensor changed for the wearer.

    ``changes`` are the bout changes in order, each with the posture that follows it (for an ended bout: the next
    bout's posture, or None); ``closed_hour`` is the hourly summary this second's hour replaced; ``lean_ended`` is
    (start_ms, end_ms) of a lean run that ended with this second; ``corrected_hours`` are hours closed earlier whose
    figures this second changed (seconds back-dated to not worn, a bout ending in them), to be published again.
    """

    t_ms: int
    posture: Posture
    changes: tuple[tuple[BoutChange, Posture | None], ...]
    closed_hour: HourSummary | None = None
    lean_ended: tuple[int, int] | None = None
    corrected_hours: tuple[HourSummary, ...] = ()


# The primary of a wearer known before their first frame (a pause or a threshold given before the sensor is on)
NO_SENSOR_YET = ""


# The explicit form of a wearer's detection in a format-2 snapshot (alerts/state.py, read only): the primary (its
# index among the sensors, or its name when it is none of them: a wearer known before their first frame), tracker,
# the sensors (name, sensor) in order, the current and the previous hour, the lean run, frames, the still run (since
# ms; per hour it touched: the hour, as 0 = the current one, 1 = the previous one or else in full, the postures counted
# and the exposure) and the held sitting/upright. Format 3 writes ``WearerDetection`` itself (its fields in order).
StillHourSnapshot = tuple[int | HourSnapshot, dict[str, int], ExposureSnapshot]
DetectionSnapshot = tuple[
    int | str,
    TrackerSnapshot,
    tuple[tuple[str, DeviceSnapshot], ...],
    HourSnapshot | None,
    HourSnapshot | None,
    LeanRunSnapshot,
    int,
    tuple[int, tuple[StillHourSnapshot, ...]] | None,
    SitStandSnapshot | None,
]


class WearerDetection(msgspec.Struct, array_like=True):
    """A wearer's sensors, bouts, current hour and lean run. A ``msgspec.Struct``: the alert service's snapshot
    writes it as the array of its fields in order (a field added, removed or moved changes the format); its still run
    names the hours it shares with it by their start (``alerts.detect.summary.HourRef``), so they are written once."""

    primary: str
    tracker: BoutTracker
    devices: dict[str, DeviceState] = msgspec.field(default_factory=dict)
    hour: HourSummary | None = None
    lean_run: LeanRun = msgspec.field(default_factory=LeanRun)
    frames: int = 0
    previous_hour: HourSummary | None = None  # the hour before ``hour``: a bout back-dated into it is counted there
    still: StillSeconds | None = None  # the primary sensor's current still run, as the hours counted it
    sit_stand: SitStandState | None = None  # the primary trunk sensor's held sitting/upright (made on first use)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a wearer's detection of a format-1 snapshot (a dataclass then, its still run naming its hours by
        the objects: the wearer's current and previous hour are named by their start now)."""
        restore_fields(self, state)
        if self.still is not None:
            held = [h for h in (self.hour, self.previous_hour) if h is not None]
            self.still.hours = [
                (next((h.hour_ms for h in held if h is ref), ref), counted, exposure)
                for ref, counted, exposure in self.still.hours
            ]

    @property
    def primary_device(self) -> DeviceState:
        return self.devices[self.primary]

    @classmethod
    def from_snapshot(cls, s: DetectionSnapshot) -> WearerDetection:
        """The detection of a format-2 snapshot."""
        hour, previous = s[3], s[4]
        still = None
        if s[7] is not None:
            still = StillSeconds(s[7][0])
            for ref, counted, exposure in s[7][1]:
                if isinstance(ref, int):
                    known = hour if ref == 0 else previous if ref == 1 else None
                    if known is None:
                        raise ValueError(f"a still run's hour {ref} refers to no hour of the snapshot")
                    still.hours.append((known.hour_ms, counted, exposure))
                else:
                    still.hours.append((ref, counted, exposure))
        devices = {name: DeviceState.from_snapshot(device) for name, device in s[2]}
        primary = s[0]
        if isinstance(primary, int):
            if not 0 <= primary < len(s[2]):
                raise ValueError(f"the primary sensor is number {primary} of {len(s[2])}")
            primary = s[2][primary][0]
        return cls(
            primary,
            BoutTracker.from_snapshot(s[1]),
            devices,
            hour,
            s[5],
            s[6],
            previous,
            still,
            None if s[8] is None else SitStandState.from_snapshot(s[8]),
        )

    def check(self) -> None:
        """Raise ``ValueError`` when a decoded detection does not hold together: its still run names an hour by a
        start that is neither its current nor its previous hour's."""
        if self.still is not None:
            held = {h.hour_ms for h in (self.hour, self.previous_hour) if h is not None}
            for ref, _, _ in self.still.hours:
                if isinstance(ref, int) and ref not in held:
                    raise ValueError(f"a still run's hour {ref} (ms) is none of the wearer's hours")

    def trunk_partner(self) -> DeviceState | None:
        """A trunk sensor beside a thigh primary (the posture is fused from both), None otherwise. Asked every second:
        a wearer with one sensor is answered without a search."""
        if len(self.devices) < 2 or self.devices[self.primary].placement != "thigh":
            return None
        for device in self.devices.values():
            if device.placement == "trunk":
                return device
        return None

    def device(self, name: str, placement: Placement, new_tracker: Callable[[], BoutTracker]) -> DeviceState:
        """The sensor ``name``, added on first sight; a more informative sensor that joins drives the bouts from
        then on (with a fresh tracker). The first sensor of a wearer known before any data (``NO_SENSOR_YET``: a
        command came first) becomes the primary."""
        device = self.devices.get(name)
        if device is None:
            primary = self.devices.get(self.primary)
            device = self.devices[name] = DeviceState(placement)
            if primary is None:
                self.primary = name
            elif PLACEMENT_RANK[placement] < PLACEMENT_RANK[primary.placement]:
                self.primary = name
                self.tracker = new_tracker()
                self.sit_stand = None
        return device

    def second(
        self,
        frame: FeatureFrameV1,
        device: DeviceState,
        posture: Posture,
        lean_limit_deg: float,
        zone: tzinfo,
        lean_episode_s: int,
        transitions: bool = False,
    ) -> WearerSecond:
        """One second of the primary sensor with its posture: fuse with a trunk partner, follow the bouts (a
        confirmed not-worn run is back-dated to where the stillness began), the hour and the lean run. The trunk's lean
        run counts beyond ``lean_limit_deg`` (the wearer's policy); hours are summarised with their local hour in
        ``zone`` and lean episodes of at least ``lean_episode_s``. With ``transitions``, a trunk sensor's sitting or
        upright is held from its postural transitions (``alerts.detect.transitions``)."""
        self.frames += 1
        if transitions and device.placement == "trunk":
            posture = self._held(frame, device, posture)
        partner = self.trunk_partner()
        if (
            partner is not None
            and partner.last_ms is not None
            and abs(partner.last_ms - frame.t_ms) <= FUSION_WINDOW_MS
            and posture not in ("not_worn", "unknown")
        ):
            posture = fuse(posture, partner.last_posture)
        if posture == "not_worn" and device.stillness.start_ms is not None:
            changes = self.tracker.switch_at(device.stillness.start_ms, "not_worn")
            changes += self.tracker.push(frame.t_ms, posture)
        else:
            changes = self.tracker.push(frame.t_ms, posture)

        closed = None
        hour_ms = local_hour_start_ms(frame.t_ms, zone)
        if self.hour is None or self.hour.hour_ms != hour_ms:
            dropped, closed = self.previous_hour, self.hour
            self.previous_hour = closed
            if dropped is not None and self.still is not None:
                self.still.detach(dropped)
            self.hour = HourSummary(hour_ms, lean_episode_s=lean_episode_s, local_hour=local_hour(hour_ms, zone))
        hour = self.hour
        hour.add_posture(posture)
        corrected = self._still_second(device, hour, posture)
        lean_ended = None
        if device.placement == "trunk":
            lean_ended = self._trunk_second(hour, device, frame, posture, lean_limit_deg)
        if not changes and not corrected:  # most seconds
            return WearerSecond(frame.t_ms, posture, (), closed, lean_ended)
        paired: list[tuple[BoutChange, Posture | None]] = []
        for i, change in enumerate(changes):
            following = changes[i + 1] if i + 1 < len(changes) else None
            next_posture = following.posture if isinstance(following, BoutStarted) else None
            if isinstance(change, BoutEnded):
                ended_in = self._hour_of(change.bout.end_ms)
                ended_in.add_bout(change.bout, next_posture)
                corrected.append(ended_in)
            paired.append((change, next_posture))
        again = tuple({id(h): h for h in corrected if h is not hour and h is not closed}.values())
        return WearerSecond(frame.t_ms, posture, tuple(paired), closed, lean_ended, again)

    def _held(self, frame: FeatureFrameV1, device: DeviceState, posture: Posture) -> Posture:
        if self.sit_stand is None:
            self.sit_stand = SitStandState()
        known = device.calibration.mounting_known
        incl = inclination_deg(frame, device.calibration.reference) if known else None
        return self.sit_stand.second(frame, posture, incl)

    def _still_second(self, device: DeviceState, hour: HourSummary, posture: Posture) -> list[HourSummary]:
        """Follow the primary sensor's still run as the hours count it; once it is found not worn, the seconds
        counted so far move to ``not_worn`` (the bouts are back-dated alike). Returns the hours that changed."""
        since = device.stillness.start_ms
        if since is None:
            self.still = None
            return []
        if self.still is None or self.still.since_ms != since:
            self.still = StillSeconds(since)
        if posture == "not_worn":
            return self.still.not_worn(self._held_hours())
        self.still.add(hour, posture)
        return []

    def _held_hours(self) -> dict[int, HourSummary]:
        """The current and previous hour by their start (the hours a still run names by it)."""
        return {h.hour_ms: h for h in (self.previous_hour, self.hour) if h is not None}

    def _hour_of(self, t_ms: int) -> HourSummary:
        """The hour a bout ending at ``t_ms`` is counted in: the current one, or the one before when it was
        back-dated into it."""
        assert self.hour is not None
        previous = self.previous_hour
        if t_ms < self.hour.hour_ms and previous is not None and previous.hour_ms <= t_ms:
            return previous
        return self.hour

    def partner_second(
        self, frame: FeatureFrameV1, device: DeviceState, posture: Posture, lean_limit_deg: float
    ) -> tuple[int, int] | None:
        """One second of a sensor that is not the primary: a trunk partner adds its exposure and lean run to the
        current hour. Returns a lean run that ended, as in ``WearerSecond.lean_ended``."""
        if device.placement != "trunk" or self.hour is None:
            return None
        return self._trunk_second(self.hour, device, frame, posture, lean_limit_deg)

    def _trunk_second(
        self, hour: HourSummary, device: DeviceState, frame: FeatureFrameV1, posture: Posture, lean_limit_deg: float
    ) -> tuple[int, int] | None:
        lean, incl = device.trunk_angles(frame, posture)
        hour.add_exposure(frame.t_ms, posture, lean, incl)
        if self.still is not None and device is self.primary_device and posture != "not_worn":
            self.still.add_exposure(hour, frame.t_ms, posture, lean, incl)
        return self.lean_run.push(frame.t_ms, posture, lean, lean_limit_deg)

    def exposures(self, t_ms: int) -> dict[Trigger, int]:
        """What the wearer is exposed to now, with when it began (ms): a sitting or static standing bout, a lean."""
        exposures: dict[Trigger, int] = {}
        current = self.tracker.current
        if current is not None and current[0] in ("sitting", "standing"):
            exposures["sitting" if current[0] == "sitting" else "standing"] = current[1]
        run = self.lean_run
        if run.side is not None and t_ms - run.last_ms <= EPISODE_TOLERANCE_MS:
            exposures["lean"] = run.start_ms
        return exposures

    def close(self) -> tuple[list[BoutChange], HourSummary | None]:
        """End of data: end the current bout at the last frame seen and close the open hour."""
        changes = self.tracker.close()
        for change in changes:
            if isinstance(change, BoutEnded) and self.hour is not None:
                self.hour.add_bout(change.bout, None)
        closed, self.hour, self.previous_hour, self.still = self.hour, None, None, None
        return changes, closed
