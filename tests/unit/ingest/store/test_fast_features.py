"""The bridge's fast feature path may only ever be a faster way to the same result as the pydantic contract:
whatever it accepts, FeatureBatchV1 accepts, and the line protocol stores the same values."""

from __future__ import annotations

import json
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.store.fast_features import (
    FastFeatureBatch,
    FastFrame,
    _mixed_feature_lines,
    _struct,
    decode_features,
    fast_feature_lines,
)
from ingest.store.model import feature_lines
from ingest.wire import MAX_ENMO_MG, MAX_SD_MG, FeatureBatchV1, FeatureFrameV1, Id, Text, TextOrNone


def stored(lines: bytes) -> list[tuple[str, dict[str, float | int], int]]:
    """Line protocol as what InfluxDB stores: series, fields (i-suffixed ints as int, others as float), time."""
    out = []
    for line in lines.decode().splitlines():
        series, fields, t = line.split(" ")
        values: dict[str, float | int] = {}
        for pair in fields.split(","):
            key, value = pair.split("=")
            values[key] = int(value[:-1]) if value.endswith("i") else float(value)
        out.append((series, values, int(t)))
    return out


def test_the_fast_types_are_the_contracts_fields() -> None:
    assert {f.name for f in msgspec.structs.fields(FastFrame)} == set(FeatureFrameV1.model_fields)
    assert {f.name for f in msgspec.structs.fields(FastFeatureBatch)} == set(FeatureBatchV1.model_fields)
    required = {f.name for f in msgspec.structs.fields(FastFrame) if f.required}
    assert required == {n for n, f in FeatureFrameV1.model_fields.items() if f.is_required()}


T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z: a batch's times lie from 2015 to 2100
FRAME = {
    "t_ms": T0 + 1_000,
    "gx": 0.1,
    "gy": -0.2,
    "gz": 0.97,
    "incl_deg": 12.5,
    "enmo_mg": 3.0,
    "sd_mg": 4.0,
    "n": 50,
}


def batch_json(frames: list[dict[str, object]], **top: object) -> bytes:
    body = {"v": 1, "wearer": "ann", "device": "ann-trunk", "placement": "trunk", "seq": 0, "frames": frames}
    return json.dumps({**body, **top}, allow_nan=True).encode()


def test_an_ordinary_batch_takes_the_fast_path_and_gives_the_same_lines() -> None:
    frames = [{**FRAME, "t_ms": T0 + 1_000 * i, "steps": i % 3, "hr_bpm": 70.0} for i in range(1, 40)]
    payload = batch_json(frames)
    fast = decode_features(payload)
    assert fast is not None  # so the property below is not vacuous for the common case
    assert fast_feature_lines(fast) == feature_lines(FeatureBatchV1.model_validate_json(payload))


anything = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 0.5, 16.5, -16.5, 180.5, 300.5, 19.9, 1e300, -0.0, 2.0]),
    st.booleans(),
    st.text(max_size=4),
    st.none(),
)


def valid(lo: float, hi: float) -> st.SearchStrategy[float | int]:
    return st.one_of(st.floats(lo, hi, allow_nan=False), st.integers(int(lo), int(hi)))


VALID = {
    "gx": valid(-16, 16),
    "gy": valid(-16, 16),
    "gz": valid(-16, 16),
    "incl_deg": valid(0, 180),
    "lean_deg": valid(-90, 90),
    "enmo_mg": valid(0, 10**4),
    "sd_mg": valid(0, 10**4),
    "steps": st.integers(0, 10**6),
    "n": st.integers(0, 10**6),
    "hr_bpm": valid(20, 300),
}


@st.composite
def frame_strategy(draw: st.DrawFn) -> dict[str, object]:
    """A valid frame (a random subset of the optional fields, the gravity vector whole or absent), then with
    probability one half one field changed to anything at all, dropped, or one unknown field added."""
    frame: dict[str, object] = {"enmo_mg": draw(VALID["enmo_mg"]), "n": draw(VALID["n"])}
    if draw(st.booleans()):
        frame.update({k: draw(VALID[k]) for k in ("gx", "gy", "gz")})
    for key in ("incl_deg", "lean_deg", "sd_mg", "steps", "hr_bpm"):
        if draw(st.booleans()):
            frame[key] = draw(VALID[key])
    if "gx" not in frame and "incl_deg" not in frame:
        frame["incl_deg"] = draw(VALID["incl_deg"])
    action = draw(st.sampled_from(["none", "none", "none", "change", "drop", "extra"]))
    key = draw(st.sampled_from(sorted(VALID)))
    if action == "change":
        frame[key] = draw(anything)
    elif action == "drop":
        frame.pop(key, None)
    elif action == "extra":
        frame["colour"] = "red"
    return frame


@settings(max_examples=400)  # the strategy keeps most frames valid, so a share of examples takes the fast path
@given(
    st.lists(st.tuples(frame_strategy(), st.integers(1, 3), st.booleans()), min_size=0, max_size=5),
    st.sampled_from(["ann", "ann", "ann", "Ann", "a b", "x" * 70, "ann\n"]),
    st.sampled_from(["trunk", "trunk", "thigh", "head"]),
    st.one_of(st.integers(0, 5), st.integers(-2, 5), st.just(1.0), st.just("1")),
)
def test_whatever_the_fast_path_accepts_the_contract_accepts_with_the_same_stored_values(
    generated: list[tuple[dict[str, object], int, bool]], wearer: str, placement: str, seq: object
) -> None:
    frames, t = [], 1_700_000_000_000
    for frame, step, backwards in generated:
        t += -1000 if backwards and step == 1 and frames else step * 1000  # now and then out of order
        frames.append({"t_ms": t, **frame})
    payload = batch_json(frames, wearer=wearer, placement=placement, seq=seq)
    fast = decode_features(payload)
    if fast is None:
        return  # refused: the pydantic path decides (and names the reason)
    model = FeatureBatchV1.model_validate_json(payload)  # must not raise
    assert stored(fast_feature_lines(fast)) == stored(feature_lines(model))


@st.composite
def same_shape_frames(draw: st.DrawFn) -> list[dict[str, object]]:
    """Valid frames that all have the same optional fields (the batch path of fast_feature_lines), now and then one
    frame with a field more or less than the first (the row-by-row path)."""
    groups = [("gx", "gy", "gz"), ("incl_deg",), ("lean_deg",), ("sd_mg",), ("steps",), ("hr_bpm",)]
    present = [g for g in groups if draw(st.booleans())]
    if ("gx", "gy", "gz") not in present and ("incl_deg",) not in present:
        present.append(("incl_deg",))
    frames = []
    for i in range(draw(st.integers(1, 6))):
        frame: dict[str, object] = {"t_ms": T0 + 1000 * i, "enmo_mg": draw(VALID["enmo_mg"])}
        frame["n"] = draw(st.integers(0, 10**4))
        for group in present:
            frame.update({k: draw(VALID[k]) for k in group})
        frames.append(frame)
    odd = draw(st.sampled_from(["none", "none", "more", "less"]))
    if odd == "more":
        frames[-1]["hr_bpm"] = 60.5
    elif odd == "less":
        for key in ("sd_mg", "lean_deg", "hr_bpm", "steps"):
            if key in frames[-1]:
                del frames[-1][key]
                break
    return frames


@settings(max_examples=300)
@given(same_shape_frames(), st.sampled_from(["ann", "x" * 64, "a-b_c"]))
def test_lines_per_batch_equal_the_row_by_row_oracle_and_the_contracts_lines(
    frames: list[dict[str, object]], wearer: str
) -> None:
    """fast_feature_lines writes a batch in one template; the row-by-row encoder it replaced (``_mixed_feature_lines``,
    still the path for frames of different fields) is the oracle, byte for byte, and the contract's feature_lines
    stores the same values."""
    payload = batch_json(frames, wearer=wearer, device=f"{wearer[:50]}-trunk")
    fast = decode_features(payload)
    try:
        model = FeatureBatchV1.model_validate_json(payload)
    except ValidationError:  # out of a bound (n, steps) or a gravity vector without a direction: refused on both
        assert fast is None
        return
    assert fast is not None
    assert fast_feature_lines(fast) == _mixed_feature_lines(fast)
    assert stored(fast_feature_lines(fast)) == stored(feature_lines(model))


def test_valid_frames_with_near_misses_take_either_path_to_the_same_result() -> None:
    """Values pydantic coerces (2.0 for an int, "1.5" for a float) go the slow path; ints for floats go fast."""
    cases = [
        {**FRAME, "steps": 2.0},
        {**FRAME, "enmo_mg": "1.5"},
        {**FRAME, "enmo_mg": 2},
        {**FRAME, "enmo_mg": MAX_ENMO_MG, "sd_mg": MAX_SD_MG},  # the largest an accelerometer gives
        {k: v for k, v in FRAME.items() if k not in ("gx", "gy", "gz")},
    ]
    for frame in cases:
        payload = batch_json([frame])
        model = FeatureBatchV1.model_validate_json(payload)
        fast = decode_features(payload)
        lines = fast_feature_lines(fast) if fast is not None else feature_lines(model)
        assert stored(lines) == stored(feature_lines(model)), frame
        assert all(math.isfinite(v) for _, fields, _ in stored(lines) for v in fields.values())


def test_enmo_or_sd_beyond_any_accelerometer_takes_neither_path() -> None:
    """1e300 mg (a wrong unit, a broken sender) overflowed a minute's mean: refused on both paths, naming the field."""
    for field in ("enmo_mg", "sd_mg"):
        payload = batch_json([{**FRAME, field: 1e300}])
        assert decode_features(payload) is None
        with pytest.raises(ValidationError, match=field):
            FeatureBatchV1.model_validate_json(payload)


def test_an_id_with_a_trailing_line_feed_does_not_take_the_fast_path() -> None:
    """msgspec matches patterns with Python's re, whose "$" also matches before a final line feed: "ann\\n" passed
    the fast path and wrote a line break into the wearer tag, where pydantic refuses it (issue 13)."""
    payload = batch_json([FRAME], wearer="ann\n")
    assert decode_features(payload) is None
    with pytest.raises(ValidationError, match="wearer"):
        FeatureBatchV1.model_validate_json(payload)


class _Texts(BaseModel):
    """Free-text and id fields as the contract writes them, should a feature batch ever carry one."""

    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=8)
    note: TextOrNone = Field(default=None, max_length=4)
    device: Id


_FAST_TEXTS = msgspec.json.Decoder(_struct(_Texts, "FastTexts", {}))


@settings(max_examples=300)
@given(
    st.text(st.sampled_from(["a", "é", " ", "\\", '"', "\n", "\r", "\t", "\x00", "\x85", "\u2028"]), max_size=9),
    st.one_of(st.none(), st.text(st.sampled_from(["a", "\n", "\x7f"]), max_size=5)),
    st.sampled_from(["ann", "ann\n", "Ann", ""]),
)
def test_the_free_text_rule_carries_over_to_the_fast_types(name: str, note: str | None, device: str) -> None:
    """A contract field of type ingest.wire.Text becomes a msgspec pattern that accepts exactly what pydantic does."""
    payload = json.dumps({"name": name, "note": note, "device": device}).encode()
    try:
        model = _Texts.model_validate_json(payload)
    except ValidationError:
        with pytest.raises(msgspec.ValidationError):
            _FAST_TEXTS.decode(payload)
    else:
        fast = _FAST_TEXTS.decode(payload)
        assert (fast.name, fast.note, fast.device) == (model.name, model.note, model.device)


@st.composite
def frames_with_extras(draw: st.DrawFn) -> list[dict[str, object]]:
    """Frames of one shape (same_shape_frames), now and then one with a field more or less, each perhaps with the
    fields a line does not carry (a transition, the vehicle flag, RR intervals)."""
    frames = draw(same_shape_frames())
    for frame in frames:
        if draw(st.booleans()):
            frame.update(trans="sit_to_stand", trans_conf=draw(st.floats(0, 1)), trans_lag_ms=draw(st.integers(0, 9)))
        if draw(st.booleans()):
            frame["activity"] = "automotive"
        if draw(st.booleans()):
            frame["rr_ms"] = draw(st.lists(st.integers(250, 2500), min_size=1, max_size=3))
    return frames


@settings(max_examples=300)
@given(frames_with_extras(), st.sampled_from(["ann", "a-b_c"]))
def test_lines_through_the_line_type_equal_the_row_by_row_oracle_whatever_else_a_frame_carries(
    frames: list[dict[str, object]], wearer: str
) -> None:
    """The line type (``_line_type``) takes from a frame the fields a line writes and nothing else: a transition,
    the vehicle flag or RR intervals change nothing in the bytes; a frame of another shape takes the row-by-row
    path, which is the oracle."""
    fast = decode_features(batch_json(frames, wearer=wearer, device=f"{wearer}-trunk"))
    if fast is None:
        return  # out of a bound: refused, as the test above checks against the contract
    assert fast_feature_lines(fast) == _mixed_feature_lines(fast)
