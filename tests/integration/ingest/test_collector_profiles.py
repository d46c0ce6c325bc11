"""Polar H10 and Verity Sense, emulated on the Bumble virtual radio, read by the unchanged collector (bleak): the
control-point handshake, frame type 0x01 and delta frames with a FACTOR, the device clock (2019, drifting) mapped
to the host clock, status with battery and firmware, into real Mosquitto."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from alerts.detect.calibration import angle_deg
from ingest.ble.bumble_backend import VirtualRadio
from ingest.ble.collector import Collector
from ingest.ble.emulators.microbit import MicrobitEmulator
from ingest.ble.emulators.polar_pmd import PolarEmulator
from ingest.settings import MqttSettings, WearableConfig
from ingest.wire import DeviceStatusV1, FeatureBatchV1, Topics
from kinetic.settings import KineticSettings
from tests.support.collecting import collecting, on_radio
from tests.support.data import dataset
from tests.support.pipeline import recording, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

SECONDS = 4
# A second with fewer than 3 samples gives no frame (ingest/ble/aggregate.py): the first and last second of a
# stream may lose that many samples, by design; every sample is still counted as received.
EDGE = 4
TILTED = (0.0, 0.5, 0.866)  # a chest strap 30 deg off vertical


def test_h10_and_verity_sense_stream_through_the_collector(mosquitto: Server, tmp_path: Path, unique: str) -> None:
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)

    async def run() -> tuple[list[tuple[str, bytes]], dict[str, PolarEmulator], Collector, float]:
        radio = VirtualRadio()
        await radio.start()
        sensors = {
            "h10": PolarEmulator(radio.peripheral("h10", "F3:00:00:00:00:10"), model="h10", drift_ppm=50),
            "verity": PolarEmulator(
                radio.peripheral("verity", "F3:00:00:00:00:11"), model="verity", clock_ns=790_000_000_000_000_000
            ),
        }
        for sensor in sensors.values():
            await sensor.start()
        wearables = [
            WearableConfig(
                wearer="pia", device="pia-h10", profile="polar-pmd", placement="trunk", name="Polar H10 0A3B5C7D"
            ),
            WearableConfig(
                wearer="rob", device="rob-verity", profile="polar-pmd", placement="trunk", address="F3:00:00:00:00:11"
            ),
        ]
        collector = on_radio(radio, wearables, topics, tmp_path, batch_s=1, scan_timeout_s=3)
        async with collecting(collector, mqtt, [topics.all_features(), topics.all_status()]) as rec:
            await until(lambda: all(s.streaming.is_set() for s in sensors.values()), 20, "both streams started")
            started = time.time()
            await asyncio.gather(*(s.stream([TILTED] * (s.rate_hz * SECONDS), realtime=True) for s in sensors.values()))
        return rec.messages, sensors, collector, started

    messages, sensors, collector, started = asyncio.run(run())
    h10, verity = sensors["h10"], sensors["verity"]
    # the handshake: get settings, then start ACC at the preferred rate the sensor offers, 16 bit, 8 g
    assert h10.cp_writes == [bytes.fromhex("01 02"), bytes.fromhex("02 02 00 01 32 00 01 01 10 00 02 01 08 00")]
    assert verity.cp_writes[1] == bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00")  # 52 Hz
    assert collector.counters.samples == (50 + 52) * SECONDS and collector.counters.decode_errors == 0

    batches = [FeatureBatchV1.model_validate_json(p) for t, p in messages if t.endswith("/features")]
    for device in ("pia-h10", "rob-verity"):
        frames = [f for b in batches if b.device == device for f in b.frames]
        times = [f.t_ms for f in frames]
        # device clocks of 2019 and 2025 mapped onto the host's: the data is from this run, one frame a second
        assert abs(times[0] / 1000 - started) < 2 and all(b - a == 1000 for a, b in itertools.pairwise(times))
        assert (50 if device == "pia-h10" else 52) * SECONDS - EDGE <= sum(f.n for f in frames)
        # units: mG frames (H10) and delta frames x FACTOR (Verity) both give gravity in g
        assert all(f.gravity is not None and angle_deg(f.gravity, TILTED) < 1 for f in frames)
        assert all(abs(sum(v * v for v in f.gravity or (0, 0, 0)) ** 0.5 - 1) < 0.01 for f in frames)
        # the standard Heart Rate Service beside PMD: the beat of each second on its frame
        assert [f.hr_bpm for f in frames] == [72.0] * len(frames)
    statuses = [
        DeviceStatusV1.model_validate_json(p) for t, p in messages if t.endswith("/status") and "/_collector/" not in t
    ]
    online = {s.device: s for s in statuses if s.state == "online"}
    assert online["pia-h10"].firmware == "3.1.1" and online["pia-h10"].battery_pct == 71
    assert all(s.rssi_dbm is not None for s in online.values())  # from the advertisement the scan found
    assert online["rob-verity"].firmware == "2.1.0"


def test_text_and_values_a_device_sends_are_normalised_or_refused_where_they_enter(
    mosquitto: Server, tmp_path: Path, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A strap with a NUL-padded name and Firmware Revision, a model number with a line break, a manufacturer name
    that is not UTF-8 and a battery level of 255 ("unknown"): found by its name, its status says firmware "3.1.1"
    and no battery level, the two refusals are counted and said once each, and it streams as any other."""
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)

    async def run() -> tuple[list[tuple[str, bytes]], Collector]:
        radio = VirtualRadio()
        await radio.start()
        strap = PolarEmulator(
            radio.peripheral("h10", "F3:00:00:00:00:12"),
            advertised_name=b"Polar H10 0A3B5C7D\x00\x00\x00",
            firmware=b"3.1.1" + bytes(11),
            model_number=b"H10\r\n",
            manufacturer=b"Polar\xff Electro Oy",
            battery_pct=255,
        )
        await strap.start()
        cfg = WearableConfig(
            wearer="pia", device="pia-h10", profile="polar-pmd", placement="trunk", name="Polar H10 0A3B5C7D"
        )
        collector = on_radio(radio, [cfg], topics, tmp_path, batch_s=1, scan_timeout_s=3)
        async with collecting(collector, mqtt, [topics.all_features(), topics.all_status()]) as rec:
            await until(strap.streaming.is_set, 20, "the stream")
            await strap.stream([TILTED] * (50 * 2), realtime=True)
        return rec.messages, collector

    with caplog.at_level("INFO", logger="ingest.ble.collector"):
        messages, collector = asyncio.run(run())
    statuses = [DeviceStatusV1.model_validate_json(p) for t, p in messages if t.endswith("/pia/pia-h10/status")]
    assert [(s.state, s.firmware, s.battery_pct) for s in statuses] == [
        ("online", "3.1.1", None),
        ("offline", "3.1.1", None),
    ]
    assert collector.counters.refused_device_values == 2 and collector.counters.decode_errors == 0
    refusals = [r.getMessage() for r in caplog.records if "not used" in r.getMessage()]
    assert refusals == [
        "pia pia-h10: battery level not used (battery level ff: expected one byte of 0-100)",
        "pia pia-h10: manufacturer name not used (device text 506f6c6172ff20456c656374726f204f79: not UTF-8 "
        "(invalid start byte at byte 5))",
    ]
    assert any("(model H10, manufacturer None, firmware 3.1.1)" in r.getMessage() for r in caplog.records)
    frames = [f for t, p in messages if t.endswith("/features") for f in FeatureBatchV1.model_validate_json(p).frames]
    assert sum(f.n for f in frames) >= 50 * 2 - EDGE


def test_a_microbit_is_set_to_50_hz_and_streams_through_the_collector(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)

    async def run() -> tuple[list[tuple[str, bytes]], MicrobitEmulator, Collector]:
        radio = VirtualRadio()
        await radio.start()
        board = MicrobitEmulator(radio.peripheral("microbit", "F4:00:00:00:00:20"))
        await board.start()
        cfg = WearableConfig(
            wearer="max", device="max-thigh", profile="microbit", placement="thigh", address="F4:00:00:00:00:20"
        )
        collector = on_radio(radio, [cfg], topics, tmp_path, batch_s=1, scan_timeout_s=3)
        async with collecting(collector, mqtt, [topics.all_features()]) as rec:
            await until(lambda: collector.connected["max-thigh"], 20, "the subscription")
            assert board.period_writes == [20]
            # no two readings in a row alike (1 mg apart, a small circle round the same direction): equal readings
            # within half a period are taken for a BlueZ repeat (a loaded machine bunches notifications: CI, once)
            await board.stream([(0.001 * (k % 7) - 0.003, -1.0, 0.05) for k in range(50 * 3)])
        return rec.messages, board, collector

    messages, board, collector = asyncio.run(run())
    assert board.period_ms == 20 and collector.counters.samples == board.sent == 150
    frames = [f for _, p in messages for f in FeatureBatchV1.model_validate_json(p).frames]
    assert 150 - EDGE <= sum(f.n for f in frames) <= 150
    assert all(f.gravity is not None and angle_deg(f.gravity, (0.0, -1.0, 0.05)) < 1 for f in frames)


@pytest.mark.data
def test_a_recorded_file_replays_through_an_emulated_sensor_and_the_collector(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    """20 s of a real chest recording (../shared/data/uci-chest-casale, 52 Hz counts) as `kinetic simulate --ble
    --replay` sends it: every sample arrives, and the edge's per-second features equal the offline computation on
    the same samples (the features module both use)."""
    import numpy as np

    from ingest.ble.simulate_ble import load_replay, replay_ble
    from ingest.features import seconds_from_samples

    data = dataset("uci-chest-casale") / "recordings"
    replay = load_replay(data / "participant01.csv.gz", "trunk", seconds=20)
    assert replay.rate_hz == 52 and len(replay.samples) == 20 * 52
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique, client_id_prefix=unique)
    topics = Topics(unique)
    start_ms = 1_795_420_000_000

    async def run() -> tuple[list[tuple[str, bytes]], int, int]:
        async with recording(KineticSettings(mqtt=mqtt), [topics.all_features()], f"{unique}-rec") as rec:
            result = await replay_ble(
                replay,
                wearer="ria",
                mqtt=mqtt,
                topics=topics,
                speed=4,
                queue_path=tmp_path / "queue.sqlite",
                start_ms=start_ms,
                batch_s=5,
            )
            await until(lambda: len(rec.messages) >= result.counters.batches_queued, 20, "every batch")
        return rec.messages, result.samples_sent, result.counters.samples

    messages, sent, received = asyncio.run(run())
    assert sent == received == 20 * 52
    frames = [f for _, p in messages for f in FeatureBatchV1.model_validate_json(p).frames]
    assert 20 * 52 - EDGE <= sum(f.n for f in frames) <= 20 * 52
    # offline: the same samples on the recording's own clock; the edge stamps them on reception (the scenario
    # clock at 4x), so seconds may split a few samples differently: compare the whole and the mean direction
    offline = list(seconds_from_samples(np.array(replay.t_ms), np.array(replay.samples), min_samples=3))
    edge_g = np.mean([f.gravity for f in frames if f.gravity and f.n >= 40], axis=0)
    offline_g = np.mean([f.gravity for f in offline if f.gravity], axis=0)
    assert angle_deg(tuple(edge_g), tuple(offline_g)) < 1.0
    assert abs(len(frames) - len(offline)) <= 2 and frames[0].t_ms // 1000 * 1000 >= start_ms


def test_the_demo_on_the_ble_path(tmp_path: Path) -> None:
    """`kinetic demo --ble`: the same embedded pipeline, fed by emulated sensors and the real collector."""
    import json
    import os
    import subprocess
    import sys

    day = tmp_path / "day.yaml"
    day.write_text(
        "start: 2026-11-23T09:00:00+01:00\nwearers:\n  - wearer: una\n    placement: thigh\n"
        "    segments: [walk 30s, sit 2m, walk 30s]\n"
    )
    env = {**os.environ, "KINETIC_ALERTS__SITTING_THRESHOLD_MIN": "1.5", "KINETIC_ALERTS__STATE_DIR": ""}
    own = ["--db", str(tmp_path / "demo.sqlite")]
    out = subprocess.run(
        [sys.executable, "-m", "kinetic", "demo", "--ble", "--scenario", str(day), "--speed", "30", "--json", *own],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    (una,) = json.loads(out.stdout)["wearers"]
    assert abs(una["sitting_min"] - 2) < 0.2 and una["sitting_bouts"] == 1
    (prompt,) = una["prompts"]
    assert prompt["created"] == "2026-11-23T09:02:00+01:00"  # 1.5 min after sitting down at 09:00:30


def test_ten_wearables_of_five_profiles_in_one_collector(mosquitto: Server, tmp_path: Path, unique: str) -> None:
    """Two each of H10, Verity Sense, micro:bit, PineTime and DIY, streaming at once through one collector: each
    gets all its samples into time-ordered frames, none waits for another."""
    import numpy as np

    from ingest.ble.emulators.infinitime import InfiniTimeEmulator
    from ingest.ble.emulators.kinetic_diy import KineticDiyEmulator

    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)
    seconds = 3

    def noisy(rate: int, seed: int) -> list[tuple[float, float, float]]:
        # every reading distinct (x rises 4 mg a sample, over any sensor's resolution): readings without a counter
        # (micro:bit, PineTime) equal to one received within half a period are taken for a BlueZ repeat, which a
        # loaded machine delivering notifications in bunches made happen to random readings (CI, once); that rule
        # has its own tests (test_ble_repeats.py)
        rng = np.random.default_rng(seed)
        return [(-0.5 + 0.004 * k + 0.001 * rng.random(), 0.5, 0.866) for k in range(rate * seconds)]

    async def run() -> tuple[list[tuple[str, bytes]], Collector, dict[str, int]]:
        radio = VirtualRadio()
        await radio.start()
        streams, wearables, sent = [], [], {}
        watches: dict[str, InfiniTimeEmulator] = {}
        for i in range(2):
            for kind in ("h10", "verity", "microbit", "pinetime", "diy"):
                address = f"F5:00:00:00:0{i}:{len(wearables):02X}"
                device = radio.peripheral(f"{kind}{i}", address)
                name = f"{kind}-{i}"
                if kind in ("h10", "verity"):
                    polar = PolarEmulator(device, model=kind)  # type: ignore[arg-type]
                    await polar.start()
                    streams.append(polar.stream(noisy(50 if kind == "h10" else 52, len(wearables)), realtime=True))
                    profile, sent[name] = "polar-pmd", (50 if kind == "h10" else 52) * seconds
                elif kind == "microbit":
                    board = MicrobitEmulator(device)
                    await board.start()
                    streams.append(_after(lambda b=board: b.period_ms == 20, board.stream(noisy(50, len(wearables)))))
                    profile, sent[name] = "microbit", 50 * seconds
                elif kind == "pinetime":
                    watch = InfiniTimeEmulator(device)
                    await watch.start()
                    streams.append(watch.stream(noisy(10, len(wearables)), rate_hz=10))
                    watches[name] = watch  # change-only notifications: it counts what it really sent
                    profile, sent[name] = "infinitime", 10 * seconds
                else:
                    diy = KineticDiyEmulator(device, 52, 13)
                    await diy.start(f"Kinetic DIY {i}")
                    streams.append(diy.stream(noisy(52, len(wearables))))
                    profile, sent[name] = "kinetic-diy", 52 * seconds
                wearables.append(
                    WearableConfig(
                        wearer=f"p{len(wearables)}", device=name, profile=profile, placement="trunk", address=address
                    )
                )
        collector = on_radio(radio, wearables, topics, tmp_path, batch_s=1, scan_timeout_s=5)
        async with collecting(collector, mqtt, [topics.all_features()]) as rec:
            await until(lambda: all(collector.connected.values()), 60, "ten connections")
            await asyncio.gather(*streams)
            sent.update({name: watch.sent for name, watch in watches.items()})
            await asyncio.sleep(0.5)
        return rec.messages, collector, sent

    messages, collector, sent = asyncio.run(run())
    assert collector.counters.decode_errors == 0 and collector.counters.connects == 10
    assert collector.counters.samples == sum(sent.values())  # every sample decoded
    batches = [FeatureBatchV1.model_validate_json(p) for _, p in messages]
    for device, count in sent.items():
        frames = [f for b in batches if b.device == device for f in b.frames]
        times = [f.t_ms for f in frames]
        assert times == sorted(times) and len(set(times)) == len(times), device
        assert count - EDGE <= sum(f.n for f in frames) <= count, device


async def _after(ready: Callable[[], bool], stream: Awaitable[None]) -> None:
    while not ready():
        await asyncio.sleep(0.01)
    await stream


def test_a_bumble_transport_that_cannot_open_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    """`kinetic collect` on a Bumble-driven controller (a USB dongle without BlueZ): no dongle here, so only the
    error path runs; the happy path needs hardware (docs/collector.md says so)."""
    import os
    import subprocess
    import sys

    config = tmp_path / "kinetic.toml"
    config.write_text(
        '[collector]\nbumble_transport = "usb:7"\nqueue_path = "' + str(tmp_path / "q.sqlite") + '"\n'
        '[[collector.wearables]]\nwearer = "ann"\ndevice = "ann-h10"\nprofile = "polar-pmd"\n'
        'placement = "trunk"\nname = "Polar H10 0A3B5C7D"\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "kinetic", "--config", str(config), "collect"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KINETIC_MQTT__PORT": "9"},
    )
    assert out.returncode == 2, out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("kinetic: error:")]
    assert "KINETIC_COLLECTOR__BUMBLE_TRANSPORT='usb:7': cannot open it" in line
    assert "Traceback" not in out.stderr
