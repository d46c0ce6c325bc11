"""The web app in-process over a real Mosquitto that can be frozen (SIGSTOP: the connection stays open, nothing
answers) and then killed (the connection is gone): what a button or a form does while the broker does not answer.
Requests are sent to the ASGI app directly, with the CSRF cookie and field the forms carry."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dashboards.web.app import LiveHub, WebState, build_app
from dashboards.web.live import LiveBoard
from dashboards.web.service import WebLink
from ingest.mqtt import serve
from ingest.settings import MqttSettings
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import EventV1, Topics
from tests.support.asgi import asgi_request
from tests.support.pipeline import until
from tests.support.servers import Server, start_mosquitto

CSRF = "c" * 43


async def post(app: Any, path: str, form: str) -> tuple[int, bytes]:
    """POST ``form`` (urlencoded, with ``csrf=CSRF`` in it) to ``path`` of the ASGI ``app``: (status, body)."""
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"cookie", f"kinetic_csrf={CSRF}".encode())]
    status, body, _ = await asgi_request(app, "POST", path, form.encode(), headers)
    return status, body


@dataclass
class WebOverBroker:
    """The app (``app``), its MQTT link (``link``) and the broker it talks to (``broker``)."""

    app: Any
    link: WebLink
    broker: Server

    async def post(self, path: str, form: str) -> tuple[int, bytes]:
        return await post(self.app, path, form)

    async def post_frozen(self, path: str, form: str) -> tuple[int, bytes, float]:
        """``post`` while the broker is frozen (thawed after): (status, body, seconds it took)."""
        os.kill(self.broker.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            status, body = await self.post(path, form)
            return status, body, time.monotonic() - started
        finally:
            os.kill(self.broker.process.pid, signal.SIGCONT)

    async def post_gone(self, path: str, form: str) -> tuple[int, bytes]:
        """``post`` once the broker is killed and the link has noticed."""
        self.broker.kill()
        await until(lambda: not self.link.ready.is_set(), 20, "the link to notice the broker is gone")
        return await self.post(path, form)


@contextlib.asynccontextmanager
async def web_over_broker(tmp_path: Path, name: str, **state: Any) -> AsyncIterator[WebOverBroker]:
    """A fresh Mosquitto, an empty embedded store and the web app (``WebState``: the link's publish and
    publish_event, a board and hub, the store's queries, ``state`` besides) linked to the broker as client ``name``
    under a topic root of its own; w1 is sitting. Yields once the link is up; stops the link, then the broker."""
    broker = start_mosquitto(tmp_path / "mqtt")
    try:
        store = tmp_path / "k.sqlite"
        await EmbeddedSink(store).aclose()
        topics = Topics(f"{name.replace('-', '')}{os.getpid()}")
        board, hub = LiveBoard(), LiveHub()
        t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        board.feed(EventV1(kind="bout_started", wearer="w1", t=t, posture="sitting", bout_start=t))
        link = WebLink(topics=topics, board=board, hub=hub, max_ahead_ms=None)
        queries = EmbeddedQueries(store)
        app = build_app(
            WebState(
                queries=queries, board=board, hub=hub, publish=link.publish, publish_event=link.publish_event, **state
            )
        )
        mqtt = MqttSettings(host=broker.host, port=broker.port, topic_root=topics.root, keepalive_s=60)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(link.run, mqtt, name, stop, clean_session=True))
        try:
            await until(link.ready.is_set, 20, "the web app's MQTT link")
            yield WebOverBroker(app, link, broker)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
    finally:
        broker.stop()
