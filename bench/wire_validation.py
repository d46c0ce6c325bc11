"""What refusing ``true`` and ``"5"`` where a number belongs costs per frame (issue 13; issue 18's CPU).

Decodes the same 20,000 frames (JSON arrays of 10, the wire's default batch) three ways, in one run:

- **strict** (what ``ingest.wire.decode_at`` does now): pydantic's strict JSON mode on ``FeatureFrameV1``;
- **lax + check** (what it did until session 8): lax mode with a Python ``model_validator(mode="before")`` that
  looked at every field for a boolean (rebuilt here, as it was, for the comparison);
- **lax, no check**: lax mode with nothing else (accepts ``true`` as 1: the floor, not an option).

    .venv/bin/python -m bench.wire_validation

Prints microseconds per frame (best of 7) for each.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, TypeAdapter, create_model, model_validator

from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import FeatureFrameV1

FRAMES = 20_000


def best_us_per_frame(variants: dict[str, tuple[TypeAdapter[Any], bool]], payloads: list[bytes]) -> dict[str, float]:
    """Best of 7 rounds for each variant, the variants taking turns in every round (so a busy spell of the machine
    costs them alike)."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(7):
        for name, (adapter, strict) in variants.items():
            start = time.perf_counter()
            for payload in payloads:
                adapter.validate_json(payload, strict=strict)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds / FRAMES * 1e6 for name, seconds in best.items()}


class _BooleanCheck(BaseModel):
    """The check as it was: every field of the frame looked at in Python before validation."""

    model_config = FeatureFrameV1.model_config

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            numeric = _NUMERIC
            for name, value in data.items():
                if isinstance(value, bool) and name in numeric:
                    raise ValueError(f"{name}: {str(value).lower()} is a boolean; expected a number")
        return data


_NUMERIC = frozenset(
    n for n, f in FeatureFrameV1.model_fields.items() if any(t in str(f.annotation) for t in ("int", "float"))
)


def main() -> None:
    scenario = parse_scenario(f"wearers:\n  - wearer: bench\n    placement: trunk\n    segments: [sit {FRAMES}s]\n")
    payloads = [
        json.dumps([f.model_dump(mode="json", exclude_none=True) for f in b.frames]).encode()
        for b in batches_for(scenario, scenario.wearers[0], 10)
    ]
    fields: dict[str, Any] = {n: (f.annotation, f) for n, f in FeatureFrameV1.model_fields.items()}
    checked = create_model("FrameWithBooleanCheck", __base__=_BooleanCheck, **fields)
    frames = TypeAdapter(list[FeatureFrameV1])
    us = best_us_per_frame(
        {
            "strict": (frames, True),
            "was": (TypeAdapter(list[checked]), False),  # type: ignore[valid-type]
            "floor": (frames, False),
        },
        payloads,
    )
    strict, lax_checked, lax = us["strict"], us["was"], us["floor"]
    print(f"frame decode + validation, strict JSON (now):         {strict:6.2f} us/frame")
    print(f"frame decode + validation, lax + boolean check (was): {lax_checked:6.2f} us/frame")
    print(f"frame decode + validation, lax, no check (floor):     {lax:6.2f} us/frame")
    print(f"strict / was: {strict / lax_checked:.2f}; strict / floor: {strict / lax:.2f}")


if __name__ == "__main__":
    main()
