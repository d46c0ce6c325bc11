"""Garbage made from valid messages, for the services' fuzz tests: random bytes, truncated JSON, a field dropped, a
value replaced by any JSON, a field added, a frame's field replaced (issue 13: services never exit because of data)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def garbage(draw: st.DrawFn, base: list[tuple[str, dict[str, Any]]]) -> tuple[str, bytes]:
    topic, message = draw(st.sampled_from(base))
    kind = draw(st.sampled_from(["bytes", "truncated", "value", "drop", "extra", "frame"]))
    if kind == "bytes":
        return topic, draw(st.binary(max_size=200))
    text = json.dumps(message)
    if kind == "truncated":
        return topic, text[: draw(st.integers(0, max(0, len(text) - 1)))].encode()
    mutated = json.loads(text)
    key = draw(st.sampled_from(sorted(mutated)))
    if kind == "value":
        mutated[key] = draw(JSON)
    elif kind == "drop":
        del mutated[key]
    elif kind == "extra":
        mutated[draw(st.text(min_size=1, max_size=8))] = draw(JSON)
    elif "frames" in mutated:
        frame = draw(st.sampled_from(mutated["frames"]))
        frame[draw(st.sampled_from(sorted(frame)))] = draw(JSON)
    return topic, json.dumps(mutated, allow_nan=True).encode()
