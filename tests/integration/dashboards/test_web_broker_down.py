"""The web app's buttons while the broker does not answer (issue 16 task 8): within a few seconds a 503 with one
line saying the command was not confirmed, never a hang or a 500. Driven in-process over a real Mosquitto that is
frozen (SIGSTOP: the connection stays open, nothing answers) and then killed (the connection is gone)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dashboards.web.app import LiveHub, WebState, build_app
from dashboards.web.live import LiveBoard
from dashboards.web.service import COMMAND_TIMEOUT_S, WebLink
from ingest.mqtt import serve
from ingest.settings import MqttSettings
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import EventV1, Topics
from tests.support.pipeline import until
from tests.support.servers import start_mosquitto

CSRF = "c" * 43


async def _post(app: Any, path: str, form: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8765"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", f"kinetic_csrf={CSRF}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
        "root_path": "",
    }
    body = form.encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.timeout(90)
def test_a_button_while_the_broker_is_frozen_or_gone_answers_503_within_seconds(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path / "mqtt")
    store = tmp_path / "k.sqlite"

    async def main() -> None:
        await EmbeddedSink(store).aclose()
        topics = Topics(f"t{os.getpid()}")
        board, hub = LiveBoard(), LiveHub()
        t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        board.feed(EventV1(kind="bout_started", wearer="w1", t=t, posture="sitting", bout_start=t))
        link = WebLink(topics=topics, board=board, hub=hub, max_ahead_ms=None)
        app = build_app(WebState(queries=EmbeddedQueries(store), board=board, publish=link.publish, hub=hub))
        mqtt = MqttSettings(host=broker.host, port=broker.port, topic_root=topics.root, keepalive_s=60)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(link.run, mqtt, "web-broker-down", stop, clean_session=True))
        await until(link.ready.is_set, 20, "the web app's MQTT link")
        form = f"csrf={CSRF}&action=pause_1h&back=/w/w1/today"
        status, _ = await _post(app, "/w/w1/command", form)
        assert status == 303  # the broker answers: sent
        os.kill(broker.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            status, body = await _post(app, "/w/w1/command", form)
            took = time.monotonic() - started
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
        assert status == 503, body
        assert took < COMMAND_TIMEOUT_S + 2
        text = body.decode()
        assert text.count("\n") == 1 and "pause" in text and "not confirmed" in text, text
        broker.kill()
        await until(lambda: not link.ready.is_set(), 20, "the link to notice the broker is gone")
        status, body = await _post(app, "/w/w1/command", form)
        assert status == 503 and "not connected" in body.decode(), body
        stop.set()
        await asyncio.wait_for(task, 10)

    try:
        asyncio.run(main())
    finally:
        broker.stop()
