"""The collector, unchanged bleak code, over the Bumble virtual radio to emulated PineTimes, into real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from alerts.detect.calibration import angle_deg
from ingest.ble.bumble_backend import VirtualRadio
from ingest.ble.collector import Collector
from ingest.ble.emulators.infinitime import InfiniTimeEmulator
from ingest.ble.emulators.kinetic_diy import KineticDiyEmulator
from ingest.errors import WireError
from ingest.mqtt import connect, serve
from ingest.settings import CollectorSettings, MqttSettings, WearableConfig
from ingest.store.spool import Spool
from ingest.wire import (
    CollectorStatusV1,
    DeadLetterV1,
    DeviceStatusV1,
    FeatureBatchV1,
    PromptV1,
    Topics,
    decode,
    encode,
)
from kinetic.settings import KineticSettings
from tests.support.collecting import collecting, on_radio, stop_and_drain
from tests.support.fuzz import garbage
from tests.support.pipeline import recording, until
from tests.support.servers import Server, start_mosquitto

pytestmark = pytest.mark.integration

ORIENTATIONS = {"w0": (0.0, 0.0, 1.0), "w1": (1.0, 0.0, 0.0), "w2": (0.0, -0.7071, 0.7071)}


def named_junk(prompt: PromptV1, spoof: PromptV1) -> list[bytes]:
    return [b"\xff\x00garbage", encode(prompt)[:40], encode(spoof)]


def wearables() -> list[WearableConfig]:
    out = [
        WearableConfig(
            wearer=w, device=f"{w}-watch", profile="infinitime", placement="wrist", address=f"F1:00:00:00:00:1{i}"
        )
        for i, w in enumerate(ORIENTATIONS)
    ]
    # one that never appears: it must not hold up the others
    out.append(
        WearableConfig(
            wearer="ghost", device="ghost-watch", profile="infinitime", placement="wrist", address="F1:00:00:00:00:99"
        )
    )
    return out


async def stream(watch: InfiniTimeEmulator, g: tuple[float, float, float], seconds: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    samples = [tuple(v + 0.005 * rng.standard_normal() for v in g) for _ in range(int(seconds * 10))]
    await watch.stream(samples, rate_hz=10)  # type: ignore[arg-type]


def run_collector(mqtt: MqttSettings, tmp_path: Path, seconds: float, during=None, persistent=False, junk=None):  # type: ignore[no-untyped-def]
    topics = Topics(mqtt.topic_root)

    async def run() -> tuple[list[tuple[str, bytes]], Collector]:
        radio = VirtualRadio()
        await radio.start()
        watches = {}
        for i, w in enumerate(ORIENTATIONS):
            watches[w] = InfiniTimeEmulator(radio.peripheral(f"watch{i}", f"F1:00:00:00:00:1{i}"))
            await watches[w].start()
        settings = CollectorSettings(wearables=wearables(), batch_s=2, scan_timeout_s=2)
        collector = Collector(
            settings,
            topics,
            Spool(tmp_path / "queue.sqlite", 10_000_000),
            scanner_kwargs=radio.scanner_kwargs(),
            client_kwargs=radio.client_kwargs(),
        )
        stop = asyncio.Event()
        kinetic = KineticSettings(mqtt=mqtt)
        filters = [topics.all_features(), topics.all_status(), topics.all_collector_status()]
        async with recording(kinetic, filters, f"{mqtt.topic_root}-rec", persistent=persistent) as rec:
            ble = asyncio.create_task(collector.run(stop))
            forward = asyncio.create_task(
                serve(collector.forward, mqtt, f"{mqtt.topic_root}-collector", stop, will=collector.will())
            )
            await until(lambda: all(collector.connected[f"{w}-watch"] for w in ORIENTATIONS), 30, "connections")
            streams = [
                asyncio.create_task(stream(watches[w], g, seconds, i)) for i, (w, g) in enumerate(ORIENTATIONS.items())
            ]
            if during is not None:
                await during()
                # the forwarder comes back on its own backoff (full jitter, ingest/retry.py): a stop while it still
                # waits would leave the outage's batches in the spool for the next start, which is not this test
                await until(
                    lambda: all(any(t.endswith(f"/{w}/{w}-watch/features") for t, _ in rec.messages) for w in watches),
                    60,
                    "each wearer's batches after the outage",
                )
            # a prompt for w0 reaches its watch as a New Alert (and twice, as QoS 1 may: shown once)
            prompt = PromptV1(
                id="w0-sitting-1",
                wearer="w0",
                trigger="sitting",
                exercise="spinal-decompression-60s",
                title="Stand up",
                text="Sitting for 30 min: 60-second spinal decompression",
                created=datetime.now(UTC),
                expires=datetime.now(UTC) + timedelta(minutes=15),
            )
            # ... and what is not a prompt for w0 on w0's topic is dead-lettered, never shown: garbage, a truncated
            # prompt, and a prompt for w1 (a sender who may write w0's topic must not reach w1's watch)
            spoof = prompt.model_copy(update={"wearer": "w1", "id": "w1-sitting-1"})
            async with connect(mqtt, f"{mqtt.topic_root}-alerts") as alerts:
                for topic, payload in junk or [(topics.prompts("w0"), j) for j in named_junk(prompt, spoof)]:
                    await alerts.publish(topic, payload, qos=1)
                for _ in range(2):
                    await alerts.publish(topics.prompts("w0"), encode(prompt), qos=1)
            await asyncio.gather(*streams)
            # everything the collector sent (batches and statuses) reaches the recorder, even after a broker restart
            await stop_and_drain(stop, ble, forward, lambda: len(rec.messages) >= collector.counters.batches_published)
        collector.shown = {w: watch.alerts for w, watch in watches.items()}  # type: ignore[attr-defined]
        return rec.messages, collector

    return asyncio.run(run())


def test_collector_streams_several_wearables_and_skips_a_missing_one(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    messages, collector = run_collector(mqtt, tmp_path, seconds=4)
    for wearer, g in ORIENTATIONS.items():
        batches = [
            FeatureBatchV1.model_validate_json(p)
            for t, p in messages
            if t.endswith(f"/{wearer}/{wearer}-watch/features")
        ]
        frames = [f for b in batches for f in b.frames]
        assert len(frames) >= 3, (wearer, len(frames))
        assert all(f.gravity is not None and angle_deg(f.gravity, g) < 2 for f in frames)
        assert [b.seq for b in batches] == list(range(len(batches)))  # in order, none missing
        states = [
            DeviceStatusV1.model_validate_json(p).state
            for t, p in messages
            if t.endswith(f"/{wearer}/{wearer}-watch/status")
        ]
        assert states[0] == "online" and states[-1] == "offline", (wearer, states, collector.counters)
    assert not any("/ghost/" in t for t, _ in messages)
    assert collector.shown == {  # type: ignore[attr-defined]
        "w0": [(0, "Stand up", "Sitting for 30 min: 60-second spinal decompression")],
        "w1": [],
        "w2": [],
    }
    assert collector.counters.prompts_delivered == 1 and collector.counters.refused_prompts == 3
    assert collector.counters.decode_errors == 0 and collector.queue.batches == 0
    own = [CollectorStatusV1.model_validate_json(p) for t, p in messages if "/_collector/" in t]
    assert [s.state for s in own] == ["online", "offline"] and "w0-watch" in own[0].devices


def test_broker_outage_loses_nothing_and_keeps_order(tmp_path: Path, unique: str) -> None:
    broker = start_mosquitto(tmp_path / "broker")
    mqtt = MqttSettings(host="127.0.0.1", port=broker.port, topic_root=unique)

    async def outage() -> None:
        await asyncio.sleep(1.5)
        await asyncio.to_thread(broker.stop)  # the broker goes away for ~3 s while the watches keep streaming
        await asyncio.sleep(3)
        from tests.support.servers import mosquitto_ready

        await asyncio.to_thread(broker.restart, mosquitto_ready)

    try:
        messages, collector = run_collector(mqtt, tmp_path, seconds=8, during=outage, persistent=True)
    finally:
        broker.stop()
    for wearer in ORIENTATIONS:
        batches = [
            FeatureBatchV1.model_validate_json(p)
            for t, p in messages
            if t.endswith(f"/{wearer}/{wearer}-watch/features")
        ]
        assert [b.seq for b in batches] == list(range(len(batches)))  # in order, none missing
        times = [f.t_ms for b in batches for f in b.frames]
        assert times == sorted(times) and len(times) == len(set(times))
        assert len(times) >= 6  # the seconds streamed during the outage arrived afterwards
    assert collector.counters.dropped_batches == 0 and collector.queue.batches == 0


def test_a_link_dropped_mid_stream_reconnects_by_itself(mosquitto: Server, tmp_path: Path, unique: str) -> None:
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)

    async def run() -> tuple[list[tuple[str, bytes]], Collector]:
        radio = VirtualRadio()
        await radio.start()
        watch = InfiniTimeEmulator(radio.peripheral("watch", "F1:00:00:00:00:31"))
        await watch.start()
        cfg = WearableConfig(
            wearer="dee", device="dee-watch", profile="infinitime", placement="wrist", address="F1:00:00:00:00:31"
        )
        collector = on_radio(radio, [cfg], topics, tmp_path, batch_s=1, scan_timeout_s=2)
        async with collecting(collector, mqtt, [topics.all_features()]) as rec:
            await until(lambda: collector.connected["dee-watch"], 20, "the first connection")
            await stream(watch, (0.0, 0.0, 1.0), 2.5, 1)
            for connection in list(watch.device.connections.values()):
                await connection.disconnect()  # the watch drops the link (out of range, say)
            await until(lambda: collector.counters.connects == 2, 30, "the reconnection")
            await stream(watch, (0.0, 0.0, 1.0), 2.5, 2)
        return rec.messages, collector

    messages, collector = asyncio.run(run())
    batches = [FeatureBatchV1.model_validate_json(p) for _, p in messages]
    assert [b.seq for b in batches] == list(range(len(batches)))  # the counter runs on across the reconnection
    frames = [f for b in batches for f in b.frames]
    assert collector.counters.link_losses == 1 and collector.counters.connects == 2
    assert len(frames) >= 4  # seconds from before and after the drop
    assert [f.t_ms for f in frames] == sorted(f.t_ms for f in frames)


async def diy_sensor(
    topics: Topics, tmp_path: Path, address: str, **emulator: Any
) -> tuple[KineticDiyEmulator, Collector]:
    """An emulated DIY sensor advertising on a virtual radio as eve's thigh sensor, and a collector for it (2-s
    batches)."""
    radio = VirtualRadio()
    await radio.start()
    sensor = KineticDiyEmulator(radio.peripheral("diy", address), **emulator)
    await sensor.start()
    cfg = WearableConfig(wearer="eve", device="eve-thigh", profile="kinetic-diy", placement="thigh", address=address)
    return sensor, on_radio(radio, [cfg], topics, tmp_path, batch_s=2, scan_timeout_s=2)


def test_a_diy_sensor_at_52_hz(mosquitto: Server, tmp_path: Path, unique: str) -> None:
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)

    async def run() -> list[tuple[str, bytes]]:
        sensor, collector = await diy_sensor(topics, tmp_path, "F2:00:00:00:00:41", rate_hz=52, per_packet=10)
        async with collecting(collector, mqtt, [topics.all_features()]) as rec:
            await until(lambda: collector.connected["eve-thigh"], 20, "the connection")
            await sensor.stream([(0.0, -1.0, 0.02)] * (52 * 4))
        assert collector.counters.samples == 52 * 4
        return rec.messages

    frames = [f for _, p in run_async(run) for f in FeatureBatchV1.model_validate_json(p).frames]
    full = [f for f in frames if f.n >= 45]
    assert len(full) >= 2 and all(f.gravity is not None and angle_deg(f.gravity, (0, -1, 0)) < 3 for f in frames)


def test_what_a_sensor_sends_that_cannot_be_used_is_dead_lettered_and_the_rest_goes_on(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    """A DIY sensor whose battery level reads 255 ("unknown"), which sends five truncated motion packets and then
    reports a gravity vector of zeros for 3 s between good seconds: each is counted and dead-lettered on
    ``<root>/v1/_deadletter/collector`` (the battery's bytes; the first packet's, the four after it within the batch's
    2 s counted in its letter; the refused seconds as the batch would have carried them, with the rule they break),
    and every good second is sent."""
    from ingest.ble.emulators.notify import no_wait

    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)

    async def run() -> tuple[list[tuple[str, bytes]], Collector]:
        sensor, collector = await diy_sensor(topics, tmp_path, "F2:00:00:00:00:42", rate_hz=50, battery_pct=255)
        filters = [topics.all_features(), topics.dead_letter("collector")]
        async with collecting(collector, mqtt, filters) as rec:
            await until(lambda: collector.connected["eve-thigh"], 20, "the connection")
            await sensor.stream([(0.0, -1.0, 0.02)] * 100)
            for _ in range(5):  # 2 bytes: no header; five at once make one letter
                await sensor.notifier.notify(sensor.motion, b"\xfe\x00", 0.0, no_wait)
            await sensor.stream([(0.0, 0.0, 0.0)] * 150)
            await sensor.stream([(0.0, -1.0, 0.02)] * 100)
            await until(lambda: collector.counters.samples == 350, 10, "every sample at the collector")
        return rec.messages, collector

    messages, collector = run_async(run)
    letters = [DeadLetterV1.model_validate_json(p) for t, p in messages if t == topics.dead_letter("collector")]
    assert collector.counters.refused_device_values == 1 and collector.counters.decode_errors == 5
    assert collector.counters.refused_frames >= 2  # 3 s of zeros: the seconds that hold only zeros
    assert len(letters) == collector.dead_letters.count >= 3
    by_source = {x.topic: x for x in letters if x.topic.startswith("ble:/")}
    battery, packet = by_source["ble:/eve/eve-thigh/battery level"], by_source["ble:/eve/eve-thigh/motion"]
    seconds = [x for x in letters if not x.topic.startswith("ble:/")]
    assert len(by_source) == 2 and len(seconds) == len(letters) - 2
    assert battery.topic == "ble:/eve/eve-thigh/battery level" and battery.original() == b"\xff"
    assert battery.reason == "battery level not used: battery level ff: expected one byte of 0-100"
    assert packet.topic == "ble:/eve/eve-thigh/motion" and packet.original() == b"\xfe\x00"
    assert packet.reason.startswith("bad notification: Kinetic DIY motion: 2 bytes is shorter than")
    assert packet.reason.endswith("; 4 more like it in the next 2 s, not kept")
    refused = [f for letter in seconds for f in json.loads(letter.payload)["frames"]]
    assert len(refused) == collector.counters.refused_frames
    assert all(letter.topic == topics.features("eve", "eve-thigh") for letter in seconds)
    assert all("refused by the wire contract" in letter.reason and "gravity" in letter.reason for letter in seconds)
    assert all(abs(f["gx"]) + abs(f["gy"]) + abs(f["gz"]) < 0.2 for f in refused)  # zeros, or mostly
    frames = [f for t, p in messages if t.endswith("/features") for f in FeatureBatchV1.model_validate_json(p).frames]
    assert {f.t_ms for f in frames}.isdisjoint(f["t_ms"] for f in refused)
    assert sum(f.n for f in frames) + sum(f["n"] for f in refused) == 350  # every sample in a second sent or refused


def run_async(factory):  # type: ignore[no-untyped-def]
    return asyncio.run(factory())


def test_simulate_ble_runs_a_scenario_through_the_real_collector(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    import os
    import subprocess
    import sys

    from alerts.engine import AlertEngine, EngineConfig
    from alerts.prompts.catalog import load_catalog
    from ingest.wire import EventV1

    scenario = tmp_path / "day.yaml"
    scenario.write_text(
        "start: 2026-11-23T09:00:00+01:00\nwearers:\n  - wearer: fay\n    placement: thigh\n"
        "    segments: [walk 1m, sit 3m, walk 30s]\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KINETIC_MQTT__PORT": str(mosquitto.port),
        "KINETIC_MQTT__TOPIC_ROOT": unique,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": unique,
        "KINETIC_COLLECTOR__QUEUE_PATH": str(tmp_path / "queue.sqlite"),
    }
    topics = Topics(unique)

    async def run() -> list[tuple[str, bytes]]:
        async with recording(
            KineticSettings(mqtt=MqttSettings(port=mosquitto.port, topic_root=unique)),
            [topics.all_features()],
            f"{unique}-rec",
        ) as rec:
            out = await asyncio.to_thread(
                subprocess.run,
                [
                    sys.executable,
                    "-m",
                    "kinetic",
                    "simulate",
                    str(scenario),
                    "--ble",
                    "--speed",
                    "20",
                    "--batch-s",
                    "30",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert out.returncode == 0, out.stderr
            assert f"sent {int(4.5 * 60 * 52)} samples over BLE" in out.stderr  # the BLE path, not the plain one
            await asyncio.sleep(0.5)
            return rec.messages

    batches = [FeatureBatchV1.model_validate_json(p) for _, p in asyncio.run(run())]
    frames = [f for b in batches for f in b.frames]
    assert 4.5 * 60 - 10 <= len(frames) <= 4.5 * 60 + 2
    assert len({f.t_ms for f in frames}) == len(frames)  # no second sent twice (a late notification, aggregate.py)
    engine = AlertEngine(EngineConfig(), load_catalog())
    events = [o for b in batches for o in engine.process(b)] + engine.close("fay")
    sitting = [e for e in events if isinstance(e, EventV1) and e.kind == "bout_ended" and e.posture == "sitting"]
    assert len(sitting) == 1 and abs((sitting[0].duration_s or 0) - 180) <= 15


def test_collector_killed_with_kill_9_loses_nothing_it_had_queued(tmp_path: Path, unique: str) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.support.servers import free_port

    port = free_port()  # no broker yet: everything the collector reads waits in its queue
    queue = tmp_path / "queue.sqlite"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KINETIC_MQTT__PORT": str(port),
        "KINETIC_MQTT__TOPIC_ROOT": unique,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": unique,
        "KINETIC_COLLECTOR__QUEUE_PATH": str(queue),
    }
    first = tmp_path / "first.yaml"
    first.write_text("wearers:\n  - wearer: gus\n    placement: thigh\n    segments: [walk 1m, sit 5m]\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "kinetic", "simulate", str(first), "--ble", "--speed", "20", "--batch-s", "10"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if queue.exists() and Spool(queue, 10**9).batches >= 8:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    queued = Spool(queue, 10**9)
    kept = [
        FeatureBatchV1.model_validate_json(e.body.split(b"\n", 2)[2])
        for e in queued.peek(10**9)
        if b"/features" in e.body.split(b"\n", 1)[0]
    ]
    queued.close()
    assert len(kept) >= 6  # feature batches (the queue also held the online status)

    broker = start_mosquitto(tmp_path / "broker", port=port)
    second = tmp_path / "second.yaml"
    second.write_text("wearers:\n  - wearer: hal\n    placement: thigh\n    segments: [sit 20s]\n")
    topics = Topics(unique)
    mqtt = MqttSettings(port=port, topic_root=unique)

    async def run() -> list[tuple[str, bytes]]:
        async with recording(KineticSettings(mqtt=mqtt), [topics.all_features()], f"{unique}-rec") as rec:
            out = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "kinetic", "simulate", str(second), "--ble", "--speed", "20"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert out.returncode == 0, out.stderr
            await until(lambda: sum("/gus/" in t for t, _ in rec.messages) >= len(kept), 30, "the queued batches")
            return rec.messages

    try:
        messages = asyncio.run(run())
    finally:
        broker.stop()
    delivered = [FeatureBatchV1.model_validate_json(p) for t, p in messages if "/gus/" in t]
    assert [b.seq for b in delivered][: len(kept)] == [b.seq for b in kept]  # all of them, in order
    assert delivered[: len(kept)] == kept


DYING = """
import asyncio, sys
from pathlib import Path
from ingest.ble.collector import Collector
from ingest.mqtt import connect
from ingest.settings import CollectorSettings, MqttSettings, WearableConfig
from ingest.store.spool import Spool
from ingest.wire import Topics, encode
port, root, queue = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
wearable = WearableConfig(
    wearer="w0", device="w0-watch", profile="infinitime", placement="wrist", address="F1:00:00:00:00:10"
)
collector = Collector(CollectorSettings(id="desk-pi", wearables=[wearable]), Topics(root), Spool(queue, 10**7))
async def main():
    async with connect(MqttSettings(port=port, topic_root=root), root + "-dying", will=collector.will()) as client:
        await client.publish(Topics(root).collector_status("desk-pi"), encode(collector._collector_status("online")),
                             qos=1, retain=True)
        print("online", flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"""


def test_the_collectors_last_will_says_offline_when_it_dies(mosquitto: Server, tmp_path: Path, unique: str) -> None:
    import signal
    import sys

    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)

    async def run() -> list[CollectorStatusV1]:
        async with recording(KineticSettings(mqtt=mqtt), [topics.all_collector_status()], f"{unique}-rec") as rec:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                DYING,
                str(mosquitto.port),
                unique,
                str(tmp_path / "q.sqlite"),
                stdout=asyncio.subprocess.PIPE,
            )
            assert process.stdout is not None
            assert (await asyncio.wait_for(process.stdout.readline(), 30)).strip() == b"online"
            await until(lambda: len(rec.messages) >= 1, 10, "online")
            process.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker publishes the will
            await process.wait()
            await until(lambda: len(rec.messages) >= 2, 20, "the will")
            return [CollectorStatusV1.model_validate_json(p) for _, p in rec.messages]

    statuses = asyncio.run(run())
    assert [s.state for s in statuses] == ["online", "offline"] and statuses[1].collector == "desk-pi"
    assert statuses[1].devices == ["w0-watch"]


@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
def test_garbage_on_the_prompts_topics_never_stops_the_collector(
    mosquitto: Server, tmp_path: Path, data: st.DataObject
) -> None:
    """Issue 13, services never exit because of data: random, truncated and mutated prompts on the wearers' prompts
    topics while the collector streams. It stays up, every second keeps flowing, what is not a prompt for the
    topic's wearer is dead-lettered, what is one is shown once on that wearer's watch, and nothing raises inside."""
    unique = f"fc{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    at = datetime.now(UTC).isoformat()
    base = [
        (topics.prompts(w), {"v": 1, "wearer": w, "id": f"{w}-fuzz-1", "trigger": "sitting", "exercise": "x",
                             "title": "t", "text": "t", "created": at, "expires": at})
        for w in ("w0", "w1")
    ]  # fmt: skip
    junk = data.draw(st.lists(garbage(base), min_size=10, max_size=30))
    shown_ids: dict[str, set[str]] = {"w0": {"w0-sitting-1"}, "w1": set(), "w2": set()}
    refused = 0
    for topic, payload in junk:
        try:
            _, prompt = decode(topics, topic, payload)
        except WireError:
            refused += 1
            continue
        assert isinstance(prompt, PromptV1)
        shown_ids[prompt.wearer].add(prompt.id)
    (tmp_path / unique).mkdir()
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    messages, collector = run_collector(mqtt, tmp_path / unique, seconds=3, junk=junk)
    assert collector.counters.refused_prompts == refused and collector.counters.internal_errors == 0
    assert {w: len(alerts) for w, alerts in collector.shown.items()} == {w: len(i) for w, i in shown_ids.items()}
    for wearer in ORIENTATIONS:
        frames = [
            f
            for t, p in messages
            if t.endswith(f"/{wearer}/{wearer}-watch/features")
            for f in FeatureBatchV1.model_validate_json(p).frames
        ]
        assert len(frames) >= 2, (wearer, collector.counters)
