"""Times that cannot be right, on real Mosquitto (and influxd): issue 13, cases 1 and 2.

1. A poison message: a feature batch whose times are microseconds. Before, `kinetic alerts` exited with
   "year ... is out of range" at that batch, and again after every restart (the broker redelivers it). Now it is
   dead-lettered with the reason, the service stays up and serves every other wearer, and a restart finds nothing
   to choke on.
2. A frame from the future: one frame stamped a day ahead in a day of one frame per second. Before, every later
   (correct) frame was stale to the engine and no prompt came again. Now that frame is refused at the edge of both
   services (dead-lettered, counted), the frames before it in its message are kept, and the day goes on.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.mqtt import connect
from ingest.settings import InfluxSettings, MqttSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for, frames_for
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wire import DeadLetterV1, FeatureBatchV1, PromptV1, Topics, encode
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, running_pipeline, until
from tests.support.processes import Proc, env_for
from tests.support.servers import Server

pytestmark = pytest.mark.integration

POISON_T_MS = 1_764_230_400_000_000  # 2025-11-27T08:00:00Z in microseconds, sent as if milliseconds


def poison_batch() -> bytes:
    frames = [{"t_ms": POISON_T_MS + i * 1_000_000, "incl_deg": 80.0, "enmo_mg": 2.0, "n": 50} for i in range(10)]
    return json.dumps(
        {"v": 1, "wearer": "ann", "device": "ann-thigh", "placement": "thigh", "seq": 0, "frames": frames}
    ).encode()


def recent_day(wearer: str, segments: str, minutes_ago: int) -> str:
    start = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0)
    return (
        f"start: {start.isoformat()}\nwearers:\n  - wearer: {wearer}\n    placement: thigh\n"
        f"    segments: [{segments}]\n"
    )


def test_a_poison_message_is_dead_lettered_and_the_service_serves_everyone_else(
    mosquitto: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    topics = Topics(unique)
    settings = KineticSettings(mqtt=MqttSettings(port=mosquitto.port, topic_root=unique))
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)
    bob = parse_scenario(recent_day("bob", "walk 1m, sit 35m", 40))

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        async with recording(settings, [topics.all_prompts(), topics.all_dead_letters()], f"{unique}-rec") as rec:
            first = Proc(["alerts"], env, tmp_path / "alerts-1.log")
            procs.append(first)
            await asyncio.to_thread(first.wait_for, "watching")
            async with connect(settings.mqtt, f"{unique}-pub") as client:
                await client.publish(topics.features("ann", "ann-thigh"), poison_batch(), qos=1)
                for batch in batches_for(bob, bob.wearers[0], 10):
                    await client.publish(topics.features("bob", "bob-thigh"), encode(batch), qos=1)
            await until(lambda: len(rec.on("/prompts")) >= 1, 30, "bob's prompt")
            assert first.process.poll() is None, first.text()
            assert first.terminate() == 0
            # the poison message was acknowledged with the rest: a restart has nothing to choke on
            second = Proc(["alerts"], env, tmp_path / "alerts-2.log")
            procs.append(second)
            await asyncio.to_thread(second.wait_for, "restored the state of")
            await asyncio.sleep(1.0)
            assert second.process.poll() is None, second.text()
            assert second.terminate() == 0
            return rec.on("/_deadletter/alerts"), rec.on("/prompts")

    letters, prompts = asyncio.run(scenario())
    (letter,) = [DeadLetterV1.model_validate_json(p) for p in letters]
    assert letter.topic == topics.features("ann", "ann-thigh")
    assert letter.reason == (
        "invalid FeatureBatchV1: frames.0.t_ms: 1764230400000000 is not Unix epoch milliseconds from "
        "2015 to 2100 (as microseconds it is 2025-11-27T08:00:00+00:00)"
    )
    (prompt,) = [PromptV1.model_validate_json(p) for p in prompts]
    assert prompt.wearer == "bob" and prompt.trigger == "sitting"


def test_a_frame_from_the_future_is_refused_at_the_edge_and_the_day_goes_on(
    mosquitto: Server, influxd: Server, unique: str, tmp_path: Path
) -> None:
    settings = KineticSettings(
        mqtt=MqttSettings(port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=influxd.url, database=unique),
        bridge={"spool_path": tmp_path / "spool.sqlite", "stats_interval_s": 0},
    )
    topics = Topics(unique)
    # 102 minutes ending now: walk 2, sit 35 (a prompt at 30), walk 30, sit 35 (a prompt at 30)
    day = parse_scenario(recent_day("ann", "walk 2m, sit 35m, walk 30m, sit 35m", 102))
    frames = list(frames_for(day, day.wearers[0]))
    bad_at = 20 * 60  # minute 20 of the first sit: one frame stamped a day ahead, one frame per message
    frames[bad_at] = frames[bad_at].model_copy(update={"t_ms": frames[bad_at].t_ms + 86_400_000})
    # ... and a message whose last frame is a day ahead: the frames before it are kept
    mixed_at = 60 * 60

    def message(seq: int, chunk: list) -> FeatureBatchV1:  # type: ignore[type-arg]
        return FeatureBatchV1(wearer="ann", device="ann-thigh", placement="thigh", seq=seq, frames=chunk)

    messages = [message(i, [f]) for i, f in enumerate(frames[:mixed_at])]
    late = frames[mixed_at + 4].model_copy(update={"t_ms": frames[mixed_at + 4].t_ms + 86_400_000})
    messages.append(message(mixed_at, [*frames[mixed_at : mixed_at + 4], late]))
    messages += [message(i, [f]) for i, f in enumerate(frames[mixed_at + 5 :], mixed_at + 5)]
    sink = InfluxV1Sink(settings.influx)

    async def scenario():  # type: ignore[no-untyped-def]
        await sink.prepare()
        filters = [topics.all_prompts(), topics.all_dead_letters()]
        async with (
            recording(settings, filters, f"{unique}-rec") as rec,
            running_pipeline(settings, sink, unique, tmp_path / "spool.sqlite") as pipeline,
        ):
            async with connect(settings.mqtt, f"{unique}-pub") as client:
                for m in messages:
                    await client.publish(topics.features("ann", "ann-thigh"), encode(m), qos=1)
            await pipeline.settle(len(messages) - 1, 120)  # the message of one frame from the future never reaches it
            await until(lambda: len(rec.on("/_deadletter/bridge")) >= 2, 20, "the bridge's dead letters")
            stored = await sink.query("SELECT count(enmo_mg) FROM features")
            return rec, stored

    rec, stored = asyncio.run(scenario())
    asyncio.run(sink.aclose())
    prompts = [PromptV1.model_validate_json(p) for p in rec.on("/prompts")]
    starts = [round((p.created - p.bout_start).total_seconds()) for p in prompts if p.bout_start is not None]
    assert [p.trigger for p in prompts] == ["sitting", "sitting"] and starts == [30 * 60, 30 * 60]
    for service in ("alerts", "bridge"):
        letters = [DeadLetterV1.model_validate_json(p) for p in rec.on(f"/_deadletter/{service}")]
        reasons = sorted(letter.reason.split(":")[0] for letter in letters)
        assert reasons == ["1 of 1 frames refused", "1 of 5 frames refused"], (service, reasons)
        assert all("ahead of this host's clock" in letter.reason for letter in letters)
    # every correct frame stored, the two from the future not
    assert stored["results"][0]["series"][0]["values"][0][1] == len(frames) - 2
