"""One sensor's second and one wearer's second (alerts.detect.device, alerts.detect.wearer), on their own."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from alerts.detect.asymmetry import ExposureDay
from alerts.detect.bouts import BoutEnded, BoutStarted, BoutTracker
from alerts.detect.device import DeviceState
from alerts.detect.posture import NOT_WORN_S
from alerts.detect.summary import HOUR_MS, HourSummary, StillSeconds
from alerts.detect.wearer import FUSION_WINDOW_MS, WearerDetection
from ingest.wire import FeatureFrameV1

T0 = 1_767_603_600_000  # 2026-01-05 09:00 UTC, on the hour
BERLIN = ZoneInfo("Europe/Berlin")


def frame(t_ms: int, incl_deg: float, sd_mg: float = 10.0) -> FeatureFrameV1:
    return FeatureFrameV1(t_ms=t_ms, incl_deg=incl_deg, enmo_mg=2.0, sd_mg=sd_mg, n=50)


def detection(placement: str = "thigh") -> tuple[WearerDetection, DeviceState]:
    w = WearerDetection("thigh", BoutTracker(10, 60))
    return w, w.device("thigh", placement, lambda: BoutTracker(10, 60))  # type: ignore[arg-type]


def second(w: WearerDetection, device: DeviceState, f: FeatureFrameV1):  # type: ignore[no-untyped-def]
    return w.second(f, device, device.second(f), 10.0, BERLIN, 300)


def test_a_sitting_bout_and_its_end_come_with_the_posture_that_follows() -> None:
    w, thigh = detection()
    seconds = [second(w, thigh, frame(T0 + i * 1000, 80.0)) for i in range(120)]
    seconds += [second(w, thigh, frame(T0 + i * 1000, 5.0)) for i in range(120, 140)]
    changes = [c for s in seconds for c in s.changes]
    assert [(type(c).__name__, c.posture if isinstance(c, BoutStarted) else c.bout.posture, n) for c, n in changes] == [
        ("BoutStarted", "sitting", None),
        ("BoutEnded", "sitting", "standing"),
        ("BoutStarted", "standing", None),
    ]
    ended = next(c for c, _ in changes if isinstance(c, BoutEnded))
    assert ended.bout.duration_s == 120
    assert w.exposures(T0 + 139_000) == {"standing": T0 + 120_000}
    assert w.hour is not None and w.hour.breaks == 1 and w.frames == 140


def test_the_hour_closes_with_the_first_second_of_the_next_and_knows_its_local_hour() -> None:
    w, thigh = detection()
    first = second(w, thigh, frame(T0 + HOUR_MS - 1000, 80.0))
    assert first.closed_hour is None and w.hour is not None and w.hour.local_hour == 10  # 09:59 UTC is 10:59 in Berlin
    nxt = second(w, thigh, frame(T0 + HOUR_MS, 80.0))
    assert nxt.closed_hour is not None and nxt.closed_hour.hour_ms == T0 and nxt.closed_hour.posture_s["sitting"] == 1
    assert w.hour.hour_ms == T0 + HOUR_MS and w.hour.local_hour == 11


def test_a_trunk_partner_turns_a_sitting_thigh_into_lying_only_within_the_fusion_window() -> None:
    w, thigh = detection()
    chest = w.device("chest", "trunk", lambda: BoutTracker(10, 60))
    assert w.primary == "thigh"  # a trunk sensor does not outrank a thigh sensor
    lying = frame(T0, 90.0)
    chest.last_ms, chest.last_posture = T0, chest.second(lying)
    assert chest.last_posture == "lying"
    assert second(w, thigh, frame(T0 + FUSION_WINDOW_MS, 80.0)).posture == "lying"
    assert second(w, thigh, frame(T0 + FUSION_WINDOW_MS + 1000, 80.0)).posture == "sitting"


def test_a_thigh_sensor_that_joins_drives_the_bouts_from_then_on() -> None:
    w = WearerDetection("wrist", BoutTracker(10, 60))
    w.device("wrist", "wrist", lambda: BoutTracker(10, 60))
    old = w.tracker
    w.device("thigh", "thigh", lambda: BoutTracker(10, 60))
    assert w.primary == "thigh" and w.tracker is not old


def test_a_still_sensor_is_not_worn_back_to_where_the_stillness_began() -> None:
    w, thigh = detection()
    flat = {"gx": 0.0, "gy": 0.0, "gz": 1.0, "enmo_mg": 0.0, "sd_mg": 0.5, "n": 50}  # lying on a desk
    for i in range(NOT_WORN_S + 1):
        s = second(w, thigh, FeatureFrameV1(t_ms=T0 + i * 1000, **flat))
    assert s.posture == "not_worn"
    started = [c for c, _ in s.changes if isinstance(c, BoutStarted)]
    assert [(c.posture, c.start_ms) for c in started] == [("not_worn", T0)]


def test_close_ends_the_bout_and_hands_over_the_open_hour() -> None:
    w, thigh = detection()
    for i in range(60):
        second(w, thigh, frame(T0 + i * 1000, 80.0))
    changes, closed = w.close()
    assert [c.bout.duration_s for c in changes if isinstance(c, BoutEnded)] == [60]
    assert closed is not None and closed.bouts_under_30 == 1 and w.hour is None


def test_an_explicit_calibration_takes_the_first_quiet_seconds_after_it_was_asked_for() -> None:
    device = DeviceState("thigh")
    device.calibrate_from(T0 + 2000)
    for i in range(8):
        device.second(FeatureFrameV1(t_ms=T0 + i * 1000, gx=0.0, gy=0.0, gz=1.0, enmo_mg=1.0, sd_mg=5.0, n=50))
    assert device.calibration.source == "explicit" and device.explicit_from_ms is None


def test_a_pickled_still_run_names_the_wearers_own_hours_by_their_start_and_keeps_an_older_one() -> None:
    """A format-1 snapshot (pickle) holds the still run's hours as the objects; restored, the wearer's current and
    previous hour are named by their start (as format 3 writes them) and an hour the wearer no longer holds is kept."""
    older, previous, current = HourSummary(0), HourSummary(HOUR_MS), HourSummary(2 * HOUR_MS)
    still = StillSeconds(HOUR_MS - 1000)
    still.hours = [(h, {"sitting": 1}, ExposureDay()) for h in (older, previous, current)]
    w = WearerDetection("thigh", BoutTracker(10, 60))
    pickled = {"primary": "thigh", "tracker": BoutTracker(10, 60), "devices": {}, "hour": current}
    w.__setstate__({**pickled, "previous_hour": previous, "still": still})
    assert w.still is not None and [ref for ref, _, _ in w.still.hours] == [older, HOUR_MS, 2 * HOUR_MS]
    w.check()
    assert w.still.hours[0][0] is older
