"""The Prescriptions page while the broker does not answer (issue 19): every change is an event, so a change the
broker does not confirm is a 503 within seconds with one line, and the file is left as it was. Driven in-process over
a real Mosquitto that is frozen (SIGSTOP) and then killed, as the buttons' test (test_web_broker_down.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from alerts.prompts.catalog import load_catalog
from dashboards.web.app import LiveHub, WebState, build_app
from dashboards.web.live import LiveBoard
from dashboards.web.prescriptions import COMMAND_TIMEOUT_S
from dashboards.web.service import WebLink
from ingest.mqtt import serve
from ingest.settings import MqttSettings
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import EventV1, Topics
from tests.integration.dashboards.test_web_broker_down import CSRF, _post
from tests.support.pipeline import until
from tests.support.servers import start_mosquitto

PRESCRIPTIONS = """
wearers:
  w1:
    - exercise: controlled-sit-to-stand
      reps: 4
      per_week: 2
"""
FIELDS = "sets=1&hold_s=&tempo.down_s=&tempo.pause_s=&tempo.up_s=&rest_s=30&per_day=&per_week=2&more="


def reps_on_file(path: Path) -> int:
    return int(yaml.safe_load(path.read_text())["wearers"]["w1"][0]["reps"])


@pytest.mark.timeout(90)
def test_a_change_the_broker_does_not_confirm_is_a_503_and_the_file_stays(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path / "mqtt")
    store = tmp_path / "k.sqlite"
    path = tmp_path / "prescriptions.yaml"
    path.write_text(PRESCRIPTIONS)

    async def main() -> None:
        await EmbeddedSink(store).aclose()
        topics = Topics(f"t{os.getpid()}p")
        board, hub = LiveBoard(), LiveHub()
        t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        board.feed(EventV1(kind="bout_started", wearer="w1", t=t, posture="sitting", bout_start=t))
        link = WebLink(topics=topics, board=board, hub=hub, max_ahead_ms=None)
        state = WebState(
            queries=EmbeddedQueries(store),
            board=board,
            publish=link.publish,
            hub=hub,
            catalog={e.id: e for e in load_catalog([])},
            prescriptions_path=path,
            publish_event=link.publish_event,
        )
        app = build_app(state)
        mqtt = MqttSettings(host=broker.host, port=broker.port, topic_root=topics.root, keepalive_s=60)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(link.run, mqtt, "web-prescriptions-down", stop, clean_session=True))
        await until(link.ready.is_set, 20, "the web app's MQTT link")

        def form(reps: int) -> str:
            return f"csrf={CSRF}&action=set&exercise=controlled-sit-to-stand&reps={reps}&{FIELDS}"

        status, body = await _post(app, "/w/w1/prescriptions", form(5))
        assert status == 303, body  # the broker answers: the event is out, then the file written
        assert reps_on_file(path) == 5
        os.kill(broker.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            status, body = await _post(app, "/w/w1/prescriptions", form(6))
            took = time.monotonic() - started
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
        assert status == 503, body
        assert took < COMMAND_TIMEOUT_S + 2
        text = body.decode()
        assert text.count("\n") == 1 and "not confirmed" in text and "nothing was changed" in text, text
        assert reps_on_file(path) == 5
        broker.kill()
        await until(lambda: not link.ready.is_set(), 20, "the link to notice the broker is gone")
        status, body = await _post(app, "/w/w1/prescriptions", form(7))
        assert status == 503 and "nothing was changed" in body.decode(), body
        assert reps_on_file(path) == 5
        stop.set()
        await asyncio.wait_for(task, 10)

    try:
        asyncio.run(main())
    finally:
        broker.stop()
