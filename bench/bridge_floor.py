"""The least CPU per point the bridge's design can spend on this machine: each part of its work on a feature batch
measured alone, in one process, on the data of ``bench.bridge_throughput``'s burst (the same frames, messages and
write size), beside the bridge's own CPU per point in the same run (issue 18 item 3 asks for <= 2.5 us).

    .venv/bin/python -m bench.bridge_floor [--frames 200000] [--per-message 50] [--rounds 3]

Parts (CPU time of this process over the part, divided by the points written; the least of ``--rounds``, so warm
caches and no other work in the process: a floor, not what the parts cost together):

- ``mqtt``: the messages taken from a persistent session on Mosquitto (QoS 1) with the bridge's client
  (``ingest.mqtt``: paho through aiomqtt, buffered reads) and acknowledged, nothing else done with them;
- ``decode``: msgspec's decoding and validation against the wire contract, and the batch rules
  (``ingest.store.fast_features.decode_features``);
- ``line_protocol``: the batches' line protocol (``fast_feature_lines``);
- ``rollup``: the minute rollup (``MinuteRollup.add``), its points' line protocol, and its state saved with each
  transaction (``state_changes``);
- ``spool``: the bodies appended to the SQLite spool in transactions of ``BATCH_MAX_POINTS`` with fsync, read back
  and removed (``ingest.store.spool``), as the bridge does;
- ``http``: the bodies POSTed to influxd (``InfluxV1Sink.write_lines``): the client's side of the requests.

Then the bridge itself, as ``bench.bridge_throughput`` runs it (every thread: the parts together, with asyncio's
hand-offs between them and the contention of influxd on the same cores). The sum of the parts is what the design
costs with nothing lost between them; a target below it needs other parts (another MQTT client, no re-encoding,
another spool), not a tighter bridge.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import aiomqtt

from bench.bridge_throughput import count, scenario_batches, through_bridge
from ingest.mqtt import MessageTaker, MqttClient, ack, serve
from ingest.settings import BridgeSettings, InfluxSettings, MqttSettings
from ingest.store.fast_features import BatchLike, decode_features, fast_feature_lines
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.points import to_line_protocol
from ingest.store.rollup import MinuteRollup
from ingest.store.spool import Spool
from ingest.wire import Topics, encode
from tests.support.servers import start_influxd, start_mosquitto

BATCH_MAX_POINTS = BridgeSettings().batch_max_points  # the bridge's default transaction and write size


def cpu_us_per_point(work: Callable[[], object], points: int) -> float:
    """This process's CPU time (every thread, user and kernel) over ``work()``, per point, in microseconds."""
    start = time.process_time()
    work()
    return (time.process_time() - start) / points * 1e6


def bodies_of(batches: list[BatchLike]) -> list[tuple[bytes, int]]:
    """The batches' line protocol and their completed minutes' in spool entries of BATCH_MAX_POINTS points, as the
    bridge's consumer commits them."""
    out: list[tuple[bytes, int]] = []
    parts: list[bytes] = []
    points = 0
    rollup = MinuteRollup()
    for batch in batches:
        parts.append(fast_feature_lines(batch))
        points += len(batch.frames)
        rolled = rollup.add(batch)
        if rolled:
            parts.append(to_line_protocol(rolled))
            points += len(rolled)
        if points >= BATCH_MAX_POINTS:
            out.append((b"".join(parts), points))
            parts, points = [], 0
    if parts:
        out.append((b"".join(parts), points))
    return out


def rollup_all(batches: list[BatchLike], commit_every: int) -> int:
    rollup = MinuteRollup()
    points = 0
    for i, batch in enumerate(batches, 1):
        rolled = rollup.add(batch)
        if rolled:
            to_line_protocol(rolled)
            points += len(rolled)
        if i % commit_every == 0:
            rollup.state_changes()
    return points


def spool_all(path: Path, bodies: list[tuple[bytes, int]]) -> None:
    spool = Spool(path, 1 << 31)
    rollup_member = {"rollup": {"bench/bench-trunk": '{"frames": 1}'}}  # one device's minute, as each commit saves
    for body, points in bodies:
        spool.append(body, points, None, rollup_member)
    while entries := spool.peek(BATCH_MAX_POINTS):
        spool.remove(entries)
    spool.close()


async def take_and_ack(port: int, payloads: list[bytes], root: str) -> float:
    """Publish ``payloads`` into a persistent session while its client is away; then the CPU-us of this process to
    take every message with the bridge's client and acknowledge it (per message)."""
    topics = Topics(root)
    topic = topics.features("bench", "bench-trunk")
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"{root}-floor", clean_session=False) as c:
        await c.subscribe(topics.all_features(), qos=1)
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"{root}-pub") as pub:
        for payload in payloads:
            await pub.publish(topic, payload, qos=1)
    stop = asyncio.Event()
    used: list[float] = []

    async def run(client: MqttClient, stop: asyncio.Event) -> None:
        await client.subscribe(topics.all_features(), qos=1)
        taker = MessageTaker(client)
        taken = 0
        start = time.process_time()
        while taken < len(payloads):
            batch = await taker.take()
            for message in batch:
                ack(client, message.mid, message.qos)
            taken += len(batch)
        used.append(time.process_time() - start)
        taker.close()
        stop.set()

    await serve(run, MqttSettings(host="127.0.0.1", port=port, topic_root=root), f"{root}-floor", stop, manual_ack=True)
    return used[0] / len(payloads) * 1e6


async def write_all(sink: InfluxV1Sink, bodies: list[tuple[bytes, int]]) -> None:
    for body, _ in bodies:
        await sink.write_lines(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=50, help="frames per MQTT message")
    parser.add_argument("--rounds", type=int, default=3, help="each part this many times; the least is kept")
    args = parser.parse_args()
    batches = scenario_batches(args.frames, args.per_message)
    payloads = [encode(b) for b in batches]
    fast = [decode_features(p) for p in payloads]
    if any(b is None for b in fast):
        raise SystemExit("the fast path refused the bench's own batches")
    del batches  # the pydantic models: a heap of tracked objects that bench.bridge_throughput does not keep either
    decoded = [b for b in fast if b is not None]
    bodies = bodies_of(decoded)
    frames = sum(len(b.frames) for b in decoded)
    commit_every = max(1, BATCH_MAX_POINTS // args.per_message)
    rolled = rollup_all(decoded, commit_every)
    points = frames + rolled  # what the bridge writes: the frames and their completed minutes
    if sum(n for _, n in bodies) != points:
        raise SystemExit("the spool entries do not hold every point the bridge would write")
    load_before = os.getloadavg()[0]
    parts: dict[str, list[float]] = {
        k: [] for k in ("mqtt", "decode", "line_protocol", "rollup", "spool", "http", "bridge")
    }
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(Path(tmp) / "mosquitto")
        influx = start_influxd(Path(tmp) / "influxd")
        try:
            pids = {"python": os.getpid(), "influxd": influx.process.pid, "mosquitto": broker.process.pid}
            for i in range(args.rounds):
                per_message = asyncio.run(take_and_ack(broker.port, payloads, f"floor{i}"))
                parts["mqtt"].append(per_message * len(payloads) / points)
                parts["decode"].append(cpu_us_per_point(lambda: [decode_features(p) for p in payloads], points))
                parts["line_protocol"].append(
                    cpu_us_per_point(lambda: [fast_feature_lines(b) for b in decoded], points)
                )
                parts["rollup"].append(cpu_us_per_point(lambda: rollup_all(decoded, commit_every), points))
                spool_path = Path(tmp) / f"spool{i}.sqlite"
                parts["spool"].append(cpu_us_per_point(partial(spool_all, spool_path, bodies), points))
                sink = InfluxV1Sink(InfluxSettings(url=influx.url, database=f"floor{i}"))
                asyncio.run(sink.prepare())  # the database made before the part's clock starts
                parts["http"].append(cpu_us_per_point(partial(asyncio.run, write_all(sink, bodies)), points))
                if count(influx.url, f"floor{i}") != frames:
                    raise SystemExit("influxd did not store every frame the floor's writes sent")
                _, used = asyncio.run(
                    through_bridge(
                        broker.port,
                        influx.url,
                        args.frames,
                        args.per_message,
                        Path(tmp) / f"bridge{i}.sqlite",
                        f"bridge{i}",
                        pids,
                    )
                )
                parts["bridge"].append(used["python"] / used["points_written"] * 1e6)
                print(
                    f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in parts.items()) + " CPU-us per point",
                    flush=True,
                )
        finally:
            broker.stop()
            influx.stop()
    least = {k: min(v) for k, v in parts.items()}
    floor = sum(v for k, v in least.items() if k != "bridge")
    print(
        "least of "
        f"{args.rounds} rounds, CPU-us per point ({points:,} points: {frames:,} frames in messages of "
        f"{args.per_message}, {rolled:,} minute rollups): "
        + ", ".join(f"{k} {v:.2f}" for k, v in least.items() if k != "bridge")
        + f"; sum of the parts (the design's floor) {floor:.2f}; the bridge itself {least['bridge']:.2f} "
        f"(median {sorted(parts['bridge'])[len(parts['bridge']) // 2]:.2f}); issue 18 item 3 asks for <= 2.5; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )


if __name__ == "__main__":
    main()
