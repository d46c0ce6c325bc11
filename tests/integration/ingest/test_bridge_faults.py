"""No loss under faults, on real servers: database down, database rejecting lines, kill -9, broker restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from ingest.settings import InfluxSettings, MqttSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.service import simulate
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wire import DeadLetterV1, Topics
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, running_pipeline, until
from tests.support.servers import Server, influxd_ready, mosquitto_ready, start_influxd, start_mosquitto

pytestmark = pytest.mark.integration


def sitting(minutes: int, offset_min: int = 0, wearer: str = "ann") -> str:
    offset = f"    start_offset: {offset_min}m\n" if offset_min else ""
    return (
        "start: 2026-11-23T09:00:00+01:00\n"
        f"wearers:\n  - wearer: {wearer}\n    placement: thigh\n{offset}    segments: [sit {minutes}m]\n"
    )


def influxql(url: str, db: str, q: str) -> list[list]:  # type: ignore[type-arg]
    query = urllib.parse.urlencode({"db": db, "q": q})
    with urllib.request.urlopen(f"{url}/query?{query}", timeout=5) as response:
        result = json.loads(response.read())["results"][0]
    return result["series"][0]["values"] if "series" in result else []  # type: ignore[no-any-return]


def count_features(url: str, db: str) -> int:
    values = influxql(url, db, "SELECT count(incl_deg) FROM features")
    return int(values[0][1]) if values else 0


def settings_for(mqtt_port: int, influx_url: str, unique: str) -> KineticSettings:
    return KineticSettings(
        mqtt=MqttSettings(host="127.0.0.1", port=mqtt_port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=influx_url, database=unique),
    )


def test_database_down_fills_the_spool_and_back_fills_when_it_returns(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    influx = start_influxd(tmp_path / "influxd")
    settings = settings_for(mosquitto.port, influx.url, unique)

    async def run() -> tuple[int, int, int]:
        sink = InfluxV1Sink(settings.influx)
        await sink.prepare()
        topics = Topics(unique)
        async with running_pipeline(settings, sink, unique, tmp_path / "spool.sqlite") as pipeline:
            influx.stop()  # the database goes away
            result = await simulate(parse_scenario(sitting(60)), mqtt=settings.mqtt, topics=topics, speed=0, batch_s=30)
            bridge = pipeline.bridge
            # Everything is consumed (and acknowledged) into the spool while the database is down.
            await until(lambda: bridge.counters.points_spooled >= result.frames, 60, "spooling")
            await until(lambda: bridge.counters.write_retries >= 2, 60, "write retries")
            spooled_while_down = bridge.spool.points
            influx.restart(influxd_ready)  # ... and comes back
            await asyncio.wait_for(bridge.drain(), 90)
            return result.frames, spooled_while_down, bridge.counters.write_retries

    try:
        frames, spooled_while_down, retries = asyncio.run(run())
        assert count_features(influx.url, unique) == frames == 3600
    finally:
        influx.stop()
    assert spooled_while_down >= frames and retries >= 2


def test_lines_the_database_rejects_are_isolated_and_dead_lettered(
    mosquitto: Server, influxd: Server, tmp_path: Path, unique: str
) -> None:
    settings = settings_for(mosquitto.port, influxd.url, unique)
    scenario = parse_scenario(sitting(20))

    async def run() -> tuple[list[DeadLetterV1], int]:
        sink = InfluxV1Sink(settings.influx)
        await sink.prepare()
        # A string where the bridge will write an integer: InfluxDB 1.x answers HTTP 400 "field type conflict".
        await sink.write_lines(
            f'device_status,device=ann-thigh,wearer=ann battery_pct="low" {scenario.start_ms - 1}\n'.encode()
        )
        topics = Topics(unique)
        async with (
            recording(settings, [topics.all_dead_letters()], f"{unique}-rec") as rec,
            running_pipeline(settings, sink, unique, tmp_path / "spool.sqlite") as pipeline,
        ):
            await simulate(scenario, mqtt=settings.mqtt, topics=topics, speed=0, batch_s=60)
            await until(lambda: pipeline.bridge.counters.rejected_lines >= 1, 30, "rejected lines")
            await asyncio.wait_for(pipeline.bridge.drain(), 30)
            await asyncio.sleep(0.3)
        return [
            DeadLetterV1.model_validate_json(p) for p in rec.on("/_deadletter/bridge")
        ], pipeline.bridge.counters.rejected_lines

    letters, rejected = asyncio.run(run())
    # the 'online' status line (it carries battery_pct) was refused; every feature frame was written
    assert rejected == 1 and len(letters) == 1
    assert all("field type conflict" in letter.reason for letter in letters)
    assert all(letter.payload.startswith("device_status,") for letter in letters)
    assert count_features(influxd.url, unique) == 20 * 60


def test_kill_9_mid_stream_loses_nothing(mosquitto: Server, influxd: Server, tmp_path: Path, unique: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KINETIC_MQTT__PORT": str(mosquitto.port),
        "KINETIC_MQTT__TOPIC_ROOT": unique,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": unique,
        "KINETIC_INFLUX__URL": influxd.url,
        "KINETIC_INFLUX__DATABASE": unique,
        "KINETIC_BRIDGE__SPOOL_PATH": str(tmp_path / "spool.sqlite"),
        "KINETIC_BRIDGE__BATCH_MAX_POINTS": "2000",
        "KINETIC_LOG_LEVEL": "INFO",
    }

    def start_bridge(log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "kinetic", "bridge"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while "subscribed under" not in log.read_text():
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()
            time.sleep(0.05)
        return process

    first = start_bridge(tmp_path / "bridge1.log")
    scenario = tmp_path / "day.yaml"
    scenario.write_text(sitting(8 * 60))  # 28,800 frames
    sim = subprocess.Popen(
        [sys.executable, "-m", "kinetic", "simulate", str(scenario), "--speed", "0", "--batch-s", "50"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # kill -9 once the bridge is busy: some points written, more on their way
    deadline = time.monotonic() + 60
    while count_features(influxd.url, unique) == 0:
        assert time.monotonic() < deadline, (tmp_path / "bridge1.log").read_text()
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    written_at_kill = count_features(influxd.url, unique)
    _, sim_err = sim.communicate(timeout=120)
    assert sim.returncode == 0, sim_err
    second = start_bridge(tmp_path / "bridge2.log")
    try:
        deadline = time.monotonic() + 90
        while count_features(influxd.url, unique) < 28_800 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert count_features(influxd.url, unique) == 28_800, (tmp_path / "bridge2.log").read_text()
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    assert 0 < written_at_kill < 28_800  # the kill really was mid-stream
    # The minute rollups came through the crash whole: 480 minutes of 60 frames each (the state of the open
    # minute is saved with every spool transaction, and redelivered frames are not counted twice).
    minutes = influxql(influxd.url, unique, "SELECT frames FROM features_1m")
    assert len(minutes) == 480 and {m[1] for m in minutes} == {60}


def test_broker_restart_loses_nothing(influxd: Server, tmp_path: Path, unique: str) -> None:
    broker = start_mosquitto(tmp_path / "broker")
    settings = settings_for(broker.port, influxd.url, unique)

    async def run() -> int:
        sink = InfluxV1Sink(settings.influx)
        await sink.prepare()
        topics = Topics(unique)
        async with running_pipeline(settings, sink, unique, tmp_path / "spool.sqlite") as pipeline:
            first = await simulate(parse_scenario(sitting(30)), mqtt=settings.mqtt, topics=topics, speed=0, batch_s=30)
            await asyncio.to_thread(broker.restart, mosquitto_ready)
            second = await simulate(
                parse_scenario(sitting(30, offset_min=30)), mqtt=settings.mqtt, topics=topics, speed=0, batch_s=30
            )
            expected = first.frames + second.frames
            bridge = pipeline.bridge
            await until(lambda: bridge.counters.points_spooled >= expected, 60, "all frames")
            try:
                await asyncio.wait_for(bridge.drain(), 30)
            except TimeoutError:
                raise AssertionError(
                    f"not drained: {bridge.counters}, spool {bridge.spool.batches} batches, "
                    f"uncommitted {bridge._uncommitted}"
                ) from None
            return expected

    try:
        expected = asyncio.run(run())
    finally:
        broker.stop()
    assert expected == 3600 and count_features(influxd.url, unique) == 3600


def test_bridge_stores_its_own_counters_for_the_operations_dashboard(
    mosquitto: Server, influxd: Server, tmp_path: Path, unique: str
) -> None:
    settings = settings_for(mosquitto.port, influxd.url, unique)
    settings.bridge.stats_interval_s = 0.3
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    scenario = parse_scenario(
        f"start: {start.isoformat()}\nwearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 5m]\n"
    )

    async def run() -> None:
        sink = InfluxV1Sink(settings.influx)
        await sink.prepare()
        topics = Topics(unique)
        async with running_pipeline(settings, sink, unique, tmp_path / "spool.sqlite") as pipeline:
            async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=f"{unique}-bad") as client:
                await client.publish(topics.features("ann", "thigh"), b'{"v": 1, "wearer": "ann"', qos=1)
            await simulate(scenario, mqtt=settings.mqtt, topics=topics, speed=0, batch_s=60)
            await until(lambda: pipeline.bridge.dead_letters.count >= 1, 30, "the dead letter")
            await until(lambda: pipeline.bridge.counters.points_written >= 5 * 60, 30, "all frames written")
            await asyncio.sleep(1.0)  # at least two more stats intervals
        await sink.aclose()

    asyncio.run(run())
    rows = influxql(
        influxd.url,
        unique,
        "SELECT last(dead_letters), last(points_written), max(lag_s), count(messages) FROM bridge_stats",
    )
    (_, dead, written, lag, stats_points) = rows[0]
    assert dead == 1
    assert written >= 5 * 60  # the frames (plus the status and minute rollups)
    assert 5 * 60 <= lag <= 10 * 60 + 60  # wall clock minus the newest frame: the scenario ended 5 min ago
    assert stats_points >= 2
