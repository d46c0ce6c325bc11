"""How much batching frames into MQTT messages buys, through real Mosquitto (started here on loopback).

    .venv/bin/python -m bench.batching [--seconds 6000]

Publishes the same simulated feature frames (one per second of a sitting wearer) at QoS 1 through
aiomqtt, with 1 frame per message (the baseline) and with 10 and 50 frames per message; a subscriber
decodes every message against the wire contract. Prints frames/s for each and the ratio to the baseline
measured in the same run (these machines are shared and noisy: compare ratios, not seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiomqtt

from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import FeatureBatchV1, Topics, decode, encode
from tests.support.servers import start_mosquitto


async def run_once(port: int, batch_s: int, seconds: int) -> float:
    scenario = parse_scenario(f"wearers:\n  - wearer: bench\n    placement: thigh\n    segments: [sit {seconds}s]\n")
    messages = [encode(b) for b in batches_for(scenario, scenario.wearers[0], batch_s)]
    topics = Topics(f"bench{batch_s}")
    topic = topics.features("bench", "bench-thigh")
    frames = 0
    done = asyncio.Event()

    async with (
        aiomqtt.Client("127.0.0.1", port, identifier=f"sub{batch_s}") as sub,
        aiomqtt.Client("127.0.0.1", port, identifier=f"pub{batch_s}") as pub,
    ):
        await sub.subscribe(topic, qos=1)

        async def consume() -> None:
            nonlocal frames
            async for message in sub.messages:
                _, batch = decode(topics, str(message.topic), bytes(message.payload))  # type: ignore[arg-type]
                assert isinstance(batch, FeatureBatchV1)
                frames += len(batch.frames)
                if frames >= seconds:
                    done.set()
                    return

        task = asyncio.create_task(consume())
        start = time.perf_counter()
        for payload in messages:
            await pub.publish(topic, payload, qos=1)
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - start
        await task
    return seconds / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6000, help="frames (seconds of data) per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(Path(tmp))
        try:
            results = {b: asyncio.run(run_once(broker.port, b, args.seconds)) for b in (1, 10, 50)}
        finally:
            broker.stop()
    base = results[1]
    print(f"{'frames/message':>15} {'frames/s':>10} {'vs 1/message':>13}")
    for batch_s, rate in results.items():
        print(f"{batch_s:>15} {rate:>10.0f} {rate / base:>12.1f}x")


if __name__ == "__main__":
    main()
