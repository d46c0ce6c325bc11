"""The whole pipeline on real Mosquitto and real influxd: simulator -> broker -> alerts + bridge -> InfluxDB."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from ingest.mqtt import connect
from ingest.settings import InfluxSettings, MqttSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.service import simulate
from ingest.simulate.synth import frames_for
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wire import CommandV1, DeadLetterV1, FeatureBatchV1, PromptV1, Topics, encode
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, running_pipeline, until
from tests.support.servers import Server

pytestmark = pytest.mark.integration

SIT_35 = """
start: 2026-11-23T09:00:00+01:00
seed: 3
wearers:
  - wearer: ann
    placement: thigh
    segments:
      - walk 2m
      - sit 35m
      - walk 3m
"""


def settings_for(mosquitto: Server, influxd: Server, unique: str) -> KineticSettings:
    return KineticSettings(
        mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=influxd.url, database=unique),
    )


async def run_scenario(settings: KineticSettings, scenario_text: str, before=None):  # type: ignore[no-untyped-def]
    scenario = parse_scenario(scenario_text)
    spool_path = Path(tempfile.mkdtemp(prefix="kinetic-spool-")) / "spool.sqlite"
    topics = Topics(settings.mqtt.topic_root)
    sink = InfluxV1Sink(settings.influx)
    await sink.prepare()
    async with (
        recording(settings, [topics.all_prompts(), topics.all_dead_letters()], f"{topics.root}-rec") as rec,
        running_pipeline(settings, sink, topics.root, spool_path) as pipeline,
    ):
        if before is not None:
            await before(settings, topics)
        result = await simulate(scenario, mqtt=settings.mqtt, topics=topics, speed=0, batch_s=10)
        await pipeline.settle(result.batches)
        await asyncio.sleep(0.3)  # let the recorder receive the last prompt
    return scenario, rec, pipeline, sink


def test_sitting_35_min_gives_exactly_one_prompt_stored_in_influxdb(
    mosquitto: Server, influxd: Server, unique: str
) -> None:
    settings = settings_for(mosquitto, influxd, unique)

    async def scenario_run():  # type: ignore[no-untyped-def]
        scenario, rec, pipeline, sink = await run_scenario(settings, SIT_35)
        frames = await sink.query("SELECT count(incl_deg) FROM features WHERE wearer = 'ann'")
        events = await sink.query("SELECT * FROM events WHERE kind = 'prompt_sent'")
        prompts = await sink.query("SELECT * FROM prompts")
        bouts = await sink.query("SELECT * FROM events WHERE kind = 'bout_ended'")
        return scenario, rec, pipeline, frames, events, prompts, bouts

    scenario, rec, pipeline, frames, events, prompts, bouts = asyncio.run(scenario_run())

    published = [PromptV1.model_validate_json(p) for p in rec.on("/prompts")]
    assert len(published) == 1, published
    prompt = published[0]
    sitting_began = scenario.start + timedelta(minutes=2)
    lag = (prompt.created - sitting_began).total_seconds()
    assert abs(lag - 30 * 60) <= 2, f"prompt {lag:.0f}s after sitting began"
    assert prompt.bout_start == sitting_began

    # Frames, the prompt and the prompt event come back from InfluxDB through InfluxQL.
    assert frames["results"][0]["series"][0]["values"][0][1] == 40 * 60
    prompt_rows = prompts["results"][0]["series"][0]
    assert len(prompt_rows["values"]) == 1
    row = dict(zip(prompt_rows["columns"], prompt_rows["values"][0], strict=True))
    assert row["id"] == prompt.id and row["time"] == int(prompt.created.timestamp() * 1000)
    event_rows = events["results"][0]["series"][0]
    assert len(event_rows["values"]) == 1
    event = dict(zip(event_rows["columns"], event_rows["values"][0], strict=True))
    assert event["prompt_id"] == prompt.id and event["wearer"] == "ann"
    # The sitting bout that ended at the walk was stored with its length.
    ended = [
        dict(zip(bouts["results"][0]["series"][0]["columns"], v, strict=True))
        for v in bouts["results"][0]["series"][0]["values"]
    ]
    sitting = [b for b in ended if b["posture"] == "sitting"]
    assert [b["duration_s"] for b in sitting] == [35 * 60]
    assert pipeline.bridge.dead_letters.count == 0 and pipeline.alerts.dead_letters.count == 0


def test_malformed_payloads_are_dead_lettered_while_the_pipeline_carries_on(
    mosquitto: Server, influxd: Server, unique: str
) -> None:
    settings = settings_for(mosquitto, influxd, unique)
    bad = {
        "not json": b"{nope",
        "schema": json.dumps(
            {
                "v": 1,
                "wearer": "ann",
                "device": "ann-thigh",
                "placement": "thigh",
                "seq": 0,
                "frames": [{"t_ms": 1_767_603_600_000, "incl_deg": 500, "enmo_mg": 1, "n": 50}],
            }
        ).encode(),
        "extra field": json.dumps(
            {
                "v": 1,
                "wearer": "ann",
                "device": "ann-thigh",
                "placement": "thigh",
                "seq": 0,
                "frames": [{"t_ms": 1_767_603_600_000, "incl_deg": 5, "enmo_mg": 1, "n": 50}],
                "colour": "red",
            }
        ).encode(),
        "binary": b"\xff\xfe\x00",
    }

    async def publish_garbage(settings: KineticSettings, topics: Topics) -> None:
        async with connect(settings.mqtt, f"{unique}-garbage") as client:
            for payload in bad.values():
                await client.publish(topics.features("ann", "ann-thigh"), payload, qos=1)
            # a payload that claims another wearer than its topic
            spoof = bad["extra field"].replace(b', "colour": "red"', b"").replace(b'"ann"', b'"eve"')
            await client.publish(topics.features("ann", "ann-thigh"), spoof, qos=1)

    async def scenario_run():  # type: ignore[no-untyped-def]
        _, rec, pipeline, sink = await run_scenario(settings, SIT_35, before=publish_garbage)
        frames = await sink.query("SELECT count(incl_deg) FROM features")
        return rec, pipeline, frames

    rec, pipeline, frames = asyncio.run(scenario_run())
    letters = [DeadLetterV1.model_validate_json(p) for p in rec.on("/_deadletter/alerts")]
    letters += [DeadLetterV1.model_validate_json(p) for p in rec.on("/_deadletter/bridge")]
    # each of the 5 bad messages was dead-lettered by both services that read the features topic
    assert pipeline.alerts.dead_letters.count == 5 and pipeline.bridge.dead_letters.count == 5
    assert len(letters) == 10
    assert all(letter.topic.endswith("/ann/ann-thigh/features") for letter in letters)
    reasons = " | ".join(letter.reason for letter in letters)
    assert "Invalid JSON" in reasons and "incl_deg" in reasons and "colour" in reasons and "eve" in reasons
    assert any(letter.payload_encoding == "base64" for letter in letters)
    # ... and the good data still went through
    assert len(rec.on("/prompts")) == 1
    assert frames["results"][0]["series"][0]["values"][0][1] == 40 * 60


FAST = ("--speed", "0", "--json")


def run_or_dump(cmd: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run a command; if it outlives ``timeout_s``, SIGABRT makes Python's faulthandler print every thread's stack
    (the command runs with ``-X faulthandler``) and the test fails showing where it hung."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler writes every thread's stack, then the process aborts
            try:
                stdout, stderr = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:  # still there (a slow core dump): killed, whatever it printed kept
                proc.kill()
                stdout, stderr = proc.communicate(timeout=15)
            pytest.fail(f"{cmd[3:]} hung for {timeout_s} s; its stacks:\n{stderr[-8000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def test_demo_gives_the_same_prompt_as_the_server_pipeline(
    mosquitto: Server, influxd: Server, unique: str, tmp_path: Path
) -> None:
    settings = settings_for(mosquitto, influxd, unique)
    _, rec, _, _ = asyncio.run(run_scenario(settings, SIT_35))
    server_prompt = PromptV1.model_validate_json(rec.on("/prompts")[0])

    scenario_file = tmp_path / "sit35.yaml"
    scenario_file.write_text(SIT_35)
    own = ["--db", str(tmp_path / "demo.sqlite")]  # its own store, not the session's default one
    out = run_or_dump(
        [sys.executable, "-X", "faulthandler", "-m", "kinetic", "demo", "--scenario", str(scenario_file), *FAST, *own],
        timeout_s=300,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    (ann,) = summary["wearers"]
    assert len(ann["prompts"]) == 1
    demo_prompt = ann["prompts"][0]
    assert demo_prompt["id"] == server_prompt.id
    assert demo_prompt["exercise"] == server_prompt.exercise
    assert (
        demo_prompt["created"]
        == server_prompt.created.astimezone(__import__("datetime").timezone(timedelta(hours=1))).isoformat()
    )
    assert ann["sitting_bouts"] == 1 and ann["bouts_30min_plus"] == 1 and ann["sitting_min"] == 35.0


def test_calibrate_command_reaches_the_alert_service(mosquitto: Server, influxd: Server, unique: str) -> None:
    settings = settings_for(mosquitto, influxd, unique)
    # a thigh sensor that only sends gravity (no walking, no angles): posture unknown until calibrated
    scenario = parse_scenario("wearers:\n  - wearer: cal\n    placement: thigh\n    segments: [stand 30s, sit 40m]\n")
    frames = [f.model_copy(update={"incl_deg": None}) for f in frames_for(scenario, scenario.wearers[0])]

    async def run() -> int:
        topics = Topics(unique)
        sink = InfluxV1Sink(settings.influx)
        await sink.prepare()
        async with (
            recording(settings, [topics.all_prompts()], f"{unique}-rec") as rec,
            running_pipeline(settings, sink, unique, Path(tempfile.mkdtemp()) / "s.sqlite") as pipeline,
            connect(settings.mqtt, f"{unique}-sensor") as client,
        ):

            def batch(i: int, n: int) -> bytes:
                return encode(
                    FeatureBatchV1(wearer="cal", device="cal-thigh", placement="thigh", seq=i, frames=frames[i : i + n])
                )

            await client.publish(topics.features("cal", "cal-thigh"), batch(0, 5), qos=1)
            await until(lambda: pipeline.alerts.engine.counters.batches == 1, 10, "first batch")
            # what `kinetic calibrate cal` publishes, at the sensor's clock (event time) of this replay
            command = CommandV1(kind="calibrate", wearer="cal", at=scenario.start + timedelta(seconds=5))
            await client.publish(topics.commands("cal"), encode(command), qos=1)
            await asyncio.sleep(0.5)
            for i in range(5, len(frames), 60):
                await client.publish(topics.features("cal", "cal-thigh"), batch(i, 60), qos=1)
            await until(lambda: pipeline.alerts.engine.counters.frames >= len(frames), 30, "all frames")
            await asyncio.sleep(0.3)
            assert pipeline.alerts.engine.wearers["cal"].primary_device.calibration.source == "explicit"
        return len(rec.on("/prompts"))

    assert asyncio.run(run()) == 1
