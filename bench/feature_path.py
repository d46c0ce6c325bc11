"""The bridge's per-frame cost for feature batches: the pydantic path against the fast path
(ingest/store/fast_features.py), on the same 20,000 frames in one run (50 frames per message); then the minute
rollup (ingest/store/rollup.py) frame by frame against a minute at a time, per batch size, which is what
``AT_ONCE_MIN_FRAMES`` is chosen from.

    .venv/bin/python -m bench.feature_path

Prints microseconds per frame (best of 7) and the fast path's cost as a share of the pydantic path's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ingest.simulate.scenario import Scenario, parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store import rollup
from ingest.store.fast_features import decode_features, fast_feature_lines
from ingest.store.model import feature_lines
from ingest.wire import FeatureBatchV1, encode

FRAMES = 20_000
ROLLUP_SIZES = (1, 5, 10, 12, 15, 20, 50)  # frames per message


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
    for size in ROLLUP_SIZES:
        by_frame, at_once = rollup_us_per_frame(scenario, size)
        print(f"rollup, {size} frames a message: frame by frame {by_frame:.2f} us/frame, minute at once {at_once:.2f}")


def rollup_us_per_frame(scenario: Scenario, size: int) -> tuple[float, float]:
    """``MinuteRollup.add`` over FRAMES frames in batches of ``size`` as the bridge decodes them, folded frame by frame
    and a minute at a time (``AT_ONCE_MIN_FRAMES`` set to never and to always for the run; the first batch of the
    device is frame by frame either way)."""
    decoded = [decode_features(encode(b)) for b in batches_for(scenario, scenario.wearers[0], size)]
    batches = [b for b in decoded if b is not None]
    assert len(batches) == len(decoded)
    kept = rollup.AT_ONCE_MIN_FRAMES
    results = []
    try:
        for threshold in (FRAMES + 1, 1):
            rollup.AT_ONCE_MIN_FRAMES = threshold

            def fold() -> None:
                minutes = rollup.MinuteRollup()
                for batch in batches:
                    minutes.add(batch)

            results.append(best_us_per_frame(fold))
    finally:
        rollup.AT_ONCE_MIN_FRAMES = kept
    return results[0], results[1]


if __name__ == "__main__":
    main()
