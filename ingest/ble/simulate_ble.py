"""``kinetic simulate --ble``: a scenario's wearers as emulated BLE sensors (Kinetic DIY profile, 52 Hz) on the
Bumble virtual radio, read by the real collector and published over MQTT. The whole edge path runs: GATT
notifications, decoding, per-second features, batching, the store-and-forward queue.

Raw samples are made from the scenario's per-second features: the gravity direction of that second (a random
mounting per sensor) plus, when walking, a 1.8 Hz bounce of 0.3 g. Time: the collector's clock is the scenario
clock, running ``speed`` times faster than the wall clock; every sample is emulated, so keep ``speed`` modest
(about 30 us of CPU per sample for the emulation: 10 wearers at 52 Hz and speed 20 is about a core).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.ble.bumble_backend import VirtualRadio
from ingest.ble.collector import Collector, CollectorCounters
from ingest.ble.profiles.kinetic_diy import KineticDiyEmulator, encode_motion
from ingest.mqtt import serve
from ingest.settings import CollectorSettings, MqttSettings, WearableConfig
from ingest.simulate.scenario import Scenario, WearerScript
from ingest.simulate.synth import frames_for
from ingest.store.spool import Spool
from ingest.wire import FeatureFrameV1, Topics

RATE_HZ = 52
PER_PACKET = 13  # four packets a second


@dataclass
class BleSimulation:
    counters: CollectorCounters
    samples_sent: int


def second_samples(frame: FeatureFrameV1) -> list[tuple[float, float, float]]:
    """52 raw samples whose mean is the frame's gravity, with a walking bounce when the frame moves."""
    g = frame.gravity or (0.0, 0.0, 1.0)
    moving = (frame.sd_mg or 0.0) > 100 or frame.steps > 0
    out = []
    for i in range(RATE_HZ):
        scale = 1.0 + (0.3 * math.sin(2 * math.pi * 1.8 * i / RATE_HZ) if moving else 0.0)
        out.append((g[0] * scale, g[1] * scale, g[2] * scale))
    return out


async def _stream(emulator: KineticDiyEmulator, scenario: Scenario, script: WearerScript, speed: float) -> int:
    loop = asyncio.get_running_loop()
    wall0 = loop.time()
    sent = 0
    for frame in frames_for(scenario, script):
        offset_s = (frame.t_ms - scenario.start_ms) / 1000
        samples = second_samples(frame)
        for i in range(0, RATE_HZ, PER_PACKET):
            chunk = samples[i : i + PER_PACKET]
            due = wall0 + (offset_s + (i + len(chunk)) / RATE_HZ) / speed
            await asyncio.sleep(max(0.0, due - loop.time()))
            await emulator.device.notify_subscribers(emulator.motion, encode_motion(emulator.counter, chunk))
            emulator.counter += len(chunk)
            sent += len(chunk)
    return sent


async def simulate_ble(
    scenario: Scenario, *, mqtt: MqttSettings, topics: Topics, speed: float, queue_path: Path, batch_s: int = 10
) -> BleSimulation:
    if speed <= 0:
        raise ValueError("--ble needs a speed above 0: every sample is emulated in (accelerated) real time")
    radio = VirtualRadio()
    await radio.start()
    emulators, wearables = [], []
    for i, script in enumerate(scenario.wearers):
        address = f"F3:00:00:00:{i // 256:02X}:{i % 256:02X}"
        emulator = KineticDiyEmulator(radio.peripheral(f"sim-{script.device}", address), RATE_HZ, PER_PACKET)
        await emulator.start(f"Kinetic sim {i}")
        emulators.append(emulator)
        wearables.append(
            WearableConfig(
                wearer=script.wearer,
                device=script.device,
                profile="kinetic-diy",
                placement=script.placement,
                address=address,
            )
        )
    start_s = scenario.start_ms / 1000
    epoch = [time.time()]
    collector = Collector(
        CollectorSettings(wearables=wearables, batch_s=batch_s, scan_timeout_s=5),
        topics,
        Spool(queue_path, 256_000_000),
        scanner_kwargs=radio.scanner_kwargs(),
        client_kwargs=radio.client_kwargs(),
        clock=lambda: start_s + (time.time() - epoch[0]) * speed,  # the scenario clock
    )
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(collector.run(stop))
        group.create_task(
            serve(collector.forward, mqtt, f"{mqtt.client_id_prefix}-sim-ble", stop, will=collector.will())
        )
        while not all(collector.connected.values()):
            await asyncio.sleep(0.05)
        epoch[0] = time.time()
        sent = sum(
            await asyncio.gather(
                *(_stream(e, scenario, s, speed) for e, s in zip(emulators, scenario.wearers, strict=True))
            )
        )
        stop.set()
    return BleSimulation(collector.counters, sent)
