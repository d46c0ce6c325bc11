"""HTTP channels: ntfy (self-hosted push, with Done and Snooze buttons, and Start when the prompt's exercise can be
started as a session) and a generic webhook. Thin adapters.

Both send the prompt's id so a receiver can drop a redelivery (at-least-once): the webhook in an
``Idempotency-Key`` header, ntfy as the message's tag ``kinetic-<id>`` and in the action URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from alerts.channels.base import ChannelError, ChannelRejected
from ingest.wire import PromptV1, encode

RETRYABLE_4XX = {408, 425, 429}


def sign(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def callback_signature(secret: bytes, wearer: str, prompt_id: str, action: str) -> str:
    """What a callback URL carries so that only Kinetic's own buttons can ack or snooze a prompt."""
    return sign(secret, f"{wearer}\n{prompt_id}\n{action}".encode())[:32]


# Check-in answers are signed as the "prompt" CHECKIN_SUBJECT: no prompt id can be it (a prompt id starts with its
# wearer's id, which cannot start with "_"), so a check-in button can never ack or snooze a prompt, nor the reverse.
CHECKIN_SUBJECT = "_checkin"
# The answers ntfy's check-in buttons send (at most 3 actions per ntfy message): stress, which has three levels. Pain
# is a 0-10 number, which buttons cannot ask: from the command line or the web app (the callback takes pain-0..10).
STRESS_ANSWERS = ("stress-low", "stress-medium", "stress-high")


def checkin_url(base: str, secret: bytes, wearer: str, answer: str) -> str:
    """The signed URL a check-in button POSTs to: ``<base>/v1/checkin/<answer>?wearer=..&sig=..``."""
    query = urlencode({"wearer": wearer, "sig": callback_signature(secret, wearer, CHECKIN_SUBJECT, answer)})
    return f"{base.rstrip('/')}/v1/checkin/{quote(answer, safe='')}?{query}"


def callback_url(base: str, secret: bytes, prompt: PromptV1, action: str) -> str:
    query = urlencode({"wearer": prompt.wearer, "sig": callback_signature(secret, prompt.wearer, prompt.id, action)})
    return f"{base.rstrip('/')}/v1/prompts/{quote(prompt.id, safe='')}/{action}?{query}"


async def _post(session: aiohttp.ClientSession, name: str, url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if 200 <= response.status < 300:
                return
            detail = (await response.text())[:200].strip()
            message = f"{name}: HTTP {response.status} from {url}: {detail}"
            if 400 <= response.status < 500 and response.status not in RETRYABLE_4XX:
                raise ChannelRejected(message)
            raise ChannelError(message)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ChannelError(f"{name}: {url}: {exc.__class__.__name__} {exc}".strip()) from exc


class WebhookChannel:
    """POSTs the canonical prompt JSON (the MQTT payload) to one URL."""

    name = "webhook"

    def __init__(self, session: aiohttp.ClientSession, url: str, secret: bytes | None = None) -> None:
        self._session, self.url, self._secret = session, url, secret

    async def deliver(self, prompt: PromptV1, target: str | None) -> None:
        body = encode(prompt)
        headers = {"Content-Type": "application/json", "Idempotency-Key": prompt.id}
        if self._secret:
            headers["X-Kinetic-Signature"] = "sha256=" + sign(self._secret, body)
        await _post(self._session, self.name, self.url, body, headers)


class NtfyChannel:
    """Publishes to ntfy as JSON (POST to the server root: topic, title, message, priority, tags, actions)."""

    name = "ntfy"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        token: str | None = None,
        topic_prefix: str = "kinetic-",
        callback_base: str | None = None,
        callback_secret: bytes | None = None,
        startable: Callable[[str, str], bool] | None = None,
    ) -> None:
        """``startable(wearer, exercise)``: whether a prompt gets a "Start" button beside Done and Snooze (a session
        of its exercise would be taken: ``SessionVerifier.startable``); None: no Start button."""
        self._session, self.url, self._token = session, url.rstrip("/"), token
        self.startable = startable
        self.topic_prefix = topic_prefix
        self._callback_base, self._callback_secret = callback_base, callback_secret

    def message(self, prompt: PromptV1, target: str | None) -> dict[str, Any]:
        message: dict[str, Any] = {
            "topic": target or f"{self.topic_prefix}{prompt.wearer}",
            "title": prompt.title,
            "message": prompt.text,
            "priority": 2 if prompt.attempt > 1 else 3,  # calm: default priority, the re-prompt lower
            "tags": ["person_standing", f"kinetic-{prompt.id}"],
        }
        if self._callback_base and self._callback_secret:
            buttons = [("Done", "done"), ("Snooze 10 min", "snooze")]
            if self.startable is not None and self.startable(prompt.wearer, prompt.exercise):
                buttons.append(("Start", "start"))  # ntfy shows at most 3 actions
            message["actions"] = [
                {
                    "action": "http",
                    "label": label,
                    "url": callback_url(self._callback_base, self._callback_secret, prompt, action),
                    "method": "POST",
                    "clear": True,
                }
                for label, action in buttons
            ]
        return message

    async def deliver(self, prompt: PromptV1, target: str | None) -> None:
        await self._send(self.message(prompt, target))

    def checkin_message(self, wearer: str, target: str | None) -> dict[str, Any]:
        """The morning question "How stressed do you feel today?" with Low / Medium / High buttons, each a signed
        ``checkin`` for the wearer (``checkin_url``). Raises ChannelError without a callback URL and secret: a
        question the wearer cannot answer is not sent."""
        if not (self._callback_base and self._callback_secret):
            raise ChannelError(
                "ntfy check-in: no buttons without KINETIC_ALERTS__CALLBACK_URL and KINETIC_ALERTS__CALLBACK_SECRET"
            )
        base, secret = self._callback_base, self._callback_secret
        return {
            "topic": target or f"{self.topic_prefix}{wearer}",
            "title": "Check-in",
            "message": "How stressed do you feel today? Your answer shapes today's exercises.",
            "priority": 2,
            "tags": ["clipboard", "kinetic-checkin"],
            "actions": [
                {
                    "action": "http",
                    "label": answer.removeprefix("stress-").capitalize(),
                    "url": checkin_url(base, secret, wearer, answer),
                    "method": "POST",
                    "clear": True,
                }
                for answer in STRESS_ANSWERS
            ],
        }

    async def ask_checkin(self, wearer: str, target: str | None = None) -> None:
        """Send the check-in question to the wearer's ntfy topic (``checkin_message``)."""
        await self._send(self.checkin_message(wearer, target))

    async def _send(self, message: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        await _post(self._session, self.name, self.url, json.dumps(message).encode(), headers)
