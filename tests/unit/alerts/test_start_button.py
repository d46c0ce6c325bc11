"""A prompt's "Start" button on ntfy (issue 19, item 2): offered beside Done and Snooze when a session of the prompt's
exercise would be taken (``SessionVerifier.startable``: in the catalog and, with prescriptions, prescribed to the
wearer); pressing it (a POST to its signed URL, as the ntfy app does) sends the ``session_start`` command of the
prompt, whose exercise the alert service resolves (tests/unit/alerts/test_session_start_from_a_prompt.py); the
signature of another action does not start it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from alerts.channels.callbacks import make_app
from alerts.channels.http import NtfyChannel
from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import parse_prescriptions
from alerts.prompts.sessions import SessionVerifier
from ingest.wire import CommandV1, PromptV1
from tests.support.prompts import sitting_prompt

CATALOG = {e.id: e for e in load_catalog()}
SECRET = b"s3cret"
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def prompt(exercise: str, wearer: str = "ann") -> PromptV1:
    return sitting_prompt(f"{wearer}-sitting-1", exercise, NOW, wearer=wearer)


def buttons(verifier: SessionVerifier | None, p: PromptV1) -> dict[str, str]:
    async def run() -> dict[str, str]:
        async with aiohttp.ClientSession() as session:
            channel = NtfyChannel(
                session,
                "http://ntfy.invalid",
                callback_base="https://kinetic.example/cb",
                callback_secret=SECRET,
                startable=verifier.startable if verifier is not None else None,
            )
            return {a["label"]: a["url"] for a in channel.message(p, None)["actions"]}

    return asyncio.run(run())


def test_start_is_offered_for_an_exercise_a_session_would_take() -> None:
    prescriptions = parse_prescriptions(
        {"wearers": {"ann": [{"exercise": "controlled-sit-to-stand", "sets": 1, "reps": 5, "per_day": 1}]}},
        "test",
        CATALOG,
    )
    prescribed = SessionVerifier(CATALOG, prescriptions)
    assert list(buttons(prescribed, prompt("controlled-sit-to-stand"))) == ["Done", "Snooze 10 min", "Start"]
    # not prescribed to this wearer, or to anyone: the service would refuse the start, so no button
    assert list(buttons(prescribed, prompt("controlled-sit-to-stand", wearer="bob"))) == ["Done", "Snooze 10 min"]
    assert list(buttons(prescribed, prompt("spinal-decompression-60s"))) == ["Done", "Snooze 10 min"]
    # without prescriptions any catalog exercise starts; one not in the catalog does not
    open_verifier = SessionVerifier(CATALOG)
    assert "Start" in buttons(open_verifier, prompt("spinal-decompression-60s"))
    assert "Start" not in buttons(open_verifier, prompt("no-such-exercise"))
    # a channel not told what can start (sessions off) offers none
    assert "Start" not in buttons(None, prompt("controlled-sit-to-stand"))


def test_pressing_start_sends_the_prompts_session_start_and_another_signature_does_not() -> None:
    p = prompt("controlled-sit-to-stand")
    urls = buttons(SessionVerifier(CATALOG), p)
    sent: list[CommandV1] = []

    async def send(command: CommandV1) -> bool:
        sent.append(command)
        return True

    async def press(url: str) -> int:
        parts = urlsplit(url)
        path = parts.path.removeprefix("/cb") + "?" + parts.query
        async with TestClient(TestServer(make_app(SECRET, send, clock=lambda: NOW + timedelta(minutes=1)))) as client:
            response = await client.post(path)
            return response.status

    # Done's signature on Start's path: refused
    forged = urls["Start"].split("sig=")[0] + "sig=" + urls["Done"].split("sig=")[1]
    assert asyncio.run(press(forged)) == 403 and sent == []
    assert asyncio.run(press(urls["Start"])) == 202
    (command,) = sent
    assert (command.kind, command.wearer, command.prompt_id, command.source) == ("session_start", "ann", p.id, "ntfy")
    assert command.exercise is None and command.session is not None  # the service resolves the prompt's exercise
