"""End-to-end bridge throughput (MQTT -> spool -> InfluxDB) as a ratio to influxd's own raw write rate,
both measured in this run on real Mosquitto and influxd 1.x started here on loopback.

    .venv/bin/python -m bench.bridge_throughput [--frames 200000] [--per-message 50] [--wearers 1] [--rounds 3]
    .venv/bin/python -m bench.bridge_throughput --rate 1000 --per-message 10 [--seconds 70]     (the live pattern)

1. Baseline: the same number of points, prebuilt as line protocol, POSTed to influxd in batches of the
   bridge's size (5000), one after another: what the database takes with no work before it. Then the same with two
   writes in flight, printed beside it: the database takes more than one request at a time, and the bridge's
   drainer writes one at a time, so a ratio to the one-request rate is not a ratio to what influxd can take.
2. Bridge: the frames are published first (QoS 1) into the bridge's persistent session while it is away,
   then the bridge starts and the clock runs until every point is in influxd: decode, validate, encode,
   spool (fsync), acknowledge, drain.

Target (issue #6, #18 item 3): bridge / baseline >= 0.8. Shared, noisy machines: compare the ratio, not the
seconds. Each phase also reports the CPU seconds this process (the bridge, or the baseline's client), influxd and
Mosquitto spent in it (from /proc), to show where the time goes on these 2 cores; and, the figure contention
distorts least, the bridge's CPU per point: this process's CPU time in the bridge phase (every thread: decoding,
line protocol, rollups, spool, MQTT, HTTP) over the points it wrote (frames plus their minute rollups), in
microseconds (#18 item 3 asks for <= 2.5), beside influxd's CPU per point in the raw phase.
Each round also splits the bridge's CPU per point: its event loop's thread (MQTT, decoding, line protocol, rollups),
the other threads (spool transactions and reads, HTTP writes), and of the two the time in the kernel (system calls,
fsync, copies): where a floor lies. ``--wearers`` spreads
the frames over many wearers (one series and one open rollup minute each), as a deployment has them.

Steady rate (``--rate MSGS_PER_S``): the live pattern instead of a burst. ``rate x per-message`` wearers, each sending
a message of ``--per-message`` frames (1 s apart) every ``--per-message`` seconds, their clocks spread over the
seconds as bench/alerts_scale.py's generator (which this mode runs, in its own process) spreads them; the bridge runs
here, connected before the first message. Once every wearer has sent (``STAGGER_S`` + a message's seconds), CPU time
is counted until the generator stops: the bridge's CPU-s per second and CPU-us per point written in that window,
beside influxd's (the same points, written by the bridge) and Mosquitto's; then every frame sent must be stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import aiomqtt

from bench.alerts_scale import STAGGER_S
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


def own_cpu_split() -> dict[str, float]:
    """This process's CPU seconds so far: the event loop's thread (the main thread: MQTT, decoding, line protocol,
    rollups), the other threads (asyncio.to_thread's workers: spool transactions, reads and removals, HTTP writes),
    and of the whole, the time in the kernel (``os.times``: system calls, fsync, copies)."""
    pid = os.getpid()
    loop = 0.0
    others = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        if int(tid) == pid:
            loop = seconds
        else:
            others += seconds
    return {"event_loop": loop, "other_threads": others, "kernel": os.times().system}


def count(url: str, db: str) -> int:
    q = urllib.parse.urlencode({"db": db, "q": "SELECT count(incl_deg) FROM features"})
    with urllib.request.urlopen(f"{url}/query?{q}", timeout=30) as response:
        result = json.loads(response.read())["results"][0]
    return int(result["series"][0]["values"][0][1]) if "series" in result else 0


async def baseline(
    url: str,
    frames: int,
    per_message: int,
    batch_points: int,
    db: str,
    pids: dict[str, int],
    wearers: int = 1,
    in_flight: int = 1,
) -> tuple[float, dict[str, float]]:
    """influxd's raw rate: the points prebuilt as line protocol, POSTed in batches of ``batch_points`` with
    ``in_flight`` requests at a time (1: one after another, as the bridge's drainer writes). Points/s and the CPU
    seconds each process spent."""
    sink = InfluxV1Sink(InfluxSettings(url=url, database=db))
    await sink.prepare()
    points = [p for b in scenario_batches(frames, per_message, wearers) for p in feature_points(b)]
    bodies = iter([to_line_protocol(points[i : i + batch_points]) for i in range(0, len(points), batch_points)])

    async def writer() -> None:
        for body in bodies:  # one iterator for all writers: each body is written once
            await sink.write_lines(body)

    meter = CpuMeter(pids)
    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(in_flight)))
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
    split = own_cpu_split()
    start = time.perf_counter()
    task = asyncio.create_task(serve(bridge.run, mqtt, "bench-bridge", stop, manual_ack=True))
    while bridge.counters.points_written < frames:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    used = meter.used()
    # threads that ended in the phase drop out of the split (the executor keeps its workers: none here)
    used |= {f"python_{k}": round(v - split[k], 2) for k, v in own_cpu_split().items()}
    used["points_written"] = bridge.counters.points_written  # frames plus the minute rollups completed so far
    stop.set()
    await task
    assert count(url, db) == frames
    return frames / elapsed, used


async def steady(
    mqtt_port: int,
    url: str,
    rate: int,
    per_message: int,
    seconds: int,
    spool: Path,
    pids: dict[str, int],
    round_number: int = 1,
) -> dict[str, float]:
    """The bridge under ``rate`` messages per second of ``per_message`` frames for ``seconds`` (module docstring);
    the figures of the steady window, and how long the bridge took after the generator to store everything. Each
    round has a topic root and a database of its own (``steadyN``): what is stored is this round's."""
    root = db = f"steady{round_number}"
    wearers = rate * per_message
    mqtt = MqttSettings(host="127.0.0.1", port=mqtt_port, topic_root=root)
    sink = InfluxV1Sink(InfluxSettings(url=url, database=db))
    await sink.prepare()
    bridge = Bridge(
        topics=Topics(root), sink=sink, spool=Spool(spool, 1 << 30), settings=BridgeSettings(spool_path=spool)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(bridge.run, mqtt, f"bench-bridge-{root}", stop, manual_ack=True))
    await bridge.ready.wait()
    generator = ["--generate", str(wearers), "--seconds", str(seconds), "--batch-s", str(per_message)]
    gen = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.alerts_scale",
        *generator,
        *("--root", root, "--port", str(mqtt_port)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    started = time.perf_counter()
    warm_s = STAGGER_S + per_message + 2  # every wearer has sent at least once: the rate is steady from here
    await asyncio.sleep(warm_s)
    meter = CpuMeter(pids | {"generator": gen.pid})
    points0, messages0, t0 = bridge.counters.points_written, bridge.counters.messages, time.perf_counter()
    await asyncio.sleep(max(1.0, seconds + 1 - (time.perf_counter() - started)))
    used = meter.used()
    window_s = time.perf_counter() - t0
    points = bridge.counters.points_written - points0
    messages = bridge.counters.messages - messages0
    out, err = await gen.communicate()
    if gen.returncode != 0:
        raise SystemExit(f"the generator failed:\n{err.decode()}")
    sent = int(json.loads(out)["sent"])
    ended = time.perf_counter()
    while count(url, db) < sent and time.perf_counter() - ended < 120:
        await asyncio.sleep(0.5)
    caught_up_s = time.perf_counter() - ended
    stop.set()
    await task
    stored = count(url, db)
    if stored != sent:
        raise SystemExit(f"the bridge stored {stored} of the {sent} frames sent")
    return {
        "wearers": wearers,
        "window_s": round(window_s, 1),
        "messages_per_s": round(messages / window_s),
        "points_per_s": round(points / window_s),
        "bridge_cpu_s_per_s": round(used["python"] / window_s, 3),
        "bridge_us_per_point": round(used["python"] / points * 1e6, 2),
        "influxd_cpu_s_per_s": round(used["influxd"] / window_s, 3),
        "influxd_us_per_point": round(used["influxd"] / points * 1e6, 2),
        "mosquitto_cpu_s_per_s": round(used["mosquitto"] / window_s, 3),
        "generator_cpu_s_per_s": round(used["generator"] / window_s, 3),
        "frames_sent": sent,
        "stored_after_s": round(caught_up_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=50, help="frames per MQTT message")
    parser.add_argument("--rounds", type=int, default=3, help="alternate baseline and bridge this many times")
    parser.add_argument(
        "--wearers", type=int, default=1, help="spread the frames over this many wearers (a minute each in the rollup)"
    )
    parser.add_argument(
        "--rate",
        type=int,
        help="steady rate: this many messages per second (rate x per-message wearers) instead of a burst",
    )
    parser.add_argument("--seconds", type=int, default=70, help="with --rate: how long the generator runs")
    args = parser.parse_args()
    if args.rate:
        if args.seconds < STAGGER_S + args.per_message + 10:
            parser.error(f"--seconds must leave a steady window: at least {STAGGER_S + args.per_message + 10}")
        main_steady(args.rate, args.per_message, args.seconds, args.rounds)
        return
    if args.frames % args.wearers:
        parser.error(f"--frames {args.frames} is not a multiple of --wearers {args.wearers}")
    load_before = os.getloadavg()[0]  # a shared machine: the load says how far the figures are from a quiet one
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(Path(tmp) / "mosquitto")
        influx = start_influxd(Path(tmp) / "influxd")
        try:
            raw: list[float] = []
            raw2: list[float] = []  # two writes in flight
            bridged: list[float] = []
            ratios: list[float] = []
            bridge_us: list[float] = []
            influxd_us: list[float] = []
            loop_us: list[float] = []  # the bridge's event-loop thread, CPU-us per point
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
                # what influxd takes with two writes in flight (after the bridge: its writes must not overlap the
                # bridge's phase): the database's rate is not the one-request rate
                raw2.append(
                    asyncio.run(
                        baseline(influx.url, args.frames, args.per_message, 5000, f"rawtwo{i}", pids, args.wearers, 2)
                    )[0]
                )
                written = bridge_cpu.pop("points_written")
                bridge_us.append(bridge_cpu["python"] / written * 1e6)
                parts = {
                    k.removeprefix("python_"): bridge_cpu.pop(k) / written * 1e6
                    for k in list(bridge_cpu)
                    if k.startswith("python_")
                }
                loop_us.append(parts["event_loop"])
                influxd_us.append(raw_cpu["influxd"] / args.frames * 1e6)
                print(
                    f"round {i + 1}: influxd raw {raw[-1]:,.0f} points/s (CPU s {raw_cpu}; with two writes in flight "
                    f"{raw2[-1]:,.0f}), bridge "
                    f"{bridged[-1]:,.0f} points/s (CPU s {bridge_cpu}), ratio {ratios[-1]:.2f}; "
                    f"bridge {bridge_us[-1]:.2f} CPU-us per point ({written:,.0f} points), "
                    f"influxd {influxd_us[-1]:.2f} CPU-us per raw point; the bridge's per point: event loop "
                    f"{parts['event_loop']:.2f}, other threads {parts['other_threads']:.2f}, of both in the kernel "
                    f"{parts['kernel']:.2f} us",
                    flush=True,
                )
        finally:
            broker.stop()
            influx.stop()
    print(
        f"median of {args.rounds} rounds: raw {statistics.median(raw):,.0f} points/s (two writes in flight "
        f"{statistics.median(raw2):,.0f}), bridge "
        f"{statistics.median(bridged):,.0f} points/s, ratio {statistics.median(ratios):.2f} (target >= 0.8; to the "
        f"rate with two writes in flight {statistics.median(b / r for b, r in zip(bridged, raw2, strict=True)):.2f}); "
        f"bridge {statistics.median(bridge_us):.2f} CPU-us per point (target <= 2.5; its event loop "
        f"{statistics.median(loop_us):.2f}), influxd "
        f"{statistics.median(influxd_us):.2f} CPU-us per raw point; "
        f"{args.per_message} frames per MQTT message, {args.frames:,} points per run from {args.wearers:,} "
        f"wearers; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )


def main_steady(rate: int, per_message: int, seconds: int, rounds: int) -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(Path(tmp) / "mosquitto", extra_config="max_inflight_messages 0\n")  # as deployed
        influx = start_influxd(Path(tmp) / "influxd")
        try:
            pids = {"python": os.getpid(), "influxd": influx.process.pid, "mosquitto": broker.process.pid}
            for i in range(rounds):
                spool = Path(tmp) / f"steady{i}.sqlite"
                figures = asyncio.run(steady(broker.port, influx.url, rate, per_message, seconds, spool, pids, i + 1))
                print(f"round {i + 1}: {json.dumps(figures)}", flush=True)
        finally:
            broker.stop()
            influx.stop()
    print(
        f"steady rate {rate} messages/s of {per_message} frames, {seconds} s; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )


if __name__ == "__main__":
    main()
