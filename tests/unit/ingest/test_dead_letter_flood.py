"""The dead-letter log's rate limit groups letters by the text before the reason's first colon. Reasons that name
what varies before any colon make every letter a kind of its own, and a sender floods the log (issue 13: a flood of
logs). Seen live: 100 messages on kinetic/v1/Ann1..Ann100/d/features gave 100 warning lines in each service."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ingest.errors import WireError
from ingest.mqtt import DeadLetters
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
