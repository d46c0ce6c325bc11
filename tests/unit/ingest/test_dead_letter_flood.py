"""The dead-letter log's rate limit groups letters by the text before the reason's first colon. Reasons that name
what varies before any colon make every letter a kind of its own, and a sender floods the log (issue 13: a flood of
logs). Seen live: 100 messages on kinetic/v1/Ann1..Ann100/d/features gave 100 warning lines in each service."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ingest.errors import WireError
from ingest.mqtt import DeadLetters, reason_kind
from ingest.wire import FeatureBatchV1, FeatureFrameV1, Topics, decode, encode

TOPICS = Topics("kinetic")


class Sink:
    def __init__(self) -> None:
        self.published = 0

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.published += 1


def reason(topic: str, payload: bytes) -> str:
    try:
        decode(TOPICS, topic, payload)
    except WireError as exc:
        return str(exc)
    raise AssertionError("expected a refusal")


def batch_of(wearer: str) -> bytes:
    frame = FeatureFrameV1(t_ms=1_796_500_800_000, gx=0.0, gy=-1.0, gz=0.0, enmo_mg=1.0, n=50)
    return encode(FeatureBatchV1(wearer=wearer, device="d", placement="thigh", seq=1, frames=[frame]))


CASES = {
    "topics that are no Kinetic topic": [(f"kinetic/v1/Ann{i}/d/features", b"x") for i in range(100)],
    "payloads speaking for another wearer": [("kinetic/v1/ann/d/features", batch_of(f"w{i}")) for i in range(100)],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hundred_letters_of_one_kind_make_at_most_two_lines(case: str, caplog: pytest.LogCaptureFixture) -> None:
    """Before: 100 lines each."""
    letters, sink = DeadLetters("alerts", TOPICS), Sink()

    async def send() -> None:
        for topic, payload in CASES[case]:
            await letters.send(sink, topic, payload, reason(topic, payload))

    with caplog.at_level(logging.WARNING, logger="ingest.mqtt"):
        asyncio.run(send())
    assert letters.count == 100 and sink.published == 100
    assert len(caplog.records) <= 2, caplog.records[-1].getMessage()


def test_the_kind_of_a_reason_leaves_out_what_varies_and_keeps_what_names_it() -> None:
    """Salvage counts, frame indexes, glitch times and ISO times vary from letter to letter of one kind (a smaller
    finding of issue 13); the model's name and the wire version do not, and different rules stay different kinds."""
    same = [
        ("3 of 10 frames refused (first: frames.3: no direction)", "7 of 9 frames refused (first: frames.0: x)"),
        ("t_ms 1796500800000 jumped 10796 s ahead of ...", "t_ms 1796500900000 jumped 86400 s ahead of ..."),
        (
            "PromptV1 created 2026-12-07T10:30:00+00:00 is 86400 s ahead",
            "PromptV1 created 2026-12-08T11:00:00Z is 9 s ahead",
        ),
        (
            "topic 'kinetic/v1/A:b/x' is not a Kinetic v1 topic",
            "topic 'kinetic/v1/Ann7/d/features' is not a Kinetic v1 topic",
        ),
    ]
    for a, b in same:
        assert reason_kind(a) == reason_kind(b), (a, b)
    assert reason_kind("invalid FeatureBatchV1: frames.3.enmo_mg: too big") == "invalid FeatureBatchV1"
    assert reason_kind("invalid FeatureBatchV1: x") != reason_kind("invalid CommandV1: x")
