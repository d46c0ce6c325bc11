"""Alert-service scale: N simulated wearers, one feature frame per second each, through real Mosquitto, with the
bridge writing every frame to a real influxd at the same time; all on this machine.

    .venv/bin/python -m bench.alerts_scale [--stages 10:10000,1:5000] [--seconds 70] [--threshold-s 30] [--aligned]
                                           [--instances N [--kill-s S]] [--wait-s 30] [--keep DIR]

One Mosquitto and one influxd for all stages, Mosquitto configured as deploy/mosquitto/mosquitto.conf for what
bears on latency (Nagle off, no in-flight limit, its whole store written every 60 s: ``--broker-autosave-s``; the
tests' broker writes it every second, which this benchmark did before session 16). Each stage reports the saves
that fell in it and in its crossings, with their durations (``BrokerSaves``: the broker writes its store to a
temporary file, watched every millisecond), and the store's size. After each stage its retained messages (a policy
per wearer) are cleared, so that a later stage's saves write its own store only (until session 17 they stayed: at
the third 10,000-wearer stage the store was 38 MB and a save took 99 ms against 34 ms at the first).

Per stage (a fresh topic root and fresh `kinetic bridge` and `kinetic alerts` processes, the alert service with its
state store and default checkpointing, logging at INFO, its default):

- a generator process publishes each wearer's frames (QoS 1, event time = the wall clock at publish), BATCH_S of them
  per message; wearer i starts at second i mod 20, plus its own phase within the second (wearers are switched on at
  different moments; ``--aligned``: every wearer on the same millisecond, so that each second's messages go out in
  one burst, as this generator did before issue 18), sits from its first frame, and crosses the sitting threshold
  (``--threshold-s``) once; with ``--seconds 70`` the crossings are spread over 20 s of the run (with 40, they all
  fall in one second, and the percentiles are one second's);
- ``mosquitto_sub -F '%U %p'`` stamps each prompt when it arrives; latency = arrival - the moment the generator
  published the message holding the frame that crossed the threshold;
- afterwards: prompts missing or duplicated, frames stored by the bridge vs published, CPU seconds per second of
  each process, the resident memory of `kinetic bridge` and `kinetic alerts` (VmRSS at the end of the stage and
  VmHWM, its peak, from /proc; issue 18 asks for alerts <= 200 MB at 10,000 wearers), and the alert service's own
  account of where its prompts' time went (alerts/latency.py: the newest frame's age when the service took the
  message, then take -> checkpoint cut -> the messages ahead in the take -> decode -> engine -> outbox -> the
  publication's start -> PUBACK, p50/p99/max in ms, and its checkpoints' encoding, wait, store and total).

Past one machine (issue 18 item 5, docs/scaling.md): ``--instances N`` runs N `kinetic alerts` processes, instance
i with ``KINETIC_ALERTS__SHARD=i/N`` (alerts/shard.py: each wearer on the instance of crc32(id) mod N), all on the
one Mosquitto, each receiving every message and reading only its shard's; ``--kill-s S`` kills instance 0 with
SIGKILL S seconds after the generator started and starts it again at once, mid-stage. Then reported per instance:
its prompts' latency, its CPU seconds per second (the killed process's and its replacement's, summed), its memory,
and its own account of where the time went; and for the stage: prompts missing or duplicated across instances.

A stage is *held* when no prompt is missing or duplicated, no frame is lost in storage, and p99 latency is under
1 s (issue 18's definition). Reported: p50/p99 latency per stage and the largest N held. Issue 18 asks, with 10-s
batches, for p99 <= 50 ms and p50 <= 20 ms at 10,000 wearers and 20,000 held; with one frame per message p99 <= 100
ms at 5,000 and 10,000 held. The CPU figures are per process: on a machine shared with other work, compare them
with the latencies before drawing conclusions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.shard import shard_of
from bench.cgroups import CgroupsUnavailable, ServiceCgroups
from ingest.mqtt import clear_retained, connect, retained_messages
from ingest.settings import MqttSettings
from tests.support.servers import start_influxd, start_mosquitto

STAGGER_S = 20
# deploy/mosquitto/mosquitto.conf's autosave_interval (checked by tests/unit/deploy); the tests' broker saves every 1 s
DEPLOYED_AUTOSAVE_S = 60
HELD_P99_S = 1.0
# issue 18 item 1: (seconds per message, wearers) -> (p50 target, p99 target, p50 and p99 when the issue was filed), s
LATENCY_TARGETS: dict[tuple[int, int], tuple[float | None, float, float, float]] = {
    (10, 10_000): (0.020, 0.050, 0.30, 0.61),
    (1, 5_000): (None, 0.100, 0.51, 1.09),
}
# seconds per message -> (largest number of wearers held: the target, and when the issue was filed)
HELD_TARGETS = {10: (20_000, 10_000), 1: (10_000, 5_000)}


def generate(port: int, root: str, wearers: int, seconds: int, batch_s: int, threshold_s: int, aligned: bool) -> None:
    """The load: runs in its own process so its CPU is measured apart and the GIL is not shared. Wearer i's frames
    are 1 s apart from its first second (i mod 20) plus its own phase within the second (wearers switched on at
    different moments: spread over the second by a stride of 7919 ms mod 1000; ``aligned``: none, every wearer's
    clock on the same millisecond, so each second's messages go out in one burst, the generator of before); a batch
    goes out when its last frame's time has come. Prints, per wearer, when the batch holding the frame that crosses
    the threshold was published (None: not reached)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{root}-gen")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    # as Kinetic's clients (ingest/mqtt.py) and a collector on them: Nagle off, a batch is not held for a delayed ACK
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.loop_start()
    topics = [f"{root}/v1/w{i}/d/features" for i in range(wearers)]
    start_ms = int(time.time() * 1000) + 1000
    first = [start_ms + (i % STAGGER_S) * 1000 + (0 if aligned else i * 7919 % 1000) for i in range(wearers)]
    due = [(first[i] + (batch_s - 1) * 1000, i) for i in range(wearers)]  # when each wearer's next batch is full
    heapq.heapify(due)
    next_k = [0] * wearers
    crossed: list[float | None] = [None] * wearers
    sent, late_s = 0, 0.0
    unacked: list[mqtt.MQTTMessageInfo] = []
    end_ms = start_ms + seconds * 1000
    pruned_ms = 0.0
    while True:
        now_ms = time.time() * 1000
        if now_ms >= end_ms:
            break
        while due and due[0][0] <= now_ms:
            last_t, i = heapq.heappop(due)
            k0 = next_k[i]
            late_s = max(late_s, (now_ms - last_t) / 1000)
            frames = ",".join(
                f'{{"t_ms":{first[i] + k * 1000},"incl_deg":84.0,"enmo_mg":{1 + (i + k) % 5},"sd_mg":{5 + (i + k) % 5},'
                f'"n":50}}'
                for k in range(k0, k0 + batch_s)
            )
            payload = f'{{"v":1,"wearer":"w{i}","device":"d","placement":"thigh","seq":{k0},"frames":[{frames}]}}'
            info = client.publish(topics[i], payload, qos=1)
            while info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # 65,535 message ids in flight: wait for the broker
                time.sleep(0.001)
                info = client.publish(topics[i], payload, qos=1)
            unacked.append(info)
            if k0 <= threshold_s < k0 + batch_s:
                crossed[i] = time.time()
            next_k[i] = k0 + batch_s
            heapq.heappush(due, (last_t + batch_s * 1000, i))
            sent += batch_s
        if now_ms - pruned_ms >= 100:
            unacked = [info for info in unacked if not info.is_published()]
            pruned_ms = now_ms
        wait_s = ((due[0][0] if due else end_ms) - time.time() * 1000) / 1000
        time.sleep(min(0.05, max(0.0, wait_s)))
    for info in unacked:  # every QoS 1 publish acknowledged by the broker
        info.wait_for_publish()
    client.loop_stop()
    client.disconnect()
    print(json.dumps({"sent": sent, "late_s": round(late_s, 3), "crossed": crossed}))


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy since boot (every core; /proc/stat's first line, all but idle and
    iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class CpuSampler(threading.Thread):
    """Samples every process's CPU seconds and the machine's busy seconds every ``every_s`` (wall-clock time), so the
    CPU a window of the stage took (``window``: the prompt storm, while the crossings come) can be told apart from
    the stage's average: whether the alert service's one thread, or the machine's cores, were full then."""

    def __init__(self, pids: dict[str, int], every_s: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.every_s = every_s
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            sample = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
            sample["machine"] = machine_busy_seconds()
            self.samples.append((time.time(), sample))
            self.done.wait(self.every_s)

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU-s/s of each process (and the machine: out of its cores) between the samples nearest ``start`` and
        ``end`` (wall-clock s); {} when fewer than two samples fall in it."""
        inside = [(t, s) for t, s in self.samples if start <= t <= end]
        if len(inside) < 2:
            return {}
        (t0, first), (t1, last) = inside[0], inside[-1]
        # a process restarted inside the window (--kill-s) counts from 0 again: left out rather than negative
        return {
            name: round((last[name] - first[name]) / (t1 - t0), 2)
            for name in last
            if name in first and last[name] >= first[name]
        }


class BrokerSaves(threading.Thread):
    """When Mosquitto wrote its store: it writes the whole store to ``mosquitto.db.new`` and renames it, and routes
    nothing meanwhile; the file's presence, polled every ``every_s``, marks each save (wall-clock start and end, s).
    The poll's resolution is ``every_s``: a save shorter than it may be missed."""

    def __init__(self, data_dir: Path, every_s: float = 0.001) -> None:
        super().__init__(daemon=True)
        self.store = data_dir / "mosquitto.db"
        self.writing = data_dir / "mosquitto.db.new"
        self.every_s = every_s
        self.saves: list[tuple[float, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        began: float | None = None
        while not self.done.is_set():
            if self.writing.exists():
                began = time.time() if began is None else began
            elif began is not None:
                self.saves.append((began, time.time()))
                began = None
            self.done.wait(self.every_s)

    def between(self, start: float, end: float) -> list[float]:
        """The durations (ms) of the saves that began in ``start`` .. ``end`` (wall-clock s)."""
        return [(b - a) * 1000 for a, b in self.saves if start <= a <= end]

    def store_mb(self) -> float:
        return round(self.store.stat().st_size / 1e6, 1) if self.store.exists() else 0.0


def clear_stage_retained(port: int, root: str) -> int:
    """Clear every retained message under ``root`` (a stage's policies, one a wearer, and whatever else was retained)
    so that the next stage's broker does not carry them in the store it writes at every save (``BrokerSaves``: a
    longer save routes nothing for longer). Found by ``ingest.mqtt.retained_messages``, cleared by
    ``ingest.mqtt.clear_retained`` (QoS 1: each acknowledged by the broker); returns how many."""

    async def clear() -> int:
        async with connect(MqttSettings(host="127.0.0.1", port=port), f"{root}-clear", max_attempts=3) as client:
            found = await retained_messages(client, f"{root}/#", quiet_s=1.0)
            await clear_retained(client, found)
            return len(found)

    return asyncio.run(clear())


def resident_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process in MB (10^6 bytes), from /proc/PID/status (kB there)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {
        key.lower(): round(int(rest.split()[0]) * 1024 / 1e6, 1)
        for line in lines
        for key, _, rest in [line.partition(":")]
        if key in ("VmRSS", "VmHWM")
    }


def stored(url: str, db: str) -> int:
    q = urllib.parse.urlencode({"db": db, "q": "SELECT count(incl_deg) FROM features"})
    try:
        with urllib.request.urlopen(f"{url}/query?{q}", timeout=30) as response:
            result = json.loads(response.read())["results"][0]
    except OSError:
        return -1
    return int(result["series"][0]["values"][0][1]) if "series" in result else 0


@dataclass
class Moment:
    """Half a second of the crossings: the prompts whose crossing frame was published in it, their latency, and each
    process's CPU then (CPU-s/s; ``machine``: busy seconds of all cores per second)."""

    offset_s: float  # from the first crossing
    prompts: int
    p50_s: float
    max_s: float
    cpu: dict[str, float]


def timeline(arrivals: list[tuple[float, float]], sampler: CpuSampler, step_s: float = 0.5) -> list[Moment]:
    """``arrivals``: (crossing published, prompt arrived) in wall-clock s. One ``Moment`` per ``step_s`` of crossing
    times that has prompts: where in the storm the slow prompts were, and what the machine did then."""
    if not arrivals:
        return []
    first = min(c for c, _ in arrivals)
    bins: dict[int, list[float]] = {}
    for crossed, arrived in arrivals:
        bins.setdefault(int((crossed - first) / step_s), []).append(arrived - crossed)
    moments = []
    for k, late in sorted(bins.items()):
        start = first + k * step_s
        moments.append(
            Moment(
                k * step_s,
                len(late),
                round(statistics.median(late), 3),
                round(max(late), 3),
                sampler.window(start, start + step_s + sampler.every_s),
            )
        )
    return moments


@dataclass
class Stage:
    wearers: int
    batch_s: int
    sent: int
    generator_late_s: float
    expected_prompts: int
    prompts: int
    duplicates: int
    p50_s: float
    p99_s: float
    stored: int
    cpu: dict[str, float]
    memory_mb: dict[str, dict[str, float]]
    path: dict[str, dict[str, object]]  # per instance, its own account of its prompts' time (alerts.latency)
    latency_by_instance: dict[str, tuple[float, float]]  # p50, p99 in s of each instance's prompts
    killed: str | None = None  # the instance killed with SIGKILL mid-stage and started again
    wall_s: float = 0.0  # the stage's length: the generator's run and the wait after it (the CPU figures' interval)
    storm_cpu: dict[str, float] = field(default_factory=dict)  # CPU-s/s while the crossings came (CpuSampler.window)
    storm_at: tuple[float, float] = (0.0, 0.0)  # that window (wall-clock s)
    timeline: list[Moment] = field(default_factory=list)  # each half second of the crossings (``timeline``)
    retained_cleared: int = 0  # the stage's retained messages, cleared after it (``clear_stage_retained``)

    @property
    def storm_s(self) -> float:
        """The length of the window in which the crossings came (s)."""
        return round(self.storm_at[1] - self.storm_at[0], 1)

    def cpu_us_per_message(self) -> dict[str, float]:
        """Each process's CPU time over the stage per message the generator sent (us): what a message costs each
        part of the stack at this load, load-independent enough to say what a rate would need."""
        messages = self.sent / self.batch_s
        return {name: round(s_per_s * self.wall_s / messages * 1e6, 1) for name, s_per_s in self.cpu.items()}

    @property
    def missing(self) -> int:
        return self.expected_prompts - self.prompts

    @property
    def exactly_once(self) -> bool:
        """Every prompt once, none duplicated, every frame stored: held but for the latency (a stage with a kill
        holds its instance's prompts back for as long as the restart takes)."""
        return self.prompts == self.expected_prompts and self.duplicates == 0 and self.stored == self.sent

    @property
    def held(self) -> bool:
        return self.exactly_once and self.p99_s < HELD_P99_S


def _prompts(path: Path) -> list[tuple[float, dict]]:  # type: ignore[type-arg]
    return [
        (float(stamp), json.loads(body))
        for line in path.read_text().splitlines()
        for stamp, _, body in [line.partition(" ")]
    ]


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 (nearest rank below) in s, rounded to the ms; NaN for none."""
    if not latencies:
        return float("nan"), float("nan")
    ordered = sorted(latencies)
    return round(statistics.median(ordered), 3), round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 3)


def run_stage(
    base: Path,
    mqtt_port: int,
    server_pids: dict[str, int],
    influx_url: str,
    wearers: int,
    batch_s: int,
    seconds: int,
    threshold_s: int,
    aligned: bool = False,
    instances: int = 1,
    kill_s: float | None = None,
    wait_s: float = 30.0,
    groups: ServiceCgroups | None = None,
    number: int = 1,
) -> Stage:
    # the stage's number keeps two stages of one shape apart (their topic roots, databases and directories)
    root = f"scale{number}w{wearers}b{batch_s}" + (f"x{instances}" if instances > 1 else "")
    work = base / root
    work.mkdir()
    policy = work / "policy.yaml"
    policy.write_text(
        f"defaults:\n  sitting_threshold_min: {threshold_s / 60}\n  escalate_after_min: null\n"
        "  max_per_hour: 60\n  min_spacing_min: 0\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KINETIC_MQTT__PORT": str(mqtt_port),
        "KINETIC_MQTT__TOPIC_ROOT": root,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": root,
        "KINETIC_INFLUX__URL": influx_url,
        "KINETIC_INFLUX__DATABASE": root,
        "KINETIC_BRIDGE__SPOOL_PATH": str(work / "spool.sqlite"),
        "KINETIC_ALERTS__STATE_DIR": str(work / "alerts"),
        "KINETIC_ALERTS__POLICY_FILE": str(policy),
        "KINETIC_LOG_LEVEL": "WARNING",
    }
    kinetic = [sys.executable, "-m", "kinetic"]
    # the alert service at INFO (its default): it logs where its prompts' time went when it stops (alerts.latency)
    names = ["alerts"] if instances == 1 else [f"alerts-{i}" for i in range(instances)]
    commands = {"bridge": ("bridge", env)} | {
        name: ("alerts", env | {"KINETIC_LOG_LEVEL": "INFO"} | shard)
        for i, name in enumerate(names)
        for shard in [{"KINETIC_ALERTS__SHARD": f"{i}/{instances}"} if instances > 1 else {}]
    }

    def start(name: str, log_name: str) -> subprocess.Popen[bytes]:
        command, its_env = commands[name]
        with (work / f"{log_name}.log").open("wb") as log:
            return subprocess.Popen([*kinetic, command], env=its_env, stdout=log, stderr=subprocess.STDOUT)

    services = {name: start(name, name) for name in commands}
    logs = {name: [work / f"{name}.log"] for name in names}
    prompts_path = work / "prompts.log"
    prompts_log = prompts_path.open("wb")
    sub = subprocess.Popen(
        ["mosquitto_sub", "-p", str(mqtt_port), "-q", "1", "-t", f"{root}/v1/+/prompts", "-F", "%U %p"],
        stdout=prompts_log,
        stderr=subprocess.DEVNULL,
    )
    pids = {name: p.pid for name, p in services.items()} | server_pids  # whose CPU and memory the stage reports
    killed: str | None = None
    gen: subprocess.Popen[str] | None = None
    try:
        if groups is not None:
            for name, p in services.items():
                groups.place(name, p.pid)
        time.sleep(3.0 + instances)  # the services connect and subscribe
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        cpu_before_kill = 0.0
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall0 = time.monotonic()
        sampler = CpuSampler(pids)
        sampler.start()
        args = ["--generate", str(wearers), "--seconds", str(seconds), "--batch-s", str(batch_s)]
        args += ["--threshold-s", str(threshold_s), "--root", root, "--port", str(mqtt_port)]
        args += ["--aligned"] if aligned else []
        gen = subprocess.Popen(
            [sys.executable, "-m", "bench.alerts_scale", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if groups is not None:
            groups.place("generator", gen.pid)
        if kill_s is not None:
            time.sleep(kill_s)
            killed = names[0]
            victim = services[killed]
            cpu_before_kill = cpu_seconds(victim.pid) - cpu0[killed]
            victim.kill()  # kill -9 mid-stage, and at once a replacement with the same shard setting
            victim.wait(10)
            services[killed] = start(killed, f"{killed}-again")
            if groups is not None:
                groups.place(killed, services[killed].pid)
            logs[killed].append(work / f"{killed}-again.log")
            pids[killed] = services[killed].pid
            sampler.pids[killed] = pids[killed]  # its CPU counts from 0 again: ``window`` leaves such a window out
            cpu0[killed] = 0.0
            print(f"  killed {killed} (SIGKILL) {kill_s} s into the stage, started it again", file=sys.stderr)
        out, err = gen.communicate()
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sampler.done.set()
        sampler.join()
        if gen.returncode != 0:
            raise SystemExit(f"the generator failed:\n{err}")
        result = json.loads(out)
        crossed: list[float | None] = result["crossed"]
        expected = sum(1 for c in crossed if c is not None)
        crossings = [c for c in crossed if c is not None]
        storm = (min(crossings), max(crossings)) if crossings else (0.0, 0.0)
        deadline = time.monotonic() + wait_s
        stored_n = 0
        while time.monotonic() < deadline:
            stored_n = stored(influx_url, root)
            if len({b["id"] for _, b in _prompts(prompts_path)}) >= expected and stored_n >= result["sent"]:
                break
            time.sleep(0.5)
        wall = time.monotonic() - wall0
        cpu = {name: round((cpu_seconds(pid) - cpu0[name]) / wall, 2) for name, pid in pids.items()}
        if killed is not None:
            cpu[killed] = round(cpu[killed] + cpu_before_kill / wall, 2)
        # the generator has been waited for; so has the killed instance: their CPU is in RUSAGE_CHILDREN
        generator_cpu = children1.ru_utime + children1.ru_stime - children0.ru_utime - children0.ru_stime
        cpu["generator"] = round(generator_cpu / wall - (cpu_before_kill / wall if killed else 0.0), 2)
        time.sleep(1.0)  # late duplicates would show now
        arrivals = _prompts(prompts_path)
        memory = {name: resident_mb(p.pid) for name, p in services.items()}
    finally:
        if gen is not None and gen.poll() is None:
            gen.kill()
            gen.wait(10)
        for p in services.values():
            p.terminate()
        for p in services.values():
            p.wait(30)
        sub.terminate()
        sub.wait(5)
        prompts_log.close()
    path = {name: prompt_path(files[-1]) for name, files in logs.items()}
    latencies = [stamp - (crossed[int(body["wearer"][1:])] or stamp) for stamp, body in arrivals]
    by_instance: dict[str, list[float]] = {name: [] for name in names}
    for (_, body), seconds_late in zip(arrivals, latencies, strict=True):  # each prompt by its wearer's instance
        by_instance[names[shard_of(body["wearer"], instances)]].append(seconds_late)
    ids = [body["id"] for _, body in arrivals]
    p50, p99 = percentiles(latencies)
    stage = Stage(
        wearers=wearers,
        batch_s=batch_s,
        sent=result["sent"],
        generator_late_s=result["late_s"],
        expected_prompts=expected,
        prompts=len(set(ids)),
        duplicates=len(ids) - len(set(ids)),
        p50_s=p50,
        p99_s=p99,
        stored=stored_n,
        cpu=cpu,
        memory_mb=memory,
        path=path,
        latency_by_instance={name: percentiles(values) for name, values in by_instance.items()},
        killed=killed,
        wall_s=wall,
        storm_cpu=sampler.window(*storm),
        storm_at=storm,
        timeline=timeline(
            [(c, stamp) for stamp, body in arrivals for c in [crossed[int(body["wearer"][1:])]] if c], sampler
        ),
    )
    stage.retained_cleared = clear_stage_retained(mqtt_port, root)  # the next stage's broker saves only its own
    return stage


def prompt_path(log: Path) -> dict[str, object]:
    """The summary the alert service logs when it stops (``alerts.latency.PromptPaths.summary``), {} if absent."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        marker = ": prompt path "
        if marker in line:
            found: dict[str, object] = json.loads(line.split(marker, 1)[1])
            return found
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--stages",
        default="10:2500,10:5000,10:10000,1:1000,1:2500,1:5000,1:10000",
        help="BATCH_S:WEARERS,... (seconds of frames per message : wearers); default: the product's 10 s batches, "
        "then one frame per message",
    )
    parser.add_argument("--seconds", type=int, default=70)
    parser.add_argument("--threshold-s", type=int, default=30)
    parser.add_argument(
        "--aligned",
        action="store_true",
        help="every wearer's clock on the same millisecond: each second's messages in one burst (the load of before)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="alert-service instances, instance i with KINETIC_ALERTS__SHARD=i/N (docs/scaling.md); 1: unsharded",
    )
    parser.add_argument(
        "--kill-s",
        type=float,
        help="kill alert instance 0 with SIGKILL this many seconds after each stage's generator started, and start it "
        "again at once (e.g. 40 with --seconds 70: while the prompts fall due)",
    )
    parser.add_argument(
        "--wait-s",
        type=float,
        default=30.0,
        help="after the generator, wait at most this long for every prompt and every frame stored (default 30)",
    )
    parser.add_argument(
        "--cpu-weight",
        action="append",
        default=[],
        metavar="NAME=WEIGHT",
        help="run each process (mosquitto, influxd, bridge, alerts, generator) in a CPU cgroup of its own, as systemd "
        "units or containers run them, NAME's with this weight (systemd CPUWeight=, 1-10000; the others 100); "
        "repeatable; 'alerts' weighs every instance; needs root (bench/cgroups.py)",
    )
    parser.add_argument(
        "--timeline",
        type=int,
        default=0,
        metavar="N",
        help="print the N half seconds of the crossings with the slowest prompts, with each service's and server's CPU "
        "then (from the half second's start to one sample past its end)",
    )
    parser.add_argument(
        "--broker-autosave-s",
        type=int,
        default=DEPLOYED_AUTOSAVE_S,
        help="Mosquitto's autosave_interval: it writes its whole store this often and routes nothing meanwhile "
        f"(default {DEPLOYED_AUTOSAVE_S}, as deploy/mosquitto/mosquitto.conf; 1: as the tests' broker, and this "
        "benchmark's before session 16)",
    )
    parser.add_argument("--keep", help="a directory to run in and keep (the services' logs, the prompts received)")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch-s", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    if args.generate:
        generate(args.port, args.root, args.generate, args.seconds, args.batch_s, args.threshold_s, args.aligned)
        return
    weights: dict[str, int] = {}
    known = {"mosquitto", "influxd", "bridge", "alerts", "generator"} | {f"alerts-{i}" for i in range(args.instances)}
    for spec in args.cpu_weight:
        name, _, weight = spec.partition("=")
        if name not in known or not weight.isdigit():
            parser.error(
                f"--cpu-weight {spec!r}: expected NAME=WEIGHT, NAME one of {', '.join(sorted(known))}, WEIGHT "
                "1-10000 (systemd CPUWeight=)"
            )
        weights[name] = int(weight)
    groups: ServiceCgroups | None = None
    if args.cpu_weight:
        try:
            groups = ServiceCgroups(weights)
        except (CgroupsUnavailable, ValueError) as exc:
            raise SystemExit(f"--cpu-weight: {exc}") from exc
        # a SIGTERM (timeout, kill) unwinds as an exception does: the cgroups made are removed on the way out
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stages: list[Stage] = []
    with contextlib.ExitStack() as cleanup, tempfile.TemporaryDirectory() as tmp:
        if groups is not None:
            cleanup.enter_context(groups)
        base = Path(args.keep) if args.keep else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        broker = start_mosquitto(
            base / "mosquitto", extra_config="max_inflight_messages 0\n", autosave_interval_s=args.broker_autosave_s
        )
        influxd = start_influxd(base / "influxd")
        broker_saves = BrokerSaves(broker.data_dir)
        broker_saves.start()
        cleanup.callback(broker_saves.done.set)
        server_pids = {"mosquitto": broker.process.pid, "influxd": influxd.process.pid}
        try:
            if groups is not None:
                groups.place("mosquitto", broker.process.pid)
                groups.place("influxd", influxd.process.pid)
            for number, spec in enumerate(args.stages.split(","), 1):
                batch_s, wearers = (int(x) for x in spec.split(":"))
                print(
                    f"stage: {wearers} wearers, {batch_s} s per message, {args.seconds} s (the broker saves its store "
                    f"every {args.broker_autosave_s} s) ...",
                    file=sys.stderr,
                )
                stage_began = time.time()
                stage = run_stage(
                    base,
                    broker.port,
                    server_pids,
                    influxd.url,
                    wearers,
                    batch_s,
                    args.seconds,
                    args.threshold_s,
                    args.aligned,
                    args.instances,
                    args.kill_s,
                    args.wait_s,
                    groups,
                    number,
                )
                stages.append(stage)
                print(
                    f"  {wearers:6d} wearers x {batch_s:2d} s/msg ({wearers / batch_s:.0f} msg/s): frames sent "
                    f"{stage.sent} (generator late {stage.generator_late_s} s at most), stored {stage.stored}; "
                    f"prompts {stage.prompts}/{stage.expected_prompts} (missing {stage.missing}), duplicates "
                    f"{stage.duplicates}; latency p50 "
                    f"{stage.p50_s} s, p99 {stage.p99_s} s; CPU s/s {stage.cpu}; "
                    f"memory MB {stage.memory_mb}; every prompt exactly once and every frame stored: "
                    f"{'yes' if stage.exactly_once else 'NO'}; held: {'yes' if stage.held else 'NO'}",
                    flush=True,
                )
                if args.instances > 1:
                    for name, (p50, p99) in stage.latency_by_instance.items():
                        again = " (killed with SIGKILL and restarted mid-stage)" if name == stage.killed else ""
                        print(
                            f"  {name}{again}: latency p50 {p50} s, p99 {p99} s; CPU s/s {stage.cpu.get(name)}; "
                            f"memory MB {stage.memory_mb.get(name)}",
                            flush=True,
                        )
                if stage.storm_cpu:
                    print(
                        f"  while the crossings came ({stage.storm_s} s): CPU s/s {stage.storm_cpu} (machine: of "
                        f"{os.cpu_count()} cores; each service's event loop is one thread)",
                        flush=True,
                    )
                saves = broker_saves.between(stage_began, time.time())
                in_storm = broker_saves.between(*stage.storm_at)
                print(
                    f"  the broker saved its store {len(saves)} times in the stage ("
                    + (f"median {statistics.median(saves):.0f} ms, longest {max(saves):.0f} ms" if saves else "-")
                    + f"), {len(in_storm)} while the crossings came; its store now {broker_saves.store_mb()} MB "
                    f"(it routes nothing while it saves: --broker-autosave-s); the stage's retained messages cleared "
                    f"after it: {stage.retained_cleared}",
                    flush=True,
                )
                if groups is not None:
                    print(f"  {groups.describe()}", flush=True)
                slowest = sorted(stage.timeline, key=lambda m: m.max_s, reverse=True)[: args.timeline]
                for m in sorted(slowest, key=lambda m: m.offset_s):
                    print(
                        f"  {m.offset_s:5.1f} s into the crossings: {m.prompts} prompts, p50 {m.p50_s} s, max "
                        f"{m.max_s} s; CPU s/s {m.cpu}",
                        flush=True,
                    )
                per_message = stage.cpu_us_per_message()
                rate = wearers / batch_s
                print(
                    f"  CPU-us per message {per_message}: at {rate:.0f} messages/s the stack needs "
                    f"{sum(per_message.values()) * rate / 1e6:.2f} CPU-s/s of this machine's {os.cpu_count()} cores",
                    flush=True,
                )
                for name, path in stage.path.items():
                    print(f"  inside {name}: {json.dumps(path)}", flush=True)
        finally:
            influxd.stop()
            broker.stop()
    for batch_s in sorted({s.batch_s for s in stages}, reverse=True):
        held = [s.wearers for s in stages if s.held and s.batch_s == batch_s]
        largest = max(held) if held else 0
        line = f"{batch_s} s per message: largest number of wearers held without loss: {largest}"
        if batch_s in HELD_TARGETS:
            target, filed = HELD_TARGETS[batch_s]
            tried = max(s.wearers for s in stages if s.batch_s == batch_s)
            verdict = "met" if largest >= target else ("not met" if tried >= target else "not tried")
            line += f" (issue 18: at least {target}, {verdict}; {filed} when it was filed)"
        print(line)
    for stage in stages:
        targets = LATENCY_TARGETS.get((stage.batch_s, stage.wearers))
        if targets is None:
            continue
        p50_target, p99_target, p50_filed, p99_filed = targets
        met = stage.p99_s <= p99_target and (p50_target is None or stage.p50_s <= p50_target) and stage.exactly_once
        p50_part = f" (target <= {p50_target})" if p50_target is not None else ""
        print(
            f"issue 18 item 1, {stage.wearers} wearers at {stage.batch_s} s per message: p50 {stage.p50_s} s"
            f"{p50_part}, p99 {stage.p99_s} s (target <= {p99_target}): {'met' if met else 'not met'}; when the "
            f"issue was filed p50 {p50_filed} s, p99 {p99_filed} s"
        )


if __name__ == "__main__":
    main()
