"""The alert service's per-wearer state: bytes, encode/decode time, checkpoint cost and memory at N wearers.

    .venv/bin/python -m bench.state_size [--wearers 10000] [--checkpoint-s 1]

Steady-state wearers come from the engine itself: three scenarios of a working morning (a thigh sensor alone, a
thigh with a trunk partner, a trunk alone; walks that fill the calibration's reservoir, sitting bouts, prompts), run
through ``AlertEngine`` from simulated batches, each wearer's state taken every ``SAMPLE_EVERY_S`` once the first
walk is over (so the sizes spread as a day's do: bouts open or not, prompts followed, hours closed). The wearers of
the run are copies of those states in turn (by snapshot and restore, so each holds its own objects). Reported, all
in this one run (the machine is shared: compare the figures of one run with one another, not across runs):

- bytes per wearer (the snapshot ``AlertState.checkpoint`` stores: format 3 of alerts/state.py), mean and 95th
  percentile over the wearers; beside them the pickle of the same states (format 1, before issue 18) and the pickle
  with the calibration reservoir of before the quantised one (120 float directions per sensor);
- encode and decode CPU time per wearer (mean over all wearers, microseconds; the least of ``ROUNDS`` rounds that
  take each in turn), format 3 and pickle (format 3 is one msgspec call over the state's Structs: there is no
  explicit form made in Python any more); the larger parts, each encoded alone (a profile); and the encoding of the
  few sampled states over and over, whose objects stay in the CPU's caches (N wearers' states are tens of MB: each
  checkpoint reads them from memory);
- one checkpoint of every wearer into a state file that holds them already: CPU seconds and bytes written (``wchar``
  of /proc/self/io); and both per second of the service's run: the service checkpoints the wearers touched since
  the last one, every ``checkpoint_s`` (1 s by default since session 13, 5 s before), so with a message from each
  wearer every M s it writes each wearer once per max(M, checkpoint_s) seconds: the full checkpoint's cost divided by
  that, given for the wire's default 10-s batches and for one frame per message; and the bytes the same checkpoint
  writes into the WITHOUT ROWID table of before;
- the memory the wearers' states take (Python heap, by tracemalloc while they are made), per wearer and for N, and
  the same for wearers with the float reservoir of before. The service's own resident memory at N wearers is
  measured by bench/alerts_scale.py.

Issue 18 asks for <= 1 KB per wearer on average at steady state, <= 5 us to encode, and the checkpoint cost reported.
"""

from __future__ import annotations

import argparse
import pickle
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

from alerts.detect.calibration import RESERVOIR_SECONDS, directions_of
from alerts.engine import AlertEngine, EngineConfig, WearerState
from alerts.prompts.catalog import load_catalog
from alerts.settings import AlertsSettings
from alerts.state import AlertState, decode_snapshot, encode_part, encode_snapshot
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for

MORNING = "walk 3m, sit 40m, walk 2m, sit 35m lean_right 13deg, walk 2m, stand 10m, sit 20m"
SCENARIOS = {
    "thigh": ["thigh"],
    "thigh-trunk": ["thigh", "trunk"],
    "trunk": ["trunk"],
}
FIRST_SAMPLE_S = 10 * 60  # after the first walk: the calibration holds its reservoir
SAMPLE_EVERY_S = 10 * 60
ROUNDS = 3


def steady_states() -> dict[str, list[bytes]]:
    """Per scenario, the wearer's state (a format-3 snapshot) every ``SAMPLE_EVERY_S`` of the morning from
    ``FIRST_SAMPLE_S`` on."""
    out: dict[str, list[bytes]] = {}
    for name, placements in SCENARIOS.items():
        engine = AlertEngine(EngineConfig(), load_catalog())
        sensors = "".join(f"  - wearer: {name}\n    placement: {p}\n    segments: [{MORNING}]\n" for p in placements)
        scenario = parse_scenario(f"start: 2026-01-05T08:40:00+00:00\nwearers:\n{sensors}")
        batches = sorted(
            (b for script in scenario.wearers for b in batches_for(scenario, script, 10)),
            key=lambda b: (b.frames[0].t_ms, b.device),
        )
        next_ms = scenario.start_ms + FIRST_SAMPLE_S * 1000
        out[name] = []
        for batch in batches:
            if batch.frames[0].t_ms >= next_ms:
                out[name].append(encode_snapshot(engine.wearers[name]))
                next_ms += SAMPLE_EVERY_S * 1000
            engine.process(batch)
        out[name].append(encode_snapshot(engine.wearers[name]))
    return out


def written_bytes() -> int:
    """Bytes this process has passed to write() so far (wchar of /proc/self/io: SQLite's page and WAL writes)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def with_float_reservoir(state: WearerState) -> WearerState:
    """The state as it was before issue 18's quantised reservoir: each calibration's a deque of float directions."""
    for device in state.detection.devices.values():
        walks = deque(directions_of(device.calibration._walks), maxlen=RESERVOIR_SECONDS)
        device.calibration._walks = walks  # type: ignore[assignment]
    return state


def heap_bytes(blobs: list[bytes], n: int, float_reservoir: bool = False) -> tuple[int, list[WearerState]]:
    """N wearers restored from these snapshots in turn, and the Python heap they take (tracemalloc); with
    ``float_reservoir`` each calibration's reservoir is made a deque of float directions, as before issue 18."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    states = [decode_snapshot(blobs[i % len(blobs)]) for i in range(n)]
    for state in states if float_reservoir else ():
        with_float_reservoir(state)
    taken = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return taken, states


def without_rowid_bytes(rows: list[tuple[str, bytes]]) -> int:
    """Bytes written by a second checkpoint of these rows into a WITHOUT ROWID table (the layout before issue 18),
    with the state file's settings (WAL, synchronous=NORMAL)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "old.sqlite", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE wearers (wearer TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID")
        for _ in range(2):  # the first inserts, the second replaces (measured)
            wrote0 = written_bytes()
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO wearers VALUES (?, ?)", rows)
            db.execute("COMMIT")
        db.close()
        return written_bytes() - wrote0


def cpu_us(action: Any, items: list[Any]) -> float:
    """CPU time (not wall: the machine is shared) per item of ``action`` over ``items``, in microseconds."""
    started = time.process_time()
    for item in items:
        action(item)
    return (time.process_time() - started) / len(items) * 1e6


def least_cpu_us(actions: dict[str, tuple[Any, list[Any]]], rounds: int = ROUNDS) -> dict[str, float]:
    """``cpu_us`` of each action, the least of ``rounds`` rounds that take the actions in turn (others' load on a
    shared machine only ever adds time, and adds it to every action alike when they alternate)."""
    best = dict.fromkeys(actions, float("inf"))
    for _ in range(rounds):
        for name, (action, items) in actions.items():
            best[name] = min(best[name], cpu_us(action, items))
    return best


def p95(values: list[int]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wearers", type=int, default=10_000)
    parser.add_argument(
        "--checkpoint-s",
        type=float,
        default=AlertsSettings.model_fields["checkpoint_s"].default,
        help="the service's checkpoint interval (KINETIC_ALERTS__CHECKPOINT_S; default: the service's)",
    )
    args = parser.parse_args()
    n = args.wearers
    samples = steady_states()
    blobs = [blob for i in range(max(map(len, samples.values()))) for s in samples.values() for blob in s[i : i + 1]]
    for name, found in samples.items():
        sizes = [len(b) for b in found]
        print(f"{name:12s}: {len(found)} states, {min(sizes)}-{max(sizes)} bytes (format 3)")

    heap, states = heap_bytes(blobs, n)
    wearers = {f"w{i}": s for i, s in enumerate(states)}
    values = list(wearers.values())

    encoded = [encode_snapshot(s) for s in values]
    pickled = [pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL) for s in values]
    us = least_cpu_us(
        {
            "pickle": (lambda s: pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL), values),
            "encode": (encode_snapshot, values),
            "encode warm": (encode_snapshot, [values[i % len(blobs)] for i in range(n)]),
            "decode": (decode_snapshot, encoded),
            "unpickle": (pickle.loads, pickled),
        }
    )
    parts = least_cpu_us(
        {
            "bout tracker": (lambda s: encode_part(s.detection.tracker), values),
            "sensors": (lambda s: encode_part(s.detection.devices), values),
            "current and previous hour": (lambda s: encode_part((s.detection.hour, s.detection.previous_hour)), values),
            "readiness": (lambda s: encode_part(s.readiness), values),
            "prompting (planner, responses)": (lambda s: encode_part((s.planner, s.responses)), values),
            "a call that does nothing": (lambda s: None, values),
        }
    )
    pickle_us, encode_us = us["pickle"], us["encode"]
    decode_us, unpickle_us = us["decode"], us["unpickle"]
    sizes, pickle_sizes = [len(b) for b in encoded], [len(b) for b in pickled]
    floats = [len(pickle.dumps(with_float_reservoir(decode_snapshot(b)))) for b in blobs]
    float_sizes = [floats[i % len(blobs)] for i in range(n)]

    with tempfile.TemporaryDirectory() as tmp:
        state = AlertState(Path(tmp) / "state.sqlite")
        state.checkpoint(wearers)  # the first checkpoint inserts; the service's later ones replace
        wrote0, cpu0 = written_bytes(), time.process_time()
        state.checkpoint(wearers)
        cpu, written = time.process_time() - cpu0, written_bytes() - wrote0
        state.close()
    old_table = without_rowid_bytes(list(zip(wearers, encoded, strict=True)))
    print(
        f"{n} wearers ({', '.join(samples)} in turn, {len(blobs)} states): "
        f"{statistics.fmean(sizes):.0f} bytes per wearer on average, p95 {p95(sizes):.0f} (format 3); pickle "
        f"(format 1) {statistics.fmean(pickle_sizes):.0f}, p95 {p95(pickle_sizes):.0f}; pickle with the float "
        f"reservoir of before {statistics.fmean(float_sizes):.0f}, p95 {p95(float_sizes):.0f}"
    )
    print(
        f"encode {encode_us:.2f} us per wearer (one msgspec call), "
        f"decode {decode_us:.1f} us (format 3); pickle: encode {pickle_us:.1f} us, decode {unpickle_us:.1f} us; "
        f"format 3 / pickle: encode {encode_us / pickle_us:.2f}, decode {decode_us / unpickle_us:.2f} (CPU time); "
        f"encode with warm caches (the {len(blobs)} sampled states over and over, not {n} apart) "
        f"{us['encode warm']:.2f} us"
    )
    print("parts, each encoded alone (us per wearer): " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    print(
        f"one checkpoint of all {n}: {cpu:.2f} CPU-s, {written / 1e6:.1f} MB written (write() calls, SQLite's WAL "
        f"frames); checkpoints every {args.checkpoint_s:g} s, each wearer written once per max(its message "
        f"interval, that): "
        + "; ".join(
            f"a message every {m} s: {cpu / max(m, args.checkpoint_s):.3f} CPU-s/s, "
            f"{written / max(m, args.checkpoint_s) / 1e6:.2f} MB/s"
            for m in (10, 1)
        )
        + f"; the same snapshots in a WITHOUT ROWID table (the layout before): {old_table / 1e6:.1f} MB per checkpoint"
    )
    old_heap, _ = heap_bytes(blobs, n, float_reservoir=True)
    print(
        f"memory of the {n} wearers' states (Python heap): {heap / 1e6:.1f} MB ({heap / n / 1e3:.1f} kB per "
        f"wearer); with the float reservoir of before: {old_heap / 1e6:.1f} MB ({old_heap / n / 1e3:.1f} kB per wearer)"
    )


if __name__ == "__main__":
    main()
