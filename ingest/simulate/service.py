"""Publishes a scenario's wearers over MQTT, like a collector would: one MQTT connection per device with a
retained status and an ``offline`` last will, feature batches at QoS 1, paced in real or accelerated time. A wearer's
scripted commands (a pause, do-not-disturb) go out on their commands topic just before the batch their time falls in,
stamped with the scenario's event time (``commands_for``), never the host's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ingest.mqtt import Will, connect
from ingest.settings import MqttSettings
from ingest.simulate.scenario import Scenario, WearerScript, commands_for
from ingest.simulate.synth import batches_for
from ingest.wire import DeviceStatusV1, Topics, encode

_LOGGER = logging.getLogger(__name__)

Progress = Callable[[str, int], None]  # (wearer, scenario seconds done)


@dataclass
class SimulationResult:
    batches: int = 0
    frames: int = 0


async def simulate(
    scenario: Scenario,
    *,
    mqtt: MqttSettings,
    topics: Topics,
    speed: float,
    batch_s: int,
    progress: Progress | None = None,
) -> SimulationResult:
    """Run every wearer of the scenario concurrently; return what was published."""
    result = SimulationResult()
    loop = asyncio.get_running_loop()
    wall0 = loop.time()
    async with asyncio.TaskGroup() as group:
        for script in scenario.wearers:
            group.create_task(
                _run_wearer(scenario, script, mqtt, topics, speed, batch_s, wall0, result, progress),
                name=f"simulate-{script.wearer}-{script.device}",
            )
    return result


async def _run_wearer(
    scenario: Scenario,
    script: WearerScript,
    mqtt: MqttSettings,
    topics: Topics,
    speed: float,
    batch_s: int,
    wall0: float,
    result: SimulationResult,
    progress: Progress | None,
) -> None:
    loop = asyncio.get_running_loop()
    status_topic = topics.status(script.wearer, script.device)
    offline = DeviceStatusV1(wearer=script.wearer, device=script.device, state="offline", placement=script.placement)
    client_id = f"{mqtt.client_id_prefix}-sim-{script.device}"
    async with connect(mqtt, client_id, will=Will(status_topic, encode(offline))) as client:
        online = DeviceStatusV1(
            wearer=script.wearer,
            device=script.device,
            state="online",
            placement=script.placement,
            t_ms=scenario.start_ms,
            battery_pct=100,
            firmware="kinetic-sim",
        )
        await client.publish(status_topic, encode(online), qos=1, retain=True)
        topic = topics.features(script.wearer, script.device)
        commands = commands_for(scenario, script)
        last_ms = scenario.start_ms
        for batch in batches_for(scenario, script, batch_s):
            end_ms = batch.frames[-1].t_ms + 1000
            if speed > 0:
                # A batch leaves when its last second has happened on the (accelerated) scenario clock.
                wait = wall0 + (end_ms - scenario.start_ms) / 1000 / speed - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            while commands and commands[0].at.timestamp() * 1000 < end_ms:
                await client.publish(topics.commands(script.wearer), encode(commands.pop(0)), qos=1)
            await client.publish(topic, encode(batch), qos=1)
            result.batches += 1
            result.frames += len(batch.frames)
            last_ms = end_ms
            if progress is not None:
                progress(script.wearer, (end_ms - scenario.start_ms) // 1000)
        for command in commands:  # after the wearer's last data
            await client.publish(topics.commands(script.wearer), encode(command), qos=1)
        final = offline.model_copy(update={"t_ms": last_ms})
        await client.publish(status_topic, encode(final), qos=1, retain=True)
    _LOGGER.info("simulate %s/%s: done, %d s of scenario", script.wearer, script.device, script.duration_s)
