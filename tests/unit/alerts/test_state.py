from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.state import AlertState, StateError
from ingest.wire import PromptV1

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def prompt(n: int, ttl_min: int = 15) -> PromptV1:
    return PromptV1(
        id=f"ann-sitting-{n}",
        wearer="ann",
        trigger="sitting",
        exercise="x",
        title="t",
        text="t",
        created=T0 + timedelta(minutes=n),
        expires=T0 + timedelta(minutes=n + ttl_min),
    )


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
    state = AlertState(tmp_path / "s.sqlite")
    state.checkpoint({"ann": {"bout": 3}, "bob": [1, 2]})
    state.checkpoint({"ann": {"bout": 4}})
    assert state.load() == {"ann": {"bout": 4}, "bob": [1, 2]}
    for n in (1, 2, 100):
        state.record_prompt(prompt(n), ["mqtt"])
    assert state.prune(keep_ms=120 * 60_000) == 0  # prompt 1 expired 99 min before prompt 100
    assert state.prune(keep_ms=90 * 60_000) == 2
    assert state.delivery_states(prompt(1).id) == {} and state.delivery_states(prompt(100).id) == {"mqtt": "pending"}


def test_a_state_file_of_another_version_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    AlertState(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'version'")
    with pytest.raises(StateError, match=r"s.sqlite has version 0, this Kinetic reads 1"):
        AlertState(path)
