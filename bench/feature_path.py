"""The bridge's per-frame cost for feature batches: the pydantic path against the fast path
(ingest/store/fast_features.py), on the same 20,000 frames in one run (50 frames per message).

    .venv/bin/python -m bench.feature_path

Prints microseconds per frame (best of 7) and the fast path's cost as a share of the pydantic path's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store.fast_features import decode_features, fast_feature_lines
from ingest.store.model import feature_lines
from ingest.wire import FeatureBatchV1, encode

FRAMES = 20_000


def best_us_per_frame(work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best / FRAMES * 1e6


def main() -> None:
    scenario = parse_scenario(f"wearers:\n  - wearer: bench\n    placement: trunk\n    segments: [sit {FRAMES}s]\n")
    payloads = [encode(b) for b in batches_for(scenario, scenario.wearers[0], 50)]
    models = [FeatureBatchV1.model_validate_json(p) for p in payloads]
    fast = [decode_features(p) for p in payloads]
    assert all(f is not None for f in fast)
    rows = [
        (
            "decode + validate",
            lambda: [FeatureBatchV1.model_validate_json(p) for p in payloads],
            lambda: [decode_features(p) for p in payloads],
        ),
        (
            "line protocol",
            lambda: [feature_lines(m) for m in models],
            lambda: [fast_feature_lines(f) for f in fast if f is not None],
        ),
    ]
    for name, slow, quick in rows:
        a, b = best_us_per_frame(slow), best_us_per_frame(quick)
        print(f"{name}: pydantic path {a:.2f} us/frame, fast path {b:.2f} us/frame ({b / a:.0%} of it)")


if __name__ == "__main__":
    main()
