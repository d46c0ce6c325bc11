"""A Sensor Logger push whose readings are refused is answered so (h-mend12, item 1): before, a push whose every
``time`` was in milliseconds got 200 "ok" and the only trace was a log line "readings refused". Now, over the real
push endpoint on loopback: a push with every reading refused is a 400 naming what was refused and what is expected,
dead-lettered whole; a partly good one is a 200 whose body counts the refused readings (its good readings taken,
the refused ones dead-lettered); a clean push stays "ok". The MQTT path (no answer to give) counts and dead-letters
the same way."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ingest.forward import parse_entry
from ingest.phone.service import PhoneService
from ingest.settings import PhoneConfig, PhoneSettings
from ingest.store.spool import Spool
from ingest.wire import DeadLetterV1, Topics
from tests.support.sensorlogger import fixture_readings, messages

pytestmark = pytest.mark.integration
TOKEN = "ann-token-0123456789abcdef"


def phone(tmp_path: Path) -> PhoneService:
    settings = PhoneSettings(
        phones=[PhoneConfig(wearer="ann", platform="android", token=TOKEN)],  # type: ignore[arg-type]
        http_port=0,
        queue_path=tmp_path / "q.sqlite",
    )
    return PhoneService(settings, Topics("kinetic"), Spool(tmp_path / "q.sqlite", 10**8))


def letters(service: PhoneService) -> list[DeadLetterV1]:
    topic = service.topics.dead_letter("phone")
    entries = [parse_entry(e.body) for e in service.queue.entries(lambda body: True)]
    return [DeadLetterV1.model_validate_json(payload) for t, _, payload in entries if t == topic]


def in_milliseconds(message: bytes, every: int = 1) -> bytes:
    """The message with the ``time`` of every ``every``-th reading in milliseconds (a wrong unit)."""
    body: dict[str, Any] = json.loads(message)
    for i, reading in enumerate(body["payload"]):
        if i % every == 0:
            reading["time"] //= 1_000_000
    return json.dumps(body).encode()


def test_a_push_with_refused_readings_is_answered_so_counted_and_dead_lettered(tmp_path: Path) -> None:
    service = phone(tmp_path)
    good, second, third = messages(fixture_readings("android")[:450])[:3]
    wholly_bad = in_milliseconds(second)
    partly_bad = in_milliseconds(third, every=10)
    n_second, n_third = len(json.loads(second)["payload"]), len(json.loads(third)["payload"])
    refused_third = (n_third + 9) // 10

    async def scenario() -> list[tuple[int, str]]:
        answers = []
        async with service.http_server() as port, aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/sensorlogger/ann?token={TOKEN}"
            for body in (good, wholly_bad, partly_bad, wholly_bad):  # the last: the app sending it again
                async with http.post(url, data=body) as answer:
                    answers.append((answer.status, await answer.text()))
        return answers

    answers = asyncio.run(scenario())
    assert answers[0] == (200, "ok\n")
    status, text = answers[1]
    assert status == 400, text
    assert text.startswith(f"no reading could be used: {n_second} of {n_second} refused (payload.0: ")
    assert "is not UTC epoch nanoseconds from 2015 to 2100 (as milliseconds it is 2025-11-27T08:00:" in text
    assert answers[3] == answers[1]  # sent again: refused again, the same words
    status, text = answers[2]
    assert status == 200, text
    assert text.startswith(
        f"ok: {n_third - refused_third} of {n_third} readings taken, {refused_third} refused (payload.0: "
    )
    counters = service.counters
    assert (counters.refused_messages, counters.partly_refused_messages, counters.http_accepted) == (2, 1, 2)
    assert service.streams["ann"].counters.refused_readings == n_second + refused_third  # the repeat is not taken

    wholly, partly, again = letters(service)
    assert wholly.reason.startswith(f"no reading could be used, {n_second} of {n_second} refused: payload.0: ")
    assert wholly.payload.encode() == wholly_bad and again.payload.encode() == wholly_bad
    assert partly.reason.startswith(f"{refused_third} of {n_third} readings refused (the letter holds the refused")
    kept = json.loads(partly.payload.encode())
    assert kept["messageId"] == json.loads(third)["messageId"]
    assert kept["payload"] == json.loads(partly_bad)["payload"][::10]  # the refused readings only, as sent


def test_an_mqtt_message_with_refused_readings_is_counted_and_dead_lettered(tmp_path: Path) -> None:
    service = phone(tmp_path)
    first, second = messages(fixture_readings("android")[:300])[:2]
    assert service.take("ann", in_milliseconds(first), "sensor-logger/ann").unusable
    taken = service.take("ann", in_milliseconds(second, every=3), "sensor-logger/ann")
    assert not taken.unusable and taken.refused == (taken.readings + 2) // 3
    assert (service.counters.refused_messages, service.counters.partly_refused_messages) == (1, 1)
    assert [letter.topic for letter in letters(service)] == ["sensor-logger/ann", "sensor-logger/ann"]
