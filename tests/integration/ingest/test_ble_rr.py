"""RR intervals from an emulated Polar H10 (Heart Rate Measurement, 1/1024 s) over the Bumble virtual radio, through
the unchanged collector (bleak) onto the wire (``rr_ms``) in real Mosquitto: every beat once, in order, with the
emulated series' known RMSSD; an interval that is not a heartbeat is refused and counted, not sent."""

from __future__ import annotations

import asyncio
import itertools
import math
import struct
from pathlib import Path

import pytest

from ingest.ble.bumble_backend import VirtualRadio
from ingest.ble.collector import Collector
from ingest.ble.emulators.polar_pmd import PolarEmulator
from ingest.settings import MqttSettings, WearableConfig
from ingest.wire import DeadLetterV1, FeatureBatchV1, Topics
from tests.support.collecting import collecting, on_radio
from tests.support.pipeline import until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

SECONDS = 10
# one RR interval per second, in turn: 800 and 840 ms alternating (RMSSD 40 ms), and every fifth 100 ms, which no
# heart beats at (a strap losing contact): refused by the collector, so what is sent still alternates
CYCLE_S = (0.80, 0.84, 0.80, 0.84, 0.10)


def test_rr_intervals_from_an_emulated_h10_reach_mqtt_with_their_known_rmssd(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)

    async def run() -> tuple[list[tuple[str, bytes]], Collector]:
        radio = VirtualRadio()
        await radio.start()
        strap = PolarEmulator(radio.peripheral("h10", "F3:00:00:00:00:20"), model="h10", rr_intervals_s=CYCLE_S)
        await strap.start()
        cfg = WearableConfig(
            wearer="pia", device="pia-h10", profile="polar-pmd", placement="trunk", address="F3:00:00:00:00:20"
        )
        collector = on_radio(radio, [cfg], topics, tmp_path, batch_s=1, scan_timeout_s=3)
        async with collecting(collector, mqtt, [topics.all_features(), topics.dead_letter("collector")]) as rec:
            await until(strap.streaming.is_set, 20, "the stream")
            await strap.stream([(0.0, 0.0, 1.0)] * (strap.rate_hz * SECONDS), realtime=True)
        return rec.messages, collector

    messages, collector = asyncio.run(run())
    frames = [f for t, p in messages if t.endswith("/features") for f in FeatureBatchV1.model_validate_json(p).frames]
    rr = [r for f in frames for r in f.rr_ms or []]
    # 1/1024 s on the air: round(0.80 * 1024) / 1024 s = 800 ms, round(0.84 * 1024) / 1024 s = 840 ms
    assert rr == [800, 840] * 4
    assert collector.counters.rr_intervals == 8 and collector.counters.refused_rr == 2
    # each refused interval dead-lettered with the notification that carried it (flags 0x10: RR present, then the
    # heart rate and RR 102/1024 s = 100 ms)
    letters = [DeadLetterV1.model_validate_json(p) for t, p in messages if t.endswith("/_deadletter/collector")]
    assert [(x.topic, x.reason) for x in letters] == [
        (
            "ble:/pia/pia-h10/heart rate",
            "1 of 1 RR intervals refused: expected 250-2500 ms",
        )
    ] * 2
    assert all(struct.unpack_from("<H", x.original(), len(x.original()) - 2) == (102,) for x in letters)
    differences = [b - a for a, b in itertools.pairwise(rr)]
    assert math.sqrt(sum(d * d for d in differences) / len(differences)) == 40.0
    assert all(len(f.rr_ms or []) <= 2 for f in frames)  # one beat a second, on the second it arrived in
