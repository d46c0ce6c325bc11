"""A wearer's checkpointed state in the explicit, versioned snapshot format (issue 18 item 2; alerts/state.py).

The format-3 snapshot round-trips exactly: a wearer restored from it carries on as if the service had never stopped
(the same prompts and events, to the bit), whatever their sensors did before (property test over random days of
sitting, standing, walking, lying at night with RR intervals, sensors taken off, clock jumps, transitions and
commands). Format-2 snapshots (built field by field, sessions 10-11) and format-1 snapshots (pickle, every snapshot
written before issue 18) still load, carry on exactly and are written again in format 3; a snapshot of another
format is refused in one line naming the file, the wearer and the formats, and only that wearer starts afresh.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.engine import AlertEngine, EngineConfig, Output
from alerts.prompts.catalog import load_catalog
from alerts.state import SNAPSHOT_MAGIC, AlertState, decode_snapshot, encode_snapshot, snapshots_file
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, FeatureBatchV1, FeatureFrameV1, Placement

FIXTURES = Path(__file__).parents[2] / "fixtures"

# --- random days of a wearer's sensors -------------------------------------------------------------------------------

ACTIVITIES = ("sit", "stand", "walk", "lie", "off", "gap", "jump")
# the sensor's own axes: x along the body segment (upright), so the calibration has something to learn from walking
DIRECTION = {
    ("sit", "thigh"): (0.05, 0.1, 1.0),
    ("sit", "trunk"): (0.95, 0.1, 0.3),
    ("stand", "thigh"): (1.0, 0.05, 0.05),
    ("stand", "trunk"): (1.0, 0.02, 0.08),
    ("walk", "thigh"): (1.0, 0.0, 0.1),
    ("walk", "trunk"): (1.0, 0.05, 0.05),
    ("lie", "thigh"): (0.05, 1.0, 0.1),
    ("lie", "trunk"): (0.05, 0.2, 1.0),
    ("off", "thigh"): (0.3, 0.3, -0.9),
    ("off", "trunk"): (-0.9, 0.3, 0.3),
}

Block = tuple[str, int, float]  # activity, seconds, lateral lean (deg)
blocks = st.lists(
    st.tuples(st.sampled_from(ACTIVITIES), st.integers(5, 1500), st.floats(-20, 20, allow_nan=False)),
    min_size=1,
    max_size=8,
)


def frames_for(placement: Placement, day: list[Block], start_ms: int, rng: random.Random) -> list[FeatureFrameV1]:
    """One sensor's frames for a day of blocks, one a second (a gap leaves seconds out; a jump is one frame stamped an
    hour ahead, a clock glitch the engine holds and refuses)."""
    frames: list[FeatureFrameV1] = []
    t_ms = start_ms
    for activity, seconds, lean in day:
        if activity == "gap":
            t_ms += seconds * 1000
            continue
        if activity == "jump":
            frames.append(FeatureFrameV1(t_ms=t_ms + 3_600_000, incl_deg=10.0, enmo_mg=3.0, n=50))
            continue
        gx, gy, gz = DIRECTION[activity, placement]
        for _ in range(seconds):
            t_ms += 1000
            off = activity == "off"
            noise = 0.0 if off else 0.02
            moving = activity == "walk"
            frame: dict[str, object] = {
                "t_ms": t_ms,
                "gx": gx + rng.gauss(0, noise),
                "gy": gy + rng.gauss(0, noise),
                "gz": gz + rng.gauss(0, noise),
                "enmo_mg": 150.0 if moving else 4.0,
                "sd_mg": 1.0 if off else (200.0 + rng.random() * 50 if moving else 5.0 + rng.random() * 10),
                "steps": 2 if moving else 0,
                "n": 50,
            }
            if placement == "trunk" and not off:
                frame["lean_deg"] = lean + rng.gauss(0, 1.5)
                if activity == "lie" and rng.random() < 0.9:
                    frame["rr_ms"] = [round(900 + rng.gauss(0, 40)) for _ in range(rng.choice((1, 1, 2)))]
                if rng.random() < 0.01:
                    frame["trans"] = rng.choice(("sit_to_stand", "stand_to_sit"))
                    frame["trans_lag_ms"] = rng.randrange(0, 2000)
            if rng.random() < 0.002:
                frame["activity"] = "automotive"
            frames.append(FeatureFrameV1.model_validate(frame))
    return frames


def batches(wearer: str, placement: Placement, frames: list[FeatureFrameV1]) -> list[FeatureBatchV1]:
    out, seq, i = [], 0, 0
    while i < len(frames):
        chunk = [frames[i]]
        i += 1
        while i < len(frames) and len(chunk) < 10 and frames[i].t_ms > chunk[-1].t_ms:
            chunk.append(frames[i])
            i += 1
        out.append(
            FeatureBatchV1(wearer=wearer, device=f"{wearer}-{placement}", placement=placement, seq=seq, frames=chunk)
        )
        seq += 1
    return out


def commands_for(wearer: str, start_ms: int, rng: random.Random) -> list[tuple[int, CommandV1]]:
    """A few commands at random seconds: a check-in, a threshold, a pause and resume, do not disturb, a "stand still"
    calibration."""
    at = [start_ms + rng.randrange(0, 3 * 3_600_000) for _ in range(6)]
    t = [datetime.fromtimestamp(ms / 1000, UTC) for ms in at]
    commands = [
        CommandV1(kind="checkin", wearer=wearer, at=t[0], pain=rng.randrange(0, 11), stress="high", source="cli"),
        CommandV1(kind="policy", wearer=wearer, at=t[1], settings={"sitting_threshold_min": 20}, source="cli"),
        CommandV1(kind="pause", wearer=wearer, at=t[2], until=t[2] + timedelta(minutes=20), source="cli"),
        CommandV1(kind="dnd_on", wearer=wearer, at=t[3], source="cli"),
        CommandV1(kind="dnd_off", wearer=wearer, at=t[4], source="cli"),
        CommandV1(kind="calibrate", wearer=wearer, at=t[5], source="cli"),
    ]
    return list(zip(at, commands, strict=True))


def feed(
    engine: AlertEngine, items: list[tuple[int, FeatureBatchV1 | CommandV1]]
) -> list[Output | tuple[bool, list[Output]]]:
    out: list[Output | tuple[bool, list[Output]]] = []
    for _, item in items:
        out += engine.process(item) if isinstance(item, FeatureBatchV1) else [engine.command(item)]
    return out


def timeline(
    wearers: dict[str, tuple[Placement, ...]], days: list[list[Block]], start_ms: int, seed: int
) -> list[tuple[int, FeatureBatchV1 | CommandV1]]:
    rng = random.Random(seed)
    items: list[tuple[int, FeatureBatchV1 | CommandV1]] = []
    for (wearer, placements), day in zip(wearers.items(), days, strict=False):
        for placement in placements:
            items += [
                (b.frames[0].t_ms, b) for b in batches(wearer, placement, frames_for(placement, day, start_ms, rng))
            ]
        items += commands_for(wearer, start_ms, rng)
    items.sort(key=lambda item: item[0])
    return items


def restored(engine: AlertEngine) -> AlertEngine:
    """A new engine with each wearer of ``engine`` through a format-3 snapshot (as a restart from a checkpoint)."""
    again = AlertEngine(engine.config, engine.catalog)
    for wearer, state in engine.wearers.items():
        blob = encode_snapshot(state)
        assert blob.startswith(SNAPSHOT_MAGIC + b"\x03")
        copy = decode_snapshot(blob)
        assert encode_snapshot(copy) == blob  # exact: nothing rounded, nothing lost
        again.wearers[wearer] = copy
    return again


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    days=st.lists(blocks, min_size=3, max_size=3),
    start_hour=st.integers(0, 23),
    cut=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
    transitions=st.booleans(),
)
def test_a_wearer_restored_from_a_snapshot_carries_on_exactly_as_if_uninterrupted(
    days: list[list[Block]], start_hour: int, cut: float, seed: int, transitions: bool
) -> None:
    start_ms = int(datetime(2026, 3, 28, start_hour, tzinfo=UTC).timestamp() * 1000)  # the night clocks go forward
    wearers: dict[str, tuple[Placement, ...]] = {"ann": ("thigh", "trunk"), "bob": ("thigh",), "cay": ("trunk",)}
    items = timeline(wearers, days, start_ms, seed)
    config = EngineConfig(trunk_transitions=transitions)
    at = round(len(items) * cut)

    uninterrupted = AlertEngine(config, load_catalog())
    feed(uninterrupted, items[:at])
    expected = feed(uninterrupted, items[at:]) + [uninterrupted.close(w) for w in sorted(uninterrupted.wearers)]

    before = AlertEngine(config, load_catalog())
    feed(before, items[:at])
    after = restored(before)
    assert feed(after, items[at:]) + [after.close(w) for w in sorted(after.wearers)] == expected
    for wearer, state in uninterrupted.wearers.items():  # and they end in the same state
        assert encode_snapshot(after.wearers[wearer]) == encode_snapshot(state)


def test_a_frame_held_as_a_possible_clock_jump_and_a_calibration_under_way_round_trip() -> None:
    start_ms = int(datetime(2026, 3, 3, 9, tzinfo=UTC).timestamp() * 1000)
    rng = random.Random(3)
    engine = AlertEngine(EngineConfig(), load_catalog())
    before = frames_for("thigh", [("walk", 60, 0.0), ("stand", 3, 0.0)], start_ms, rng)
    feed(engine, [(0, b) for b in batches("ann", "thigh", before)])
    assert engine.calibrate("ann", before[-1].t_ms)
    after = frames_for("thigh", [("stand", 2, 0.0), ("jump", 0, 0.0)], before[-1].t_ms, rng)
    feed(engine, [(0, b) for b in batches("ann", "thigh", after)])
    device = engine.wearers["ann"].detection.primary_device
    assert device.held is not None and len(device.explicit_seconds) == 2 and device.explicit_from_ms is not None
    copy = decode_snapshot(encode_snapshot(engine.wearers["ann"])).detection.primary_device
    assert (copy.held, copy.explicit_seconds, copy.explicit_from_ms) == (
        device.held,
        device.explicit_seconds,
        device.explicit_from_ms,
    )


def test_a_night_of_rr_intervals_round_trips_in_six_bytes_a_beat() -> None:
    """The readiness reading's RR intervals (up to MAX_BEATS, kept from the night into the day) are most of a chest
    strap wearer's state: times as int32 steps, intervals as uint16 whole milliseconds, exact."""
    start_ms = int(datetime(2026, 3, 3, 23, tzinfo=UTC).timestamp() * 1000)
    rng = random.Random(5)
    engine = AlertEngine(EngineConfig(), load_catalog())
    feed(
        engine,
        [
            (0, b)
            for b in batches(
                "ann", "trunk", frames_for("trunk", [("walk", 60, 0.0), ("lie", 1800, 0.0)], start_ms, rng)
            )
        ],
    )
    state = engine.wearers["ann"]
    beats = len(state.readiness.lying_beats)
    assert beats > 1000
    without = decode_snapshot(encode_snapshot(state))  # a state of its own (a snapshot holds the state's structures)
    without.readiness.lying_beats.clear()
    per_beat = (len(encode_snapshot(state)) - len(encode_snapshot(without))) / beats
    assert 6 <= per_beat < 6.1
    assert decode_snapshot(encode_snapshot(state)).readiness.lying_beats == state.readiness.lying_beats


# --- formats on disk ------------------------------------------------------------------------------------------------

# tests/fixtures/alert-state-1cea834.sqlite was written by the code of commit 1cea834 (pickle snapshots, format 1, the
# last before issue 18's format 2): this scenario's first 200 triples of batches with trunk transitions on, then a
# checkpoint. Such files are on users' disks.
SEGMENTS = "walk 3m, sit 40m lean_right 13deg, walk 2m, sit 35m, walk 2m"
CUT = 200


def fixture_triples() -> list[tuple[int, FeatureBatchV1 | CommandV1]]:
    """The fixtures' stream: ann's trunk and thigh batches and bea's trunk batches in turn (10-s batches)."""
    scenario = parse_scenario(
        "start: 2026-01-05T09:40:00+00:00\nwearers:\n"
        f"  - wearer: ann\n    placement: thigh\n    segments: [{SEGMENTS}]\n"
        f"  - wearer: ann\n    placement: trunk\n    segments: [{SEGMENTS}]\n"
        f"  - wearer: bea\n    placement: trunk\n    segments: [{SEGMENTS}]\n"
    )
    thigh, trunk, bea = (list(batches_for(scenario, w, 10)) for w in scenario.wearers)
    return [(0, b) for triple in zip(trunk, thigh, bea, strict=True) for b in triple]


def test_a_format_1_snapshot_of_the_last_pickle_release_carries_on_and_is_rewritten_in_format_3(tmp_path: Path) -> None:
    triples = fixture_triples()
    config = EngineConfig(trunk_transitions=True)
    uninterrupted = AlertEngine(config, load_catalog())
    feed(uninterrupted, triples[: 3 * CUT])
    expected = feed(uninterrupted, triples[3 * CUT :]) + [uninterrupted.close(w) for w in ("ann", "bea")]

    path = tmp_path / "state.sqlite"
    path.write_bytes((FIXTURES / "alert-state-1cea834.sqlite").read_bytes())
    with sqlite3.connect(path) as db:
        assert {bytes(b)[:1] for (b,) in db.execute("SELECT state FROM wearers")} == {b"\x80"}  # pickle
        assert "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'wearers'").fetchone()[0]
    state = AlertState(path)
    with sqlite3.connect(snapshots_file(path)) as db:  # moved to their own file, in a rowid table (half the bytes)
        assert "WITHOUT ROWID" not in db.execute("SELECT sql FROM sqlite_master WHERE name = 'wearers'").fetchone()[0]
        assert db.execute("SELECT count(*) FROM wearers").fetchone() == (2,)
    restored_engine = AlertEngine(config, load_catalog())
    restored_engine.wearers.update(state.load())
    assert state.unrestorable == []
    assert restored_engine.wearers["bea"].detection.sit_stand is not None
    assert restored_engine.wearers["ann"].detection.primary_device.calibration.walking_seconds_held > 100
    state.checkpoint(restored_engine.wearers)  # rewritten in format 3
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'wearers'").fetchone() is None
    with sqlite3.connect(snapshots_file(path)) as db:
        assert {bytes(b)[:4] for (b,) in db.execute("SELECT state FROM wearers")} == {b"KWS\x03"}
    again = AlertEngine(config, load_catalog())
    again.wearers.update(state.load())
    assert feed(again, triples[3 * CUT :]) + [again.close(w) for w in ("ann", "bea")] == expected


# tests/fixtures/alert-state-a0d521a.sqlite was written by the code of commit a0d521a (format 2 built in Python,
# the last release of format 2 bytes; the Structs of session 11 wrote the same bytes): the same scenario and cut as the
# format-1 fixture, then a checkpoint (in a checkout of a0d521a: the steps of the test below up to ``uninterrupted``
# at the cut, then ``AlertState.checkpoint`` of its wearers).
def test_a_format_2_snapshot_loads_carries_on_exactly_and_is_written_again_in_format_3(tmp_path: Path) -> None:
    triples = fixture_triples()
    config = EngineConfig(trunk_transitions=True)
    uninterrupted = AlertEngine(config, load_catalog())
    feed(uninterrupted, triples[: 3 * CUT])
    path = tmp_path / "state.sqlite"
    path.write_bytes((FIXTURES / "alert-state-a0d521a.sqlite").read_bytes())
    with sqlite3.connect(path) as db:
        stored = {w: bytes(b) for w, b in db.execute("SELECT wearer, state FROM wearers")}
    assert set(stored) == {"ann", "bea"} and {b[:4] for b in stored.values()} == {b"KWS\x02"}
    state = AlertState(path)
    loaded = state.load()
    assert state.unrestorable == []
    for wearer in stored:  # the same state as the one never stopped: its format-3 bytes are the same
        assert encode_snapshot(loaded[wearer]) == encode_snapshot(uninterrupted.wearers[wearer])
    state.checkpoint(loaded)
    with sqlite3.connect(snapshots_file(path)) as db:
        rewritten = {w: bytes(b) for w, b in db.execute("SELECT wearer, state FROM wearers")}
    assert {b[:4] for b in rewritten.values()} == {b"KWS\x03"}
    expected = feed(uninterrupted, triples[3 * CUT :]) + [uninterrupted.close(w) for w in ("ann", "bea")]
    again = AlertEngine(config, load_catalog())
    again.wearers.update(AlertState(path).load())
    assert feed(again, triples[3 * CUT :]) + [again.close(w) for w in ("ann", "bea")] == expected


def test_a_snapshot_of_a_newer_format_is_refused_in_one_line_and_only_that_wearer_starts_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.sqlite"
    state = AlertState(path)
    engine = AlertEngine(EngineConfig(), load_catalog())
    start_ms = int(datetime(2026, 3, 3, 9, tzinfo=UTC).timestamp() * 1000)
    for wearer in ("ann", "bea", "cy", "dee"):
        frames = frames_for("thigh", [("walk", 40, 0.0), ("sit", 100, 0.0)], start_ms, random.Random(1))
        feed(engine, [(0, b) for b in batches(wearer, "thigh", frames)])
    state.checkpoint(engine.wearers)
    with sqlite3.connect(snapshots_file(path)) as db:
        (blob,) = db.execute("SELECT state FROM wearers WHERE wearer = 'bea'").fetchone()
        db.execute("UPDATE wearers SET state = ? WHERE wearer = 'bea'", (b"KWS\x04" + blob[4:],))  # format 4
        db.execute("UPDATE wearers SET state = substr(state, 1, 60) WHERE wearer = 'cy'")  # a truncated write
        db.execute("UPDATE wearers SET state = 'x' || state WHERE wearer = 'dee'")  # edited by hand: now TEXT
    with caplog.at_level(logging.WARNING, logger="alerts.state"):
        loaded = AlertState(path).load()
    assert set(loaded) == {"ann"}
    assert encode_snapshot(loaded["ann"]) == encode_snapshot(engine.wearers["ann"])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    (bea,) = [line for line in lines if "'bea'" in line]
    assert (
        str(path) in bea and "snapshot format 4, this Kinetic reads formats 1 (pickle, before issue 18), 2 and 3" in bea
    )
    assert "they start afresh" in bea


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"KWS",
        b"KWS\x02",
        b"KWS\x02\x93\x01\x02\x03",
        b"KWS\x03",
        b"KWS\x03\x93\x01\x02\x03",
        b"{json}",
        b"\x80\x05N.",
    ],
    ids=[
        "empty",
        "magic only",
        "no body",
        "wrong shape",
        "no body 3",
        "wrong shape 3",
        "not a snapshot",
        "pickle None",
    ],
)
def test_a_blob_that_is_no_snapshot_raises_and_never_returns_a_half_state(blob: bytes) -> None:
    with pytest.raises(Exception) as raised:
        decode_snapshot(blob)
    assert str(raised.value)


def test_a_format_3_snapshot_whose_still_run_names_an_hour_the_wearer_does_not_hold_is_refused() -> None:
    """The still run names the wearer's current and previous hour by their start (so a snapshot holds each hour once);
    a start that is neither is a blob that does not hold together: refused, not half-loaded."""
    start_ms = int(datetime(2026, 3, 3, 9, tzinfo=UTC).timestamp() * 1000)
    engine = AlertEngine(EngineConfig(), load_catalog())
    frames = frames_for("thigh", [("walk", 40, 0.0), ("off", 120, 0.0)], start_ms, random.Random(2))
    feed(engine, [(0, b) for b in batches("ann", "thigh", frames)])
    detection = engine.wearers["ann"].detection
    assert detection.still is not None and detection.hour is not None
    assert [ref for ref, _, _ in detection.still.hours] == [detection.hour.hour_ms]
    assert decode_snapshot(encode_snapshot(engine.wearers["ann"])).detection.still == detection.still
    detection.still.hours = [(detection.hour.hour_ms - 7_200_000, {}, detection.still.hours[0][2])]
    with pytest.raises(ValueError, match="none of the wearer's hours"):
        decode_snapshot(encode_snapshot(engine.wearers["ann"]))
