"""Collector CPU per raw sample: 10 emulated DIY wearables at 52 Hz (10 samples per notification) on the Bumble
virtual radio, through the real collector into a real Mosquitto started here, with the emulators' own share
measured separately in the same run and subtracted.

    .venv/bin/python -m bench.collector [--seconds 10] [--wearables 10]

Run A (baseline): the emulators stream to plain bleak subscribers that only count the notifications: emulators,
radio and bleak. Run B: the same through the collector (decode, edge features, batches, queue, MQTT). The
collector's own cost is (B - A) CPU seconds divided by the samples. Process CPU time, so other load on the
machine does not count; still, compare runs made on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from pathlib import Path

from bleak import BleakClient

from ingest.ble.bumble_backend import VirtualRadio
from ingest.ble.collector import Collector
from ingest.ble.emulators.kinetic_diy import KineticDiyEmulator
from ingest.ble.profiles import kinetic_diy
from ingest.mqtt import serve
from ingest.settings import CollectorSettings, MqttSettings, WearableConfig
from ingest.store.spool import Spool
from ingest.wire import Topics
from tests.support.servers import start_mosquitto

RATE_HZ = 52


def samples(seconds: float, phase: float) -> list[tuple[float, float, float]]:
    n = int(seconds * RATE_HZ)
    return [(0.1 * math.sin(phase + i / 10), 0.05, 0.99) for i in range(n)]


async def emulators(radio: VirtualRadio, count: int) -> list[KineticDiyEmulator]:
    out = []
    for i in range(count):
        emulator = KineticDiyEmulator(radio.peripheral(f"diy{i}", f"F2:00:00:00:00:{i:02X}"), RATE_HZ)
        await emulator.start(f"Kinetic DIY {i}")
        out.append(emulator)
    return out


async def baseline(count: int, seconds: float) -> tuple[float, int]:
    radio = VirtualRadio()
    await radio.start()
    devices = await emulators(radio, count)
    received = [0]
    clients = []
    for i in range(count):
        client = BleakClient(f"F2:00:00:00:00:{i:02X}", **radio.client_kwargs())
        await client.connect()
        await client.start_notify(kinetic_diy.MOTION, lambda _, d: received.__setitem__(0, received[0] + 1))
        clients.append(client)
    cpu = time.process_time()
    await asyncio.gather(*(d.stream(samples(seconds, i)) for i, d in enumerate(devices)))
    used = time.process_time() - cpu
    for client in clients:
        await client.disconnect()
    return used, sum(d.counter for d in devices)


async def with_collector(count: int, seconds: float, mqtt_port: int, queue: Path) -> tuple[float, int, int]:
    radio = VirtualRadio()
    await radio.start()
    devices = await emulators(radio, count)
    wearables = [
        WearableConfig(
            wearer=f"w{i}",
            device=f"w{i}-diy",
            profile="kinetic-diy",
            placement="thigh",
            address=f"F2:00:00:00:00:{i:02X}",
        )
        for i in range(count)
    ]
    collector = Collector(
        CollectorSettings(wearables=wearables, batch_s=10, scan_timeout_s=5),
        Topics("bench"),
        Spool(queue, 100_000_000),
        scanner_kwargs=radio.scanner_kwargs(),
        client_kwargs=radio.client_kwargs(),
    )
    stop = asyncio.Event()
    ble = asyncio.create_task(collector.run(stop))
    forward = asyncio.create_task(
        serve(collector.forward, MqttSettings(port=mqtt_port, topic_root="bench"), "bench-collector", stop)
    )
    while not all(collector.connected.values()):
        await asyncio.sleep(0.05)
    cpu = time.process_time()
    await asyncio.gather(*(d.stream(samples(seconds, i)) for i, d in enumerate(devices)))
    while collector.queue.batches:
        await asyncio.sleep(0.05)
    used = time.process_time() - cpu
    stop.set()
    await ble
    await forward
    return used, sum(d.counter for d in devices), collector.counters.samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--wearables", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(Path(tmp) / "mosquitto")
        try:
            base_cpu, base_samples = asyncio.run(baseline(args.wearables, args.seconds))
            full_cpu, sent, got = asyncio.run(
                with_collector(args.wearables, args.seconds, broker.port, Path(tmp) / "q.sqlite")
            )
        finally:
            broker.stop()
    share = (full_cpu - base_cpu) / max(got, 1) * 1e6
    print(
        f"{args.wearables} wearables x {RATE_HZ} Hz x {args.seconds:.0f} s: {sent} samples sent, "
        f"{got} through the collector"
    )
    print(
        f"CPU: emulators + radio + bleak {base_cpu:.2f} s ({base_cpu / base_samples * 1e6:.1f} us/sample); "
        f"with the collector {full_cpu:.2f} s"
    )
    print(
        f"collector's own share: {share:.1f} us of CPU per raw sample "
        f"({share * RATE_HZ * args.wearables / 1e4:.2f} % of one core for {args.wearables} wearables at {RATE_HZ} Hz)"
    )


if __name__ == "__main__":
    main()
