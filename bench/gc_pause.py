"""The cyclic garbage collector's full pass over N wearers' states: how long it holds a service, and after
``gc.freeze`` (ingest/heap.py).

    .venv/bin/python -m bench.gc_pause [--wearers 10000]

The wearers are steady-state ones (``bench.state_size.steady_states``: a working morning through the engine, sampled
every 10 min, restored from their snapshots in turn, each holding its own objects). Reported, in this one run:
the objects the collector tracks per wearer; a full collection (``gc.collect()``, every generation) with the states
in the generations the collector walks, the least and the median of ``ROUNDS``; the same after ``gc.freeze()`` has
moved them to the permanent generation (what ``settle_heap`` does at start-up for the restored states and for
everything else start-up built). CPython's default thresholds (700, 10, 10) made such a full pass about every 9 s in
``kinetic alerts`` at 10,000 wearers (``bench/alerts_scale.py``, ``gc_ms``); with ``ingest.heap.FULL_EVERY_GEN1``
generation-1 passes between full ones it comes a hundred times less often. States made after start-up (new wearers,
and the parts of a state each second replaces) are not frozen: a full pass walks them, so its pause grows back
towards the first figure as the day replaces the states of the morning.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from alerts.engine import WearerState
from alerts.state import decode_snapshot
from bench.state_size import steady_states

ROUNDS = 5


def full_pass_ms() -> list[float]:
    """``ROUNDS`` full collections, each timed (ms of wall time: the collector holds every thread)."""
    out = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        gc.collect()
        out.append((time.perf_counter() - began) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wearers", type=int, default=10_000)
    args = parser.parse_args()
    blobs = [b for kind in steady_states().values() for b in kind]
    gc.collect()
    before = len(gc.get_objects())
    wearers: dict[str, WearerState] = {f"w{i}": decode_snapshot(blobs[i % len(blobs)]) for i in range(args.wearers)}
    gc.collect()
    tracked = len(gc.get_objects()) - before
    walked = full_pass_ms()
    gc.freeze()
    frozen = full_pass_ms()
    gc.unfreeze()
    print(
        f"{args.wearers} wearers ({len(blobs)} steady states in turn): {tracked / args.wearers:.0f} objects tracked "
        f"by the collector per wearer ({tracked:,} in all; {before:,} before, the interpreter and the modules)"
    )
    print(
        f"  full collection with the states walked: least {min(walked):.1f} ms, median {statistics.median(walked):.1f}"
        f" ms; after gc.freeze(): least {min(frozen):.1f} ms, median {statistics.median(frozen):.1f} ms"
    )
    assert len(wearers) == args.wearers


if __name__ == "__main__":
    main()
