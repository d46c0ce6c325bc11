"""What the wire contract's refusal of booleans-as-numbers (``_Model._no_booleans_as_numbers``, issue 13) costs per
frame: decoding the same 20,000 frames (JSON arrays of 10, the wire's default batch) as ``FeatureFrameV1`` and as the
same fields without that validator (its only one), in one run.

    .venv/bin/python -m bench.wire_validation

Prints microseconds per frame (best of 7) for both and the validator's share of the frame's decode.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import TypeAdapter, create_model

from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import FeatureFrameV1

FRAMES = 20_000


def best_us_per_frame(adapter: TypeAdapter[Any], payloads: list[bytes]) -> float:
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for payload in payloads:
            adapter.validate_json(payload)
        best = min(best, time.perf_counter() - start)
    return best / FRAMES * 1e6


def main() -> None:
    scenario = parse_scenario(f"wearers:\n  - wearer: bench\n    placement: trunk\n    segments: [sit {FRAMES}s]\n")
    payloads = [
        json.dumps([f.model_dump(mode="json", exclude_none=True) for f in b.frames]).encode()
        for b in batches_for(scenario, scenario.wearers[0], 10)
    ]
    fields: dict[str, Any] = {n: (f.annotation, f) for n, f in FeatureFrameV1.model_fields.items()}
    unchecked = create_model("FrameWithoutBooleanCheck", __config__=FeatureFrameV1.model_config, **fields)
    assert not unchecked.__pydantic_decorators__.model_validators
    with_check = best_us_per_frame(TypeAdapter(list[FeatureFrameV1]), payloads)
    without = best_us_per_frame(TypeAdapter(list[unchecked]), payloads)  # type: ignore[valid-type]
    print(f"frame decode + validation, with the boolean check: {with_check:6.2f} us/frame")
    print(f"frame decode + validation, without it:             {without:6.2f} us/frame")
    print(f"the check's share of a frame's decode:             {(with_check - without) / with_check:6.1%}")


if __name__ == "__main__":
    main()
