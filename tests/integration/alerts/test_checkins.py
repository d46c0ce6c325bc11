"""Check-ins end to end on real Mosquitto and influxd: `kinetic prompts checkin` -> the commands topic -> the alert
service (a ``checkin`` event, kept for readiness) -> the bridge -> InfluxDB ``checkins``; a check-in out of range is
refused on the command line before anything is sent, and on the wire by the alert service: counted, dead-lettered."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.mqtt import connect
from ingest.settings import InfluxSettings, MqttSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wire import DeadLetterV1, EventV1, Topics
from kinetic.cli import main
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, running_pipeline, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration


def test_a_check_in_from_the_command_line_is_stored_and_a_bad_one_dead_lettered(
    mosquitto: Server, influxd: Server, unique: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = KineticSettings(
        mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=influxd.url, database=unique),
    )
    monkeypatch.setenv("KINETIC_MQTT__HOST", mosquitto.host)
    monkeypatch.setenv("KINETIC_MQTT__PORT", str(mosquitto.port))
    monkeypatch.setenv("KINETIC_MQTT__TOPIC_ROOT", unique)
    monkeypatch.setenv("KINETIC_MQTT__CLIENT_ID_PREFIX", unique)
    topics = Topics(unique)

    # refused before anything is sent, naming the value and what is expected
    assert main(["prompts", "checkin", "ann", "--pain", "11"]) == 2
    assert "pain 11: expected a whole number from 0 (none) to 10 (worst)" in capsys.readouterr().err
    assert main(["prompts", "checkin", "ann", "--stress", "extreme"]) == 2
    assert "stress 'extreme': expected one of low, medium, high" in capsys.readouterr().err

    async def run() -> tuple[list[bytes], list[bytes], dict[str, object], int]:
        sink = InfluxV1Sink(settings.influx)
        await sink.prepare()
        async with (
            recording(settings, [topics.all_events(), topics.all_dead_letters()], f"{unique}-rec") as rec,
            running_pipeline(settings, sink, unique, Path(tempfile.mkdtemp()) / "s.sqlite") as pipeline,
        ):
            assert await asyncio.to_thread(main, ["prompts", "checkin", "ann", "--pain", "6", "--stress", "high"]) == 0
            # what a client that skipped the checks would send: the alert service refuses it
            bad = {"v": 1, "kind": "checkin", "wearer": "ann", "at": datetime.now(UTC).isoformat(), "pain": 12}
            async with connect(settings.mqtt, f"{unique}-app") as client:
                await client.publish(topics.commands("ann"), json.dumps(bad).encode(), qos=1)
            await until(lambda: len(rec.on("/_deadletter/alerts")) == 1 and len(rec.on("/events")) == 1, 20, "both")
            await until(lambda: pipeline.bridge.counters.points_written >= 2, 20, "stored")
            stored = await sink.query(f"SELECT pain, stress_level FROM checkins WHERE wearer = {'ann'!r}")
            refused = pipeline.alerts.dead_letters.count
        return rec.on("/events"), rec.on("/_deadletter/alerts"), stored, refused

    events, letters, stored, refused = asyncio.run(run())
    (event,) = [EventV1.model_validate_json(p) for p in events]
    assert (event.kind, event.reason, event.metrics) == (
        "checkin",
        "pain 6/10, stress high",
        {"pain": 6, "stress_level": 2},
    )
    (letter,) = [DeadLetterV1.model_validate_json(p) for p in letters]
    assert "pain" in letter.reason and "less than or equal to 10" in letter.reason
    assert refused == 1
    rows = stored["results"][0]["series"][0]["values"]  # type: ignore[index]
    assert [row[1:] for row in rows] == [[6.0, 2.0]]
