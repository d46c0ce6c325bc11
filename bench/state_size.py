"""The alert service's per-wearer state: bytes, encode/decode time, checkpoint cost and memory at N wearers.

    .venv/bin/python -m bench.state_size [--wearers 10000] [--checkpoint-s 5]

Steady-state wearers come from the engine itself: three scenarios of a working morning (a thigh sensor alone, a
thigh with a trunk partner, a trunk alone; walks that fill the calibration's reservoir, sitting bouts, prompts), run
through ``AlertEngine`` from simulated batches; the wearers of the run are copies of them (by snapshot and restore,
so each holds its own objects). Reported, all in this one run:

- bytes per wearer (the snapshot ``AlertState.checkpoint`` stores), mean over the wearers, and the same with the
  calibration reservoir of before issue 18 (120 float directions per sensor) for comparison;
- encode and decode CPU time per wearer (mean over all wearers, microseconds);
- one checkpoint of every wearer into a state file that holds them already (the service checkpoints the wearers
  touched since the last one, every ``checkpoint_s`` = 5 s by default; at one frame or one batch per wearer within
  5 s that is every wearer): CPU seconds and bytes written (``wchar`` of /proc/self/io), and both per second of
  the service's run;
- the memory the wearers' states take (Python heap, by tracemalloc while they are made), per wearer and for N, and
  the same for wearers with the float reservoir of before. The service's own resident memory at N wearers is
  measured by bench/alerts_scale.py.

Issue 18 asks for <= 1 KB per wearer on average at steady state, <= 5 us to encode, and the checkpoint cost reported.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

from alerts.detect.calibration import RESERVOIR_SECONDS, directions_of
from alerts.engine import AlertEngine, EngineConfig, WearerState
from alerts.prompts.catalog import load_catalog
from alerts.state import AlertState
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for

MORNING = "walk 3m, sit 40m, walk 2m, sit 35m lean_right 13deg, walk 2m, stand 10m, sit 20m"
SCENARIOS = {
    "thigh": ["thigh"],
    "thigh-trunk": ["thigh", "trunk"],
    "trunk": ["trunk"],
}


def steady_states() -> dict[str, WearerState]:
    """One wearer per scenario after a working morning."""
    engine = AlertEngine(EngineConfig(), load_catalog())
    for name, placements in SCENARIOS.items():
        sensors = "".join(f"  - wearer: {name}\n    placement: {p}\n    segments: [{MORNING}]\n" for p in placements)
        scenario = parse_scenario(f"start: 2026-01-05T08:40:00+00:00\nwearers:\n{sensors}")
        for script in scenario.wearers:
            for batch in batches_for(scenario, script, 10):
                engine.process(batch)
    return dict(engine.wearers)


def written_bytes() -> int:
    """Bytes this process has passed to write() so far (wchar of /proc/self/io: SQLite's page and WAL writes)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def heap_bytes(blobs: list[bytes], n: int, float_reservoir: bool = False) -> tuple[int, list[WearerState]]:
    """N wearers restored from these snapshots in turn, and the Python heap they take (tracemalloc); with
    ``float_reservoir`` each calibration's reservoir is made a deque of float directions, as before issue 18."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    states = [pickle.loads(blobs[i % len(blobs)]) for i in range(n)]
    for state in states if float_reservoir else ():
        for device in state.detection.devices.values():
            walks = deque(directions_of(device.calibration._walks), maxlen=RESERVOIR_SECONDS)
            device.calibration.__dict__["_walks"] = walks
    taken = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return taken, states


def with_float_reservoir(state: WearerState) -> Any:
    """The state as it was before issue 18: each calibration reservoir a deque of float directions."""
    copy = pickle.loads(pickle.dumps(state))
    for device in copy.detection.devices.values():
        walks = deque(directions_of(device.calibration._walks), maxlen=RESERVOIR_SECONDS)
        device.calibration.__dict__["_walks"] = walks
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wearers", type=int, default=10_000)
    parser.add_argument("--checkpoint-s", type=float, default=5.0, help="the service's checkpoint interval")
    args = parser.parse_args()
    models = steady_states()
    kinds = list(models)
    blobs = {k: pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL) for k, s in models.items()}
    before = {
        k: len(pickle.dumps(with_float_reservoir(s), protocol=pickle.HIGHEST_PROTOCOL)) for k, s in models.items()
    }
    for k in kinds:
        print(f"{k:12s}: {len(blobs[k])} bytes (with the float reservoir of before: {before[k]} bytes)")

    heap, states = heap_bytes([blobs[k] for k in kinds], args.wearers)
    wearers = {f"w{i}": s for i, s in enumerate(states)}

    started = time.process_time()  # CPU time: the machine is shared, wall time would count others' work
    encoded = [pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL) for s in wearers.values()]
    encode_us = (time.process_time() - started) / len(wearers) * 1e6
    started = time.process_time()
    for blob in encoded:
        pickle.loads(blob)
    decode_us = (time.process_time() - started) / len(wearers) * 1e6
    mean_bytes = sum(map(len, encoded)) / len(encoded)
    mean_before = sum(before[kinds[i % len(kinds)]] for i in range(args.wearers)) / args.wearers

    with tempfile.TemporaryDirectory() as tmp:
        state = AlertState(Path(tmp) / "state.sqlite")
        state.checkpoint(wearers)  # the first checkpoint inserts; the service's later ones replace
        wrote0, cpu0 = written_bytes(), time.process_time()
        state.checkpoint(wearers)
        cpu, written = time.process_time() - cpu0, written_bytes() - wrote0
        state.close()
    n = args.wearers
    print(
        f"{n} wearers ({', '.join(kinds)} in turn): {mean_bytes:.0f} bytes per wearer on average "
        f"(with the float reservoir of before: {mean_before:.0f}); encode {encode_us:.1f} us, "
        f"decode {decode_us:.1f} us per wearer (pickle)"
    )
    print(
        f"one checkpoint of all {n}: {cpu:.2f} CPU-s, {written / 1e6:.1f} MB written (write() calls, SQLite's WAL "
        f"frames); every {args.checkpoint_s:g} s: {cpu / args.checkpoint_s:.3f} CPU-s/s, "
        f"{written / args.checkpoint_s / 1e6:.2f} MB/s"
    )
    old_heap, _ = heap_bytes([blobs[k] for k in kinds], n, float_reservoir=True)
    print(
        f"memory of the {n} wearers' states (Python heap): {heap / 1e6:.1f} MB ({heap / n / 1e3:.1f} kB per "
        f"wearer); with the float reservoir of before: {old_heap / 1e6:.1f} MB ({old_heap / n / 1e3:.1f} kB per wearer)"
    )


if __name__ == "__main__":
    main()
