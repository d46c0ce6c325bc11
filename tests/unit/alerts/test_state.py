from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.state import AlertState, StateError, snapshots_file
from ingest.wire import EventV1, FeatureBatchV1, PromptV1
from tests.support.prompts import numbered_prompt as prompt

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_the_outbox_knows_a_prompt_once_and_keeps_what_is_pending(tmp_path: Path) -> None:
    state = AlertState(tmp_path / "s.sqlite")
    assert state.record_prompt(prompt(1), ["mqtt", "webhook"])
    assert not state.record_prompt(prompt(1), ["mqtt", "webhook"])  # a replay
    state.mark(prompt(1).id, "mqtt", "done")
    state.failed_attempt(prompt(1).id, "webhook", "HTTP 503")
    (pending,) = state.pending()
    assert (pending.prompt, pending.channel, pending.attempts) == (prompt(1), "webhook", 1)
    state.close()
    reopened = AlertState(tmp_path / "s.sqlite")
    assert reopened.delivery_states(prompt(1).id) == {"mqtt": "done", "webhook": "pending"}


def test_checkpoints_round_trip_and_old_prompts_are_pruned(tmp_path: Path) -> None:
    from alerts.detect.bouts import BoutTracker
    from alerts.detect.wearer import WearerDetection
    from alerts.engine import WearerState
    from alerts.state import encode_snapshot

    def wearer(frames: int) -> WearerState:
        state = WearerState(WearerDetection("ann-thigh", BoutTracker()))
        state.detection.frames = frames
        return state

    state = AlertState(tmp_path / "s.sqlite")
    state.checkpoint({"ann": wearer(3), "bob": wearer(1)})
    state.checkpoint({"ann": wearer(4)})
    assert {w: encode_snapshot(s) for w, s in state.load().items()} == {
        "ann": encode_snapshot(wearer(4)),
        "bob": encode_snapshot(wearer(1)),
    }
    for n in (1, 2, 100):
        state.record_prompt(prompt(n), ["mqtt"])
    assert state.prune(keep_ms=120 * 60_000) == 0  # prompt 1 expired 99 min before prompt 100
    assert state.prune(keep_ms=90 * 60_000) == 2
    assert state.delivery_states(prompt(1).id) == {} and state.delivery_states(prompt(100).id) == {"mqtt": "pending"}


def test_a_state_file_of_another_version_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    AlertState(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '3' WHERE key = 'version'")
    with pytest.raises(StateError, match=r"s.sqlite has version 3, this Kinetic reads 1 and 2 \(the files' layout"):
        AlertState(path)


def test_the_snapshots_of_a_layout_1_file_move_to_their_own_file_even_after_a_crash_halfway(tmp_path: Path) -> None:
    """Layout 1 kept the snapshots in the outbox's file (tests/fixtures/alert-state-a0d521a.sqlite): opened, they
    are copied to ``<state>.snapshots.sqlite`` and dropped from the state file; a crash after the copy and before the
    drop (the copy is committed first) leaves both, and the next open finishes the move with nothing lost."""
    path = tmp_path / "state.sqlite"
    fixture = Path(__file__).parents[2] / "fixtures" / "alert-state-a0d521a.sqlite"
    path.write_bytes(fixture.read_bytes())
    with sqlite3.connect(path) as db:
        before = dict(db.execute("SELECT wearer, state FROM wearers"))
    assert len(before) == 2
    AlertState(path).close()
    with sqlite3.connect(snapshots_file(path)) as db:
        assert dict(db.execute("SELECT wearer, state FROM wearers")) == before
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'wearers'").fetchone() is None
        assert db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == ("2",)
        # the crash halfway: the state file as it was, its snapshots already copied
        db.execute("CREATE TABLE wearers (wearer TEXT PRIMARY KEY, state BLOB NOT NULL)")
        db.executemany("INSERT INTO wearers VALUES (?, ?)", before.items())
        db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    state = AlertState(path)
    assert sorted(state.load()) == sorted(before) and state.unrestorable == []
    assert state.wearers() == sorted(before)
    state.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'wearers'").fetchone() is None


# tests/fixtures/alert-state-ade3ad4.sqlite was written by the code of commit ade3ad4 (session 3, before the layout
# of issue 12 moved the classes a snapshot names): this scenario's first 150 pairs of batches, then a checkpoint.
SNAPSHOT_SEGMENTS = "walk 3m, sit 40m lean_right 13deg, walk 2m, sit 35m, walk 2m"
SNAPSHOT_CUT = 150


def test_a_snapshot_written_before_the_layout_change_carries_on_as_if_uninterrupted(tmp_path: Path) -> None:
    from alerts.engine import AlertEngine, EngineConfig
    from alerts.prompts.catalog import load_catalog
    from ingest.simulate.scenario import parse_scenario
    from ingest.simulate.synth import batches_for

    scenario = parse_scenario(
        "start: 2026-01-05T09:40:00+00:00\nwearers:\n"
        f"  - wearer: ann\n    placement: thigh\n    segments: [{SNAPSHOT_SEGMENTS}]\n"
        f"  - wearer: ann\n    placement: trunk\n    segments: [{SNAPSHOT_SEGMENTS}]\n"
    )
    thigh, trunk = (list(batches_for(scenario, w, 10)) for w in scenario.wearers)
    pairs = list(zip(trunk, thigh, strict=True))

    def feed(engine: AlertEngine, batches: list[tuple[FeatureBatchV1, FeatureBatchV1]]) -> list[PromptV1 | EventV1]:
        out: list[PromptV1 | EventV1] = []
        for a, b in batches:
            out += engine.process(a) + engine.process(b)
        return out

    uninterrupted = AlertEngine(EngineConfig(), load_catalog())
    feed(uninterrupted, pairs[:SNAPSHOT_CUT])
    expected = feed(uninterrupted, pairs[SNAPSHOT_CUT:]) + uninterrupted.close("ann")

    path = tmp_path / "state.sqlite"
    path.write_bytes((Path(__file__).parents[2] / "fixtures" / "alert-state-ade3ad4.sqlite").read_bytes())
    restored = AlertEngine(EngineConfig(), load_catalog())
    restored.wearers.update(AlertState(path).load())
    assert restored.wearers["ann"].primary == "ann-thigh"
    assert restored.wearers["ann"].detection.tracker.current == ("sitting", scenario.start_ms + 3 * 60_000)
    after = feed(restored, pairs[SNAPSHOT_CUT:]) + restored.close("ann")
    assert after == expected
    assert any(isinstance(o, PromptV1) and o.trigger == "sitting" for o in after)  # the bout's prompt still comes


def test_one_wearers_state_is_exported_as_json_and_forgotten_alone(tmp_path: Path) -> None:
    import json

    from alerts.engine import AlertEngine, EngineConfig
    from alerts.prompts.catalog import load_catalog
    from ingest.simulate.scenario import parse_scenario
    from ingest.simulate.synth import batches_for

    scenario = parse_scenario(
        "start: 2026-11-23T09:00:00+01:00\nwearers:\n"
        "  - wearer: ann\n    placement: thigh\n    segments: [sit 31m]\n"
        "  - wearer: zoe\n    placement: thigh\n    segments: [sit 31m]\n"
    )
    engine = AlertEngine(EngineConfig(), load_catalog())
    state = AlertState(tmp_path / "s.sqlite")
    for script in scenario.wearers:
        for b in batches_for(scenario, script, 60):
            for output in engine.process(b):
                if isinstance(output, PromptV1):
                    state.record_prompt(output, ["mqtt", "ntfy"])
    state.checkpoint(engine.wearers)
    assert state.wearers() == ["ann", "zoe"]

    held = state.holdings("zoe")
    json.dumps(held, allow_nan=False)  # plain JSON values all the way down
    assert held["snapshot"]["detection"]["primary"] == "zoe-thigh"
    assert held["snapshot"]["detection"]["tracker"]["_cur_posture"] == "sitting"
    ((prompt_id, channels),) = {(r["id"], tuple(sorted(r["channel"] for r in held["outbox"]))) for r in held["outbox"]}
    assert prompt_id.startswith("zoe-sitting-") and channels == ("mqtt", "ntfy")
    assert {r["delivery"] for r in held["outbox"]} == {"pending"}

    assert state.forget("zoe") == 1 + 1 + 2  # the snapshot, the prompt, its two deliveries
    assert state.wearers() == ["ann"] and state.holdings("zoe") == {"snapshot": None, "outbox": []}
    assert set(state.load()) == {"ann"} and {d.prompt.wearer for d in state.pending()} == {"ann"}
    assert state.forget("zoe") == 0


def test_a_forget_on_the_erasure_topic_keeps_a_running_service_from_writing_the_wearer_back(tmp_path: Path) -> None:
    import asyncio

    from alerts.engine import AlertEngine, EngineConfig
    from alerts.prompts.catalog import load_catalog
    from alerts.service import AlertService
    from ingest.simulate.scenario import parse_scenario
    from ingest.simulate.synth import batches_for
    from ingest.wire import CommandV1, Topics, encode

    class Broker:
        async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
            pass

    scenario = parse_scenario(
        "start: 2026-11-23T09:00:00+01:00\nwearers:\n"
        "  - wearer: ann\n    placement: thigh\n    segments: [sit 31m]\n"
        "  - wearer: zoe\n    placement: thigh\n    segments: [sit 31m]\n"
    )
    batches = [b for script in scenario.wearers for b in batches_for(scenario, script, 60)]
    topics = Topics("k")
    forget = CommandV1(kind="forget", wearer="zoe", at=T0, source="cli")

    async def run() -> None:
        state = AlertState(tmp_path / "s.sqlite")
        service = AlertService(topics=topics, engine=AlertEngine(EngineConfig(), load_catalog()), state=state)
        broker = Broker()
        for b in batches[:-1]:
            await service.handle(broker, topics.features(b.wearer, b.device), encode(b))
        await service.checkpoint(None)
        assert state.wearers() == ["ann", "zoe"]
        last = batches[-1]
        assert last.wearer == "zoe"
        await service.handle(broker, topics.features(last.wearer, last.device), encode(last))  # zoe: not saved yet
        # a forget on the commands topic (which the web app, Home Assistant and ntfy's buttons may write) is a
        # forgery: refused, counted and dead-lettered in one line; zoe is kept (issue 20)
        await service.handle(broker, topics.commands("zoe"), encode(forget))
        assert set(service.engine.wearers) == {"ann", "zoe"}
        assert service.dead_letters.count == 1
        assert service.dead_letters.reasons == {"forget on a commands topic": 1}
        await service.handle(broker, topics.erasure("zoe"), encode(forget))  # kinetic data delete's
        await service.checkpoint(None)
        assert set(service.engine.wearers) == {"ann"} and set(state.load()) == {"ann"}
        assert state.holdings("zoe") == {"snapshot": None, "outbox": []}
        assert service.dead_letters.count == 1

    asyncio.run(run())


def test_the_outbox_is_copied_from_its_wal_by_copy_outbox_only_on_one_connection_kept_until_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The event loop's outbox writes never run SQLite's checkpoint (two syncs of the disk) however long the WAL
    grows, nor does storing the snapshots (``store_apart``): ``copy_outbox`` does (the service's tick, in a worker
    thread), on one connection of its own kept from its first copy, whichever thread copies, until ``close``."""
    path = tmp_path / "s.sqlite"
    state = AlertState(path)
    empty = path.stat().st_size
    for n in range(3000):  # far past SQLite's 1,000 pages at which a write would copy the WAL itself
        state.record_prompt(prompt(n), ["mqtt", "ntfy"])
    assert path.stat().st_size == empty and Path(f"{path}-wal").stat().st_size > 1000 * 4096
    state.store_apart([])
    assert path.stat().st_size == empty  # the checkpoints' worker leaves it to the tick
    assert open_to(path) == 1  # the event loop's connection

    sizes = []
    for first in (3000, 6000):  # two copies, each from a thread of its own (as asyncio.to_thread may run them)
        for n in range(first, first + 1000):
            state.record_prompt(prompt(n), ["mqtt"])
        with caplog.at_level(logging.WARNING, logger="alerts.state"):
            copier = threading.Thread(target=state.copy_outbox)
            copier.start()
            copier.join()
        sizes.append(path.stat().st_size)
        assert open_to(path) == 2  # and the copier's, kept
    assert empty < sizes[0] < sizes[1] and caplog.records == []
    assert state.delivery_states(prompt(6999).id) == {"mqtt": "pending"}
    state.close()
    assert open_to(path) == 0
    state.copy_outbox()  # after close: nothing (no connection opened again)
    assert open_to(path) == 0


def open_to(path: Path) -> int:
    """How many file descriptors of this process are open on ``path`` (Linux: /proc/self/fd)."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return found


def test_a_state_file_without_its_snapshots_file_says_so_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A state directory restored or copied with the outbox's file and not the snapshots' (layout 2): every wearer
    starts afresh, and a warning names both files (a first start, with neither file, says nothing)."""
    path = tmp_path / "s.sqlite"
    with caplog.at_level(logging.WARNING, logger="alerts.state"):
        AlertState(path).close()
    assert caplog.records == []
    snapshots_file(path).unlink()
    with caplog.at_level(logging.WARNING, logger="alerts.state"):
        state = AlertState(path)
    assert state.load() == {}
    state.close()
    (line,) = [r.getMessage() for r in caplog.records]
    assert str(snapshots_file(path)) in line and "missing" in line and "\n" not in line
