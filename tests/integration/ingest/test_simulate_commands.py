"""A scenario's commands through ``kinetic simulate``'s publisher and the running alert service on real Mosquitto
(issue 17, item 5): a pause scripted at 10 min of an accelerated day carries the scenario's time, not the host's, so
the prompt due at 30 min of sitting waits for the pause's end in event time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.service import AlertService
from ingest.mqtt import serve
from ingest.settings import MqttSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.service import simulate
from ingest.wire import CommandV1, EventV1, PromptV1, Topics
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, sync, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

DAY = """
start: 2026-11-23T09:00:00+00:00
wearers:
  - wearer: ann
    placement: thigh
    segments: [sit 50m, walk 5m]
    commands:
      - 20m pause 20m
      - 55m dnd on
"""


@sync
async def test_scripted_commands_carry_event_time_through_the_running_service(mosquitto: Server, unique: str) -> None:
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=f"kinetic-{unique}")
    topics = Topics(mqtt.topic_root)
    scenario = parse_scenario(DAY)
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy(escalate_after_min=None)))
    prompts: list[PromptV1] = []
    events: list[EventV1] = []
    service = AlertService(
        topics=topics, engine=engine, on_prompt=prompts.append, on_event=events.append, send_expired=True
    )
    stop = asyncio.Event()
    async with (
        recording(KineticSettings(mqtt=mqtt), [topics.all_commands()], f"{unique}-rec") as rec,
        asyncio.TaskGroup() as group,
    ):
        group.create_task(serve(service.run, mqtt, f"{unique}-alerts", stop))
        await until(service.ready.is_set, 20, "the alert service")
        result = await simulate(scenario, mqtt=mqtt, topics=topics, speed=600, batch_s=10)
        await until(lambda: engine.counters.batches >= result.batches, 60, "every batch processed")
        await until(lambda: len(rec.on("/commands")) >= 2, 20, "the commands recorded")
        stop.set()

    pause, dnd = (CommandV1.model_validate_json(p) for p in rec.on("/commands"))
    assert (pause.kind, pause.at, pause.until) == (
        "pause",
        scenario.start + timedelta(minutes=20),
        scenario.start + timedelta(minutes=40),
    )
    assert dnd.kind == "dnd_on" and dnd.at == scenario.start + timedelta(minutes=55)  # after the data: sent at the end
    # held at 30 min (paused in event time), sent when the pause ended at 40
    (prompt,) = prompts
    assert prompt.created == scenario.start + timedelta(minutes=40)
    assert [e.reason for e in events if e.kind == "prompt_held"] == ["paused"]
