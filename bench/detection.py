"""Detection throughput in batch replay: feature frames per second per core, through the live AlertEngine
(calibration, posture, not-worn, bouts, prompts), with the per-wearer state size.

    .venv/bin/python -m bench.detection [--hours 24] [--wearers 20]

The baseline in the same run is the cost of only iterating the same frames and reading their fields, so the
figure is reported both absolute and as a ratio. Target (issue #4): >= 200,000 frames/s per core, a few KB of
state per wearer.
"""

from __future__ import annotations

import argparse
import pickle
import time

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import FeatureBatchV1

CYCLE = "walk 5m, sit 40m lean_left 12deg, stand 2m, sit 25m, walk 8m"  # 80 minutes


def day_batches(hours: int, wearers: int) -> list[FeatureBatchV1]:
    segments = ", ".join([CYCLE] * max(1, hours * 60 // 80))
    text = "wearers:\n" + "".join(
        f"  - wearer: w{i}\n    placement: {'thigh' if i % 2 else 'trunk'}\n    segments: [{segments}]\n"
        for i in range(wearers)
    )
    scenario = parse_scenario(text)
    return [b for script in scenario.wearers for b in batches_for(scenario, script, 60)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--wearers", type=int, default=20)
    args = parser.parse_args()
    batches = day_batches(args.hours, args.wearers)
    frames = sum(len(b.frames) for b in batches)

    start = time.process_time()
    total = 0.0
    for b in batches:
        for f in b.frames:
            total += f.enmo_mg + (f.gx or 0.0)
    baseline = frames / (time.process_time() - start)

    engine = AlertEngine(EngineConfig(), load_catalog())
    start = time.process_time()
    outputs = 0
    for b in batches:
        outputs += len(engine.process(b))
    rate = frames / (time.process_time() - start)
    state = max(len(pickle.dumps(s)) for s in engine.wearers.values())
    print(f"{frames:,} frames, {args.wearers} wearers, {outputs} outputs")
    print(
        f"detection {rate:,.0f} frames/s per core (CPU time); iterating alone {baseline:,.0f} frames/s; "
        f"ratio {rate / baseline:.3f}; target >= 200,000 frames/s"
    )
    print(f"largest per-wearer state: {state:,} bytes (pickled)")


if __name__ == "__main__":
    main()
