"""`kinetic phone`'s session streams (issue 19), the service's pure side: a new start while a session runs closes the
running stream (its final chunk) and opens the next; one wearer's end leaves another's stream running; commands
that are not about sessions change nothing; a thigh phone never streams."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.prompts.sessions import session_command
from ingest.phone.service import PhoneService
from ingest.settings import PhoneConfig, PhoneSettings
from ingest.store.spool import Spool
from ingest.wire import CommandV1, SessionSamplesV1, Topics
from tests.support.sensorlogger import fixture_readings, messages

T0_MS = 1_795_132_800_000


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def pushes(first_ms: int, seconds: float) -> list[bytes]:
    readings = fixture_readings("android")
    start = readings[0]["time"]
    part = [r for r in readings if r["time"] < start + seconds * 1e9]
    return messages([{**r, "time": r["time"] - start + first_ms * 1_000_000} for r in part], session=str(first_ms))


NOW = [T0_MS / 1000]  # the receiver's clock: set just after each push's newest reading (a phone clock set right)


def take(svc: PhoneService, wearer: str, body: bytes) -> None:
    NOW[0] = max(r["time"] for r in json.loads(body)["payload"]) / 1e9 + 0.05
    assert svc.take(wearer, body, "test").answer() == (200, "ok\n")


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[PhoneService, list[tuple[str, bytes]]]:
    settings = PhoneSettings(
        phones=[
            PhoneConfig(wearer="ann", platform="android", placement="trunk"),
            PhoneConfig(wearer="bob", platform="android", placement="trunk"),
            PhoneConfig(wearer="cy", platform="android"),  # a trouser pocket
        ],
        queue_path=tmp_path / "q.sqlite",
    )
    NOW[0] = T0_MS / 1000
    svc = PhoneService(settings, Topics("k"), Spool(tmp_path / "q.sqlite", 10**8), clock=lambda: NOW[0])
    sent: list[tuple[str, bytes]] = []

    def enqueue(topic: str, payload: bytes, retain: bool, points: int) -> None:
        sent.append((topic, payload))

    monkeypatch.setattr(svc, "_enqueue", enqueue)
    return svc, sent


def chunks(sent: list[tuple[str, bytes]], wearer: str) -> list[SessionSamplesV1]:
    return [SessionSamplesV1.model_validate_json(p) for t, p in sent if t == f"k/v1/{wearer}/{wearer}-phone/session"]


def start(wearer: str, ms: int) -> CommandV1:
    return session_command("start", wearer, at(ms), source="test", exercise="controlled-sit-to-stand")


def test_a_new_start_closes_the_running_stream_and_one_wearers_end_leaves_anothers(service: Any) -> None:
    svc, sent = service
    first, second = start("ann", T0_MS), start("ann", T0_MS + 20_000)
    svc.session_command(first)
    svc.session_command(start("bob", T0_MS))
    for body in pushes(T0_MS, 8):
        take(svc, "ann", body)
        take(svc, "bob", body)
    svc.session_command(second)  # ann starts again: her first stream is closed
    ann = chunks(sent, "ann")
    assert ann[-1].last and {c.session for c in ann} == {first.session}
    assert sum(len(c.dt_ms) for c in ann) > 8 * 40  # the 8 s pushed, the app's 50-100 Hz
    for body in pushes(T0_MS + 20_500, 3):
        take(svc, "ann", body)
    svc.session_command(session_command("end", "ann", at(T0_MS + 24_000), source="test", session=second.session))
    then = chunks(sent, "ann")[len(ann) :]
    assert then[-1].last and {c.session for c in then} == {second.session} and [c.seq for c in then] == [0, 1]
    assert min(then[0].t0_ms + dt for dt in then[0].dt_ms) >= T0_MS + 20_500
    bob = chunks(sent, "bob")
    assert bob and not any(c.last for c in bob)  # bob's session still runs
    assert svc.counters.session_chunks == len(chunks(sent, "ann")) + len(bob)


def test_other_commands_change_nothing_and_a_pocket_phone_never_streams(service: Any) -> None:
    svc, sent = service
    svc.session_command(CommandV1(kind="calibrate", wearer="ann", at=at(T0_MS)))
    svc.session_command(start("cy", T0_MS))
    for body in pushes(T0_MS, 6):
        take(svc, "ann", body)
        take(svc, "cy", body)
    svc.session_command(session_command("end", "cy", at(T0_MS + 7_000), source="test"))
    assert [t for t, _ in sent if t.endswith("/session")] == []
