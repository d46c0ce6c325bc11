"""Limits where data enters (issue 13, found after the named cases): payload size, a dead letter's size, a pause
that ends before it begins, and a dead-letter log that a repeating sender cannot flood."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from ingest.errors import WireError
from ingest.mqtt import DeadLetters
from ingest.wire import (
    DEAD_LETTER_PAYLOAD_MAX,
    MAX_PAYLOAD_BYTES,
    CommandV1,
    DeadLetterV1,
    Topics,
    decode,
    decode_salvaging,
)

TOPICS = Topics("kinetic")
AT = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_a_payload_over_the_limit_is_refused_before_it_is_parsed() -> None:
    """Before: a 66 MB message stalled both services for minutes while it was parsed, then again in its dead
    letter; any topic."""
    huge = b'{"v": 1, "wearer": "ann", "frames": [' + b"1," * (MAX_PAYLOAD_BYTES // 2) + b"1]}"
    for topic in (TOPICS.features("ann", "ann-thigh"), TOPICS.commands("ann"), TOPICS.status("ann", "ann-thigh")):
        with pytest.raises(WireError, match=rf"a payload of {len(huge)} bytes is over the {MAX_PAYLOAD_BYTES}-byte"):
            decode(TOPICS, topic, huge)
        with pytest.raises(WireError, match="byte limit"):
            decode_salvaging(TOPICS.parse(topic), huge)


def test_a_dead_letter_keeps_the_start_of_a_huge_payload_and_its_size() -> None:
    payload = b"x" * (DEAD_LETTER_PAYLOAD_MAX * 3)
    letter = DeadLetterV1.wrap(service="alerts", topic="t", reason="r", payload=payload, received=AT)
    assert len(letter.payload) == DEAD_LETTER_PAYLOAD_MAX and letter.payload_size == len(payload)
    small = DeadLetterV1.wrap(service="alerts", topic="t", reason="r", payload=b"{}", received=AT)
    assert small.payload == "{}" and small.payload_size is None


def test_a_pause_that_ends_before_it_begins_is_refused() -> None:
    with pytest.raises(WireError, match=r"pause until 2026-01-05T08:00:00\+00:00 is not after the command's time"):
        command = {"v": 1, "kind": "pause", "wearer": "ann", "at": AT.isoformat(), "until": "2026-01-05T08:00:00Z"}
        decode(TOPICS, TOPICS.commands("ann"), json.dumps(command).encode())
    assert CommandV1(kind="pause", wearer="ann", at=AT, until=AT + timedelta(hours=1)).until is not None


class Sink:
    def __init__(self) -> None:
        self.published: list[bytes] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.published.append(payload)


def test_a_sender_repeating_its_mistake_gets_one_log_line_per_interval_and_every_letter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    letters = DeadLetters("alerts", TOPICS)
    sink = Sink()

    async def send() -> None:
        for i in range(500):
            await letters.send(sink, TOPICS.features("ann", "ann-thigh"), b"{}", f"invalid FeatureBatchV1: frame {i}")
        await letters.send(sink, TOPICS.commands("ann"), b"{}", "a retained command is refused: ...")

    with caplog.at_level(logging.WARNING, logger="ingest.mqtt"):
        asyncio.run(send())
    assert letters.count == 501 and len(sink.published) == 501
    assert letters.reasons == {"invalid FeatureBatchV1": 500, "a retained command is refused": 1}
    assert len(caplog.records) == 2  # one per kind of reason in this interval


@pytest.mark.parametrize("field", ["gx", "enmo_mg", "n", "steps", "t_ms"])
def test_a_boolean_where_a_number_belongs_is_refused_naming_the_field(field: str) -> None:
    """Found after the named cases: `true` was read as 1 (a second of one sample, a step, 1 g)."""
    frame = {"t_ms": 1_767_603_600_000, "gx": 0.1, "gy": -0.9, "gz": 0.3, "enmo_mg": 2.0, "n": 50, field: True}
    batch = {"v": 1, "wearer": "ann", "device": "ann-thigh", "placement": "thigh", "seq": 0, "frames": [frame]}
    with pytest.raises(WireError, match=rf"\.{field}: true is a boolean; expected (a number|an integer)$"):
        decode(TOPICS, TOPICS.features("ann", "ann-thigh"), json.dumps(batch).encode())


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        ("features", {"frames": [{"n": "50"}]}, "frames.0.n: '50' is text; expected an integer (a JSON number"),
        ("features", {"frames": [{"enmo_mg": "2.0"}]}, "frames.0.enmo_mg: '2.0' is text; expected a number (a JSON"),
        ("features", {"frames": [{"steps": 2.5}]}, "frames.0.steps: Input should be a valid integer"),
        ("features", {"seq": True}, "seq: true is a boolean; expected an integer"),
        ("status", {"battery_pct": False}, "battery_pct: false is a boolean; expected an integer"),
        ("commands", {"minutes": True}, "minutes: true is a boolean; expected a number"),
    ],
    ids=["text count", "text number", "fraction count", "boolean seq", "boolean battery", "boolean minutes"],
)
def test_every_message_takes_json_numbers_only(kind: str, payload: dict[str, object], reason: str) -> None:
    """Strict JSON numbers in every wire message (before: ``"50"`` was read as 50 and ``2.0`` as a count of 2)."""
    frame = {"t_ms": 1_767_603_600_000, "gx": 0.1, "gy": -0.9, "gz": 0.3, "enmo_mg": 2.0, "n": 50}
    base: dict[str, dict[str, object]] = {
        "features": {"v": 1, "wearer": "ann", "device": "ann-thigh", "placement": "thigh", "seq": 0},
        "status": {"v": 1, "wearer": "ann", "device": "ann-thigh", "state": "online"},
        "commands": {"v": 1, "kind": "snooze", "wearer": "ann", "prompt_id": "p1"},
    }
    message = {**base[kind], **payload}
    if kind == "features":
        message["frames"] = [{**frame, **f} for f in payload.get("frames", [{}])]  # type: ignore[attr-defined]
    topic = {"features": TOPICS.features("ann", "ann-thigh"), "status": TOPICS.status("ann", "ann-thigh")}.get(
        kind, TOPICS.commands("ann")
    )
    with pytest.raises(WireError) as exc:
        decode(TOPICS, topic, json.dumps(message).encode())
    assert reason in str(exc.value)
