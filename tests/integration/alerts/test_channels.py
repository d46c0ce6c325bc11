"""Delivery channels against real HTTP servers on loopback: retries, isolation, rejection, expiry, the outbox across
a restart, and the request shapes ntfy and a webhook receive. (No ntfy server runs here: the requests are checked
against ntfy's documented JSON publishing format, docs/prompts.md says so.)"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from alerts.channels.dispatch import Dispatcher
from alerts.channels.http import NtfyChannel, WebhookChannel
from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.service import AlertService
from alerts.state import AlertState
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import DeadLetterV1, PromptV1, Topics, encode
from tests.support.pipeline import sync, until
from tests.support.receiver import Hit, receiver

TOPICS = Topics("kinetic-test")
SECRET = b"webhook-secret"


@dataclass
class Published:
    """The MQTT side, recorded (the broker path is covered by the end-to-end tests)."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.messages.append((topic, payload))

    def prompts(self) -> list[PromptV1]:
        return [PromptV1.model_validate_json(p) for t, p in self.messages if t.endswith("/prompts")]

    def dead_letters(self) -> list[DeadLetterV1]:
        return [DeadLetterV1.model_validate_json(p) for t, p in self.messages if "/_deadletter/" in t]


async def always(status: int) -> int:
    return status


def make_service(
    session: aiohttp.ClientSession,
    *,
    ntfy: str | None = None,
    webhook: str | None = None,
    state: AlertState | None = None,
    timeout_s: float = 2.0,
    **policy: object,
) -> AlertService:
    channels = ["mqtt"] + (["ntfy"] if ntfy else []) + (["webhook"] if webhook else [])
    book = PolicyBook(PromptPolicy(channels=channels, escalate_after_min=None, **policy))  # type: ignore[arg-type]
    engine = AlertEngine(EngineConfig(), load_catalog(), book)
    # a dated day replayed as if now: its prompts go to the channels (not refused as expired by this host's clock)
    service = AlertService(topics=TOPICS, engine=engine, state=state, send_expired=True)
    configured = {}
    if ntfy:
        configured["ntfy"] = NtfyChannel(
            session, ntfy, token="tk", callback_base="https://kinetic.example/cb", callback_secret=b"cb-secret"
        )
    if webhook:
        configured["webhook"] = WebhookChannel(session, webhook, SECRET)
    service.dispatcher = Dispatcher(
        configured, service.delivery_result, timeout_s=timeout_s, retry_base_s=0.05, retry_cap_s=0.2
    )
    return service


async def idle(service: AlertService, timeout_s: float) -> Dispatcher:
    """The service's dispatcher, once every delivery in flight has finished."""
    assert service.dispatcher is not None
    await asyncio.wait_for(service.dispatcher.wait_idle(), timeout_s)
    return service.dispatcher


async def sit(service: AlertService, out: Published, wearers: list[str], minutes: int = 31) -> None:
    text = "wearers:\n" + "".join(
        f"  - wearer: {w}\n    placement: thigh\n    segments: [sit {minutes}m]\n" for w in wearers
    )
    scenario = parse_scenario(text)
    for script in scenario.wearers:
        for batch in batches_for(scenario, script, 30):
            await service.handle(out, TOPICS.features(batch.wearer, batch.device), encode(batch))
    await service.flush()


@sync
async def test_a_channel_that_is_down_is_retried_and_never_holds_up_the_other_channels(tmp_path: Path) -> None:
    async def flaky(hit: Hit, n: int) -> int:
        return 503 if n <= 4 else 200

    async with (
        aiohttp.ClientSession() as session,
        receiver(flaky) as hook,
        receiver(lambda h, n: always(200)) as ntfy,
    ):
        state = AlertState(tmp_path / "alerts.sqlite")
        service = make_service(session, ntfy=ntfy.url, webhook=hook.url, state=state)
        out = Published()
        await sit(service, out, ["ann", "bob"])
        assert [p.wearer for p in out.prompts()] == ["ann", "bob"]  # MQTT: at once
        await idle(service, 20)
        ids = {p.id for p in out.prompts()}
        # ntfy delivered each prompt once, while the webhook was still failing
        assert len(ntfy.ok) == 2 and max(h.at for h in ntfy.ok) < min(h.at for h in hook.ok)
        # the webhook: 4 failures, then both delivered, the same idempotency key on every attempt of a prompt
        assert len(hook.hits) >= 6 and {h.headers["Idempotency-Key"] for h in hook.ok} == ids
        for hit in hook.ok:
            expected = "sha256=" + hmac.new(SECRET, hit.body, hashlib.sha256).hexdigest()
            assert hit.headers["X-Kinetic-Signature"] == expected
            assert PromptV1.model_validate_json(hit.body).id == hit.headers["Idempotency-Key"]
        counters = service.dispatcher.counters
        assert counters["webhook"].failed_attempts == 4 and counters["webhook"].delivered == 2
        assert counters["ntfy"].failed_attempts == 0 and not counters["webhook"].down
        for prompt_id in ids:
            assert state.delivery_states(prompt_id) == {"mqtt": "done", "ntfy": "done", "webhook": "done"}


@sync
async def test_ntfy_gets_the_documented_json_with_done_and_snooze_buttons() -> None:
    async with aiohttp.ClientSession() as session, receiver(lambda h, n: always(200)) as ntfy:
        service = make_service(session, ntfy=ntfy.url)
        out = Published()
        await sit(service, out, ["ann"])
        await idle(service, 10)
        (hit,) = ntfy.ok
        (prompt,) = out.prompts()
        assert hit.path == "/" and hit.headers["Authorization"] == "Bearer tk"
        message = json.loads(hit.body)
        assert message["topic"] == "kinetic-ann" and message["title"] == prompt.title
        assert message["message"] == prompt.text and message["priority"] == 3
        assert f"kinetic-{prompt.id}" in message["tags"]
        labels = [a["label"] for a in message["actions"]]
        assert labels == ["Done", "Snooze 10 min"]
        for action in message["actions"]:
            assert action["action"] == "http" and action["method"] == "POST" and action["clear"] is True
            assert action["url"].startswith(f"https://kinetic.example/cb/v1/prompts/{prompt.id}/")
            assert "wearer=ann" in action["url"] and "sig=" in action["url"]


@sync
async def test_a_hanging_receiver_delays_only_its_own_prompt_and_an_expired_one_is_dead_lettered() -> None:
    async def slow_for_ann(hit: Hit, n: int) -> int:
        if json.loads(hit.body)["wearer"] == "ann":
            await asyncio.sleep(30)
        return 200

    async with aiohttp.ClientSession() as session, receiver(slow_for_ann) as hook:
        # a prompt lives 3 s here: ann's keeps timing out (0.5 s per attempt), then expires
        service = make_service(session, webhook=hook.url, timeout_s=0.5, prompt_ttl_min=0.05)
        out = Published()
        started = time.monotonic()
        await sit(service, out, ["ann", "bob"])
        await until(lambda: any(h for h in hook.ok), 5, "bob's webhook")
        assert time.monotonic() - started < 3 and json.loads(hook.ok[0].body)["wearer"] == "bob"
        await idle(service, 15)
        await service._flush_late(out)
        (letter,) = out.dead_letters()
        assert letter.reason.startswith("webhook expired: ") and "ann" in letter.payload
        assert service.dispatcher.counters["webhook"].expired == 1


@sync
async def test_a_permanent_rejection_is_not_retried_and_is_dead_lettered() -> None:
    async with aiohttp.ClientSession() as session, receiver(lambda h, n: always(400)) as hook:
        service = make_service(session, webhook=hook.url)
        out = Published()
        await sit(service, out, ["ann"])
        await idle(service, 10)
        await service._flush_late(out)
        assert len(hook.hits) == 1
        (letter,) = out.dead_letters()
        assert letter.reason.startswith("webhook rejected: webhook: HTTP 400")


@sync
async def test_pending_deliveries_survive_a_restart_and_are_sent_after_it(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session, receiver(lambda h, n: always(503)) as down:
        state = AlertState(tmp_path / "alerts.sqlite")
        service = make_service(session, webhook=down.url, state=state)
        out = Published()
        await sit(service, out, ["ann"])
        await until(lambda: len(down.hits) >= 2, 10, "failed attempts")
        assert service.dispatcher is not None
        await service.dispatcher.close()  # the service stops with the delivery pending
        await service.checkpoint(None)
        state.close()
        (prompt,) = out.prompts()
    async with aiohttp.ClientSession() as session, receiver(lambda h, n: always(200)) as up:
        state = AlertState(tmp_path / "alerts.sqlite")
        assert state.delivery_states(prompt.id) == {"mqtt": "done", "webhook": "pending"}
        service = make_service(session, webhook=up.url, state=state)
        assert "ann" in service.engine.wearers  # the wearer's state came back too
        out = Published()
        await service.resume_deliveries(out)
        await idle(service, 10)
        assert [h.headers["Idempotency-Key"] for h in up.ok] == [prompt.id]
        assert out.prompts() == []  # MQTT was done before the restart: not sent again
        assert state.delivery_states(prompt.id) == {"mqtt": "done", "webhook": "done"}
