"""``kinetic simulate --replay EXPORT.zip``: a Sensor Logger export published as the phone source would have sent it.

The export's readings go through the same ``PhoneStream`` as live messages (units, axes, gravity, per-second
features, batches), keep their own times (the recorded day lands on its day), and are published at QoS 1 on one
MQTT connection, each batch when its last second has passed on a clock running ``speed`` times faster than the wall
clock (0: as fast as possible), like ``kinetic simulate``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from ingest.mqtt import Will, connect
from ingest.phone.export import SensorLoggerExport
from ingest.phone.sensorlogger import PhoneCounters, PhoneStream
from ingest.settings import MqttSettings
from ingest.wire import DeviceStatusV1, FeatureBatchV1, Placement, Topics, encode

_LOGGER = logging.getLogger(__name__)


@dataclass
class ExportReplay:
    batches: int = 0
    frames: int = 0
    counters: PhoneCounters = field(default_factory=PhoneCounters)


async def replay_export(
    export: SensorLoggerExport,
    *,
    wearer: str,
    device: str,
    placement: Placement,
    ios_axes: bool,
    mqtt: MqttSettings,
    topics: Topics,
    speed: float,
    batch_s: int = 10,
    seconds: float | None = None,
) -> ExportReplay:
    """Publish the export's frames as ``wearer``'s phone; ``seconds``: only the first N seconds of the recording."""
    stream = PhoneStream(wearer, device, placement, batch_s, ios_axes=ios_axes)
    result = ExportReplay(counters=stream.counters)
    status_topic = topics.status(wearer, device)
    offline = DeviceStatusV1(wearer=wearer, device=device, state="offline", placement=placement)
    loop = asyncio.get_running_loop()
    wall0 = loop.time()
    first_ms: int | None = None

    async with connect(
        mqtt, f"{mqtt.client_id_prefix}-replay-{device}", will=Will(status_topic, encode(offline))
    ) as client:
        online = offline.model_copy(update={"state": "online", "firmware": "Sensor Logger export"})
        await client.publish(status_topic, encode(online), qos=1, retain=True)

        async def publish(batches: list[FeatureBatchV1]) -> None:
            for batch in batches:
                end_ms = batch.frames[-1].t_ms + 1000
                if speed > 0 and first_ms is not None:
                    wait = wall0 + (end_ms - first_ms) / 1000 / speed - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                await client.publish(topics.features(wearer, device), encode(batch), qos=1)
                result.batches += 1
                result.frames += len(batch.frames)

        for chunk in export.reading_chunks(seconds):
            if chunk and first_ms is None:
                first_ms = chunk[0].t_ns // 1_000_000
            await publish(stream.add_readings(chunk))
        await publish(stream.flush())
        await client.publish(status_topic, encode(offline), qos=1, retain=True)
    _LOGGER.info(
        "replay %s: %d frames in %d batches as %s/%s", export.path.name, result.frames, result.batches, wearer, device
    )
    return result
