from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ingest.store.points import Point
from ingest.store.rollup import MinuteRollup
from ingest.wire import FeatureBatchV1, FeatureFrameV1

T0 = 1_800_000_000_000 - 1_800_000_000_000 % 60_000


def batch(seconds: list[int], lean: float | None = None) -> FeatureBatchV1:
    frames = [
        FeatureFrameV1(t_ms=T0 + s * 1000, incl_deg=10.0 + s % 2, lean_deg=lean, enmo_mg=2.0, steps=1, n=50)
        for s in seconds
    ]
    return FeatureBatchV1(wearer="ann", device="d1", placement="trunk", seq=0, frames=frames)


def test_a_minute_is_emitted_when_the_next_one_starts() -> None:
    rollup = MinuteRollup()
    assert rollup.add(batch(list(range(0, 50)), lean=-4.0)) == []
    (point,) = rollup.add(batch(list(range(50, 70)), lean=-4.0))
    assert point.measurement == "features_1m" and point.t_ms == T0
    assert point.fields == {"frames": 60, "incl_deg": 10.5, "enmo_mg": 2.0, "steps": 60, "lean_deg": -4.0}
    assert dict(point.tags) == {"device": "d1", "placement": "trunk", "wearer": "ann"}


def test_redelivered_frames_are_not_counted_twice() -> None:
    rollup = MinuteRollup()
    rollup.add(batch(list(range(0, 30))))
    rollup.add(batch(list(range(0, 30))))  # QoS 1 redelivery
    (point,) = rollup.add(batch([60]))
    assert point.fields["frames"] == 30 and rollup.stale_frames == 30


def test_offline_closes_the_minute_and_old_frames_cannot_reopen_it() -> None:
    rollup = MinuteRollup()
    rollup.add(batch(list(range(10))))
    (point,) = rollup.close_device("ann", "d1")
    assert point.fields["frames"] == 10
    assert rollup.add(batch(list(range(10)))) == [] and rollup.close_device("ann", "d1") == []
    # ... and when it comes back later, it starts a fresh minute
    assert rollup.add(batch(list(range(120, 150)))) == []
    (later,) = rollup.close_device("ann", "d1")
    assert later.t_ms == T0 + 120_000 and later.fields["frames"] == 30


def test_state_survives_a_restart() -> None:
    rollup = MinuteRollup()
    rollup.add(batch(list(range(25))))
    again = MinuteRollup(rollup.state())
    again.add(batch(list(range(25, 60))))
    (point,) = again.add(batch([61]))
    assert point.fields["frames"] == 60


@given(st.lists(st.integers(1, 90), min_size=1, max_size=20), st.integers(1, 7))
def test_any_chunking_and_restarts_give_the_same_minutes(gaps: list[int], every: int) -> None:
    seconds, t = [], 0
    for gap in gaps:
        t += gap
        seconds.append(t)
    one = MinuteRollup()
    whole: list[Point] = one.add(batch(seconds)) + one.close_device("ann", "d1")
    state: str | None = None
    pieces: list[Point] = []
    for i in range(0, len(seconds), every):
        rollup = MinuteRollup(state)  # a restart between every chunk
        pieces += rollup.add(batch(seconds[i : i + every]))
        state = rollup.state()
    pieces += MinuteRollup(state).close_device("ann", "d1")
    assert pieces == whole
    assert sum(int(p.fields["frames"]) for p in whole) == len(seconds)


def test_two_wearers_with_the_same_device_id_keep_their_own_minutes() -> None:
    """Device ids are chosen per wearer (``thigh`` for ann and for bob): the minute is the wearer's device's."""
    rollup = MinuteRollup()
    ann, bob = batch(list(range(0, 40))), batch(list(range(0, 40)))
    bob = bob.model_copy(update={"wearer": "bob"})
    assert rollup.add(ann) == [] and rollup.add(bob) == [] and rollup.stale_frames == 0
    (ann_point,) = rollup.close_device("ann", "d1")
    (bob_point,) = rollup.close_device("bob", "d1")
    assert ann_point.fields["frames"] == 40 and dict(ann_point.tags)["wearer"] == "ann"
    assert bob_point.fields["frames"] == 40 and dict(bob_point.tags)["wearer"] == "bob"


def test_state_saved_by_device_id_alone_is_read_as_that_wearers() -> None:
    """A bridge spool written before the key held the wearer (``{"d1": {...}}``) restarts where it was."""
    rollup = MinuteRollup()
    rollup.add(batch(list(range(25))))
    old = json.dumps({"d1": json.loads(rollup.state())["ann/d1"]})
    again = MinuteRollup(old)
    again.add(batch(list(range(25, 60))))
    (point,) = again.add(batch([61]))
    assert point.fields["frames"] == 60 and list(again.open_minutes("ann")) == ["d1"]


def test_a_minute_that_goes_on_after_offline_is_written_again_whole_across_a_restart() -> None:
    """An offline status mid-minute (a collector's will after a Wi-Fi blip) and then the rest of the minute: the
    minute is written at the offline and again, complete, when it completes; the second point replaces the first
    (same series and time) with all 60 seconds, never with the last 30 alone. Nothing new: nothing written again."""
    rollup = MinuteRollup()
    rollup.add(batch(list(range(30))))
    (first,) = rollup.close_device("ann", "d1")
    assert first.fields["frames"] == 30
    again = MinuteRollup(rollup.state())  # the bridge restarted in between
    assert again.add(batch(list(range(30, 60)))) == []
    (whole,) = again.add(batch([60]))
    assert (whole.t_ms, whole.fields["frames"]) == (first.t_ms, 60)
    (next_minute,) = again.close_device("ann", "d1")
    assert next_minute.t_ms == T0 + 60_000 and again.close_device("ann", "d1") == []


@given(
    st.lists(
        st.tuples(st.sampled_from(["ann", "bob", "cid"]), st.sampled_from(["add", "add", "offline", "forget", "save"]))
    ),
    st.integers(0, 200),
)
def test_the_changes_saved_after_each_step_add_up_to_the_whole_state(steps: list[tuple[str, str]], start: int) -> None:
    """The bridge saves ``state_changes`` with each spool transaction instead of ``state``: applied one after another
    onto the state saved before, they give ``state`` (devices added, closed, forgotten)."""
    rollup = MinuteRollup()
    saved: dict[str, object] = {}
    seconds = {"ann": start, "bob": start + 7, "cid": start + 61}
    for wearer, action in steps:
        if action == "add":
            frames = [
                FeatureFrameV1(t_ms=T0 + s * 1000, incl_deg=10.0, enmo_mg=2.0, n=50)
                for s in range(seconds[wearer], seconds[wearer] + 25)
            ]
            seconds[wearer] += 25
            rollup.add(FeatureBatchV1(wearer=wearer, device="d1", placement="trunk", seq=0, frames=frames))
        elif action == "offline":
            rollup.close_device(wearer, "d1")
        elif action == "forget":
            rollup.forget(wearer)
        for key, member in rollup.state_changes().items():
            if member is None:
                saved.pop(key, None)
            else:
                saved[key] = json.loads(member)
        assert saved == json.loads(rollup.state())
    assert MinuteRollup(json.dumps(saved)).state() == rollup.state()
