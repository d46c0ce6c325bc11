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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.ble.bumble_backend import VirtualRadio
from ingest.ble.collector import Collector, CollectorCounters
from ingest.ble.emulators.kinetic_diy import KineticDiyEmulator
from ingest.ble.emulators.notify import realtime
from ingest.errors import ConfigError
from ingest.mqtt import serve
from ingest.recordings.datasets import read_recording
from ingest.settings import CollectorSettings, MqttSettings, WearableConfig
from ingest.simulate.scenario import Scenario, WearerScript
from ingest.simulate.synth import frames_for
from ingest.store.spool import Spool
from ingest.wire import FeatureFrameV1, Placement, Topics

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
    pace = realtime(speed)
    sent = 0
    for frame in frames_for(scenario, script):
        offset_s = (frame.t_ms - scenario.start_ms) / 1000
        samples = second_samples(frame)
        for i in range(0, RATE_HZ, PER_PACKET):
            chunk = samples[i : i + PER_PACKET]
            await emulator.send(chunk, offset_s + (i + len(chunk)) / RATE_HZ, pace)
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
        wearables.append(_diy(script.wearer, script.device, script.placement, address))
    streams = [
        lambda e=e, s=s: _stream(e, scenario, s, speed) for e, s in zip(emulators, scenario.wearers, strict=True)
    ]
    return await _run(radio, wearables, streams, mqtt, topics, speed, queue_path, batch_s, scenario.start_ms)


def _diy(wearer: str, device: str, placement: Placement, address: str) -> WearableConfig:
    return WearableConfig(wearer=wearer, device=device, profile="kinetic-diy", placement=placement, address=address)


async def _run(
    radio: VirtualRadio,
    wearables: list[WearableConfig],
    streams: Sequence[Callable[[], Awaitable[int]]],
    mqtt: MqttSettings,
    topics: Topics,
    speed: float,
    queue_path: Path,
    batch_s: int,
    start_ms: int,
) -> BleSimulation:
    """The real collector on the virtual radio, on a clock that starts at ``start_ms`` and runs ``speed`` x."""
    start_s = start_ms / 1000
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
        sent = sum(await asyncio.gather(*(stream() for stream in streams)))
        stop.set()
    return BleSimulation(collector.counters, sent)


@dataclass(frozen=True)
class Replay:
    """Raw samples of one recording (../shared/data layout) for one placement, in g, with their times."""

    name: str
    placement: Placement
    rate_hz: float
    t_ms: list[int]  # from the recording's start
    samples: list[tuple[float, float, float]]


def load_replay(path: Path, placement: Placement | None = None, seconds: float | None = None) -> Replay:
    """Read a recording through its dataset's description (units to g, columns to placements)."""
    description, recording = read_recording(path)
    name: str = placement or next(iter(recording.acc_g))
    if name not in recording.acc_g:
        raise ConfigError(f"{path.name}: no {name} sensor (it has {', '.join(recording.acc_g)})")
    chosen: Placement = "thigh" if name == "thigh" else "trunk" if name == "trunk" else "wrist"
    t = [int(v - recording.t_ms[0]) for v in recording.t_ms.tolist()]
    keep = len(t) if seconds is None else sum(1 for v in t if v < seconds * 1000)
    rate = description.rate_hz or (1000 * (len(t) - 1) / t[-1] if len(t) > 1 and t[-1] > 0 else 50.0)
    samples = [(float(x), float(y), float(z)) for x, y, z in recording.acc_g[name][:keep].tolist()]
    return Replay(path.name, chosen, float(rate), t[:keep], samples)


async def _stream_replay(emulator: KineticDiyEmulator, replay: Replay, speed: float) -> int:
    pace = realtime(speed)
    per_packet = max(1, round(replay.rate_hz / 4))
    for i in range(0, len(replay.samples), per_packet):
        chunk = replay.samples[i : i + per_packet]
        await emulator.send(chunk, replay.t_ms[i + len(chunk) - 1] / 1000, pace)
    return len(replay.samples)


async def replay_ble(
    replay: Replay,
    *,
    wearer: str,
    mqtt: MqttSettings,
    topics: Topics,
    speed: float,
    queue_path: Path,
    start_ms: int,
    batch_s: int = 10,
) -> BleSimulation:
    """A recording's raw samples sent by an emulated DIY sensor at the recording's rate, through the collector."""
    if speed <= 0:
        raise ValueError("--replay needs a speed above 0: every sample is emulated in (accelerated) real time")
    radio = VirtualRadio()
    await radio.start()
    address = "F3:00:00:01:00:00"
    rate = max(1, round(replay.rate_hz))
    emulator = KineticDiyEmulator(radio.peripheral("replay", address), rate, max(1, round(rate / 4)))
    await emulator.start("Kinetic replay")
    wearable = _diy(wearer, f"{wearer}-{replay.placement}", replay.placement, address)
    streams = [lambda: _stream_replay(emulator, replay, speed)]
    return await _run(radio, [wearable], streams, mqtt, topics, speed, queue_path, batch_s, start_ms)
