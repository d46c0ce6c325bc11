"""End-to-end bridge throughput (MQTT -> spool -> InfluxDB) as a ratio to influxd's own raw write rate,
both measured in this run on real Mosquitto and influxd 1.x started here on loopback.

    .venv/bin/python -m bench.bridge_throughput [--frames 200000] [--per-message 50] [--wearers 1] [--rounds 3]

1. Baseline: the same number of points, prebuilt as line protocol, POSTed to influxd in batches of the
   bridge's size (5000), one after another: what the database takes with no work before it.
2. Bridge: the frames are published first (QoS 1) into the bridge's persistent session while it is away,
   then the bridge starts and the clock runs until every point is in influxd: decode, validate, encode,
   spool (fsync), acknowledge, drain.

Target (issue #6, #18 item 3): bridge / baseline >= 0.8. Shared, noisy machines: compare the ratio, not the
seconds. Each phase also reports the CPU seconds this process (the bridge, or the baseline's client), influxd and
Mosquitto spent in it (from /proc), to show where the time goes on these 2 cores; and, the figure contention
distorts least, the bridge's CPU per point: this process's CPU time in the bridge phase (every thread: decoding,
line protocol, rollups, spool, MQTT, HTTP) over the points it wrote (frames plus their minute rollups), in
microseconds (#18 item 3 asks for <= 2.5), beside influxd's CPU per point in the raw phase. ``--wearers`` spreads
the frames over many wearers (one series and one open rollup minute each), as a deployment has them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import aiomqtt

from ingest.bridge import Bridge
from ingest.mqtt import serve
from ingest.settings import BridgeSettings, InfluxSettings, MqttSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.model import feature_points
from ingest.store.points import to_line_protocol
from ingest.store.spool import Spool
from ingest.wire import Topics, encode
from tests.support.servers import start_influxd, start_mosquitto


def scenario_batches(frames: int, per_message: int, wearers: int = 1):  # type: ignore[no-untyped-def]
    """``frames`` frames in batches of ``per_message``, spread over ``wearers`` sitting wearers (one trunk sensor
    each), in the order they would come: every wearer's first batch, then every wearer's second, ..."""
    each = frames // wearers
    scenario = parse_scenario(f"wearers:\n  - wearer: bench\n    placement: trunk\n    segments: [sit {each}s]\n")
    batches = list(batches_for(scenario, scenario.wearers[0], per_message))
    if wearers == 1:
        return batches
    return [
        b.model_copy(update={"wearer": f"bench{w}", "device": f"bench{w}-trunk"})
        for b in batches
        for w in range(wearers)
    ]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def used(self) -> dict[str, float]:
        return {name: round(cpu_seconds(pid) - self.start[name], 2) for name, pid in self.pids.items()}


def count(url: str, db: str) -> int:
    import json

    q = urllib.parse.urlencode({"db": db, "q": "SELECT count(incl_deg) FROM features"})
    with urllib.request.urlopen(f"{url}/query?{q}", timeout=30) as response:
        result = json.loads(response.read())["results"][0]
    return int(result["series"][0]["values"][0][1]) if "series" in result else 0


async def baseline(
    url: str, frames: int, per_message: int, batch_points: int, db: str, pids: dict[str, int], wearers: int = 1
) -> tuple[float, dict[str, float]]:
    sink = InfluxV1Sink(InfluxSettings(url=url, database=db))
    await sink.prepare()
    points = [p for b in scenario_batches(frames, per_message, wearers) for p in feature_points(b)]
    bodies = [to_line_protocol(points[i : i + batch_points]) for i in range(0, len(points), batch_points)]
    meter = CpuMeter(pids)
    start = time.perf_counter()
    for body in bodies:
        await sink.write_lines(body)
    return len(points) / (time.perf_counter() - start), meter.used()


async def through_bridge(
    mqtt_port: int,
    url: str,
    frames: int,
    per_message: int,
    spool: Path,
    db: str,
    pids: dict[str, int],
    wearers: int = 1,
) -> tuple[float, dict[str, float]]:
    topics = Topics("bench")
    mqtt = MqttSettings(host="127.0.0.1", port=mqtt_port, topic_root="bench")
    settings = BridgeSettings(spool_path=spool)
    # 1. create the bridge's persistent session, then leave
    async with aiomqtt.Client("127.0.0.1", mqtt_port, identifier="bench-bridge", clean_session=False) as c:
        await c.subscribe(topics.all_features(), qos=1)
    # 2. publish everything into the session
    async with aiomqtt.Client("127.0.0.1", mqtt_port, identifier="bench-pub") as pub:
        for batch in scenario_batches(frames, per_message, wearers):
            await pub.publish(topics.features(batch.wearer, batch.device), encode(batch), qos=1)
    # 3. the bridge comes back and takes it all
    sink = InfluxV1Sink(InfluxSettings(url=url, database=db))
    await sink.prepare()
    bridge = Bridge(topics=topics, sink=sink, spool=Spool(spool, 1 << 30), settings=settings)
    stop = asyncio.Event()
    meter = CpuMeter(pids)
    start = time.perf_counter()
    task = asyncio.create_task(serve(bridge.run, mqtt, "bench-bridge", stop, manual_ack=True))
    while bridge.counters.points_written < frames:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    used = meter.used()
    used["points_written"] = bridge.counters.points_written  # frames plus the minute rollups completed so far
    stop.set()
    await task
    assert count(url, db) == frames
    return frames / elapsed, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=50, help="frames per MQTT message")
    parser.add_argument("--rounds", type=int, default=3, help="alternate baseline and bridge this many times")
    parser.add_argument(
        "--wearers", type=int, default=1, help="spread the frames over this many wearers (a minute each in the rollup)"
    )
    args = parser.parse_args()
    if args.frames % args.wearers:
        parser.error(f"--frames {args.frames} is not a multiple of --wearers {args.wearers}")
    load_before = os.getloadavg()[0]  # a shared machine: the load says how far the figures are from a quiet one
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(Path(tmp) / "mosquitto")
        influx = start_influxd(Path(tmp) / "influxd")
        try:
            raw: list[float] = []
            bridged: list[float] = []
            ratios: list[float] = []
            bridge_us: list[float] = []
            influxd_us: list[float] = []
            pids = {"python": os.getpid(), "influxd": influx.process.pid, "mosquitto": broker.process.pid}
            for i in range(args.rounds):
                # fresh databases each round: both sides write new points into an empty database
                rate, raw_cpu = asyncio.run(
                    baseline(influx.url, args.frames, args.per_message, 5000, f"raw{i}", pids, args.wearers)
                )
                raw.append(rate)
                spool = Path(tmp) / f"spool{i}.sqlite"
                rate, bridge_cpu = asyncio.run(
                    through_bridge(
                        broker.port, influx.url, args.frames, args.per_message, spool, f"br{i}", pids, args.wearers
                    )
                )
                bridged.append(rate)
                ratios.append(bridged[-1] / raw[-1])
                written = bridge_cpu.pop("points_written")
                bridge_us.append(bridge_cpu["python"] / written * 1e6)
                influxd_us.append(raw_cpu["influxd"] / args.frames * 1e6)
                print(
                    f"round {i + 1}: influxd raw {raw[-1]:,.0f} points/s (CPU s {raw_cpu}), bridge "
                    f"{bridged[-1]:,.0f} points/s (CPU s {bridge_cpu}), ratio {ratios[-1]:.2f}; "
                    f"bridge {bridge_us[-1]:.2f} CPU-us per point ({written:,.0f} points), "
                    f"influxd {influxd_us[-1]:.2f} CPU-us per raw point",
                    flush=True,
                )
        finally:
            broker.stop()
            influx.stop()
    print(
        f"median of {args.rounds} rounds: raw {statistics.median(raw):,.0f} points/s, bridge "
        f"{statistics.median(bridged):,.0f} points/s, ratio {statistics.median(ratios):.2f} (target >= 0.8); "
        f"bridge {statistics.median(bridge_us):.2f} CPU-us per point (target <= 2.5), influxd "
        f"{statistics.median(influxd_us):.2f} CPU-us per raw point; "
        f"{args.per_message} frames per MQTT message, {args.frames:,} points per run from {args.wearers:,} "
        f"wearers; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )


if __name__ == "__main__":
    main()
