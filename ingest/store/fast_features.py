"""The bridge's fast path for feature batches, its hottest message: decoding with msgspec (C) and line protocol
from its JSON encoder, instead of pydantic models and Python float formatting (bench/bridge_throughput.py).

The wire contract stays ``ingest.wire.FeatureBatchV1``: the msgspec types here are *derived* from that model at
import (field names, types, bounds, patterns, defaults); a constraint this module does not know how to carry over
stops the import, so the two cannot drift apart silently. The batch-level rules (complete gravity vector or an
inclination, strictly increasing times) are the model's own functions. Whatever msgspec refuses goes to the
pydantic path, which decides - and names the reason; a property test checks that everything msgspec accepts,
pydantic accepts with the same values and the same stored line protocol (tests/unit/ingest/store/test_fast_features.py).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Protocol, cast

import annotated_types
import msgspec
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from typing_extensions import TypeIs

from ingest.store.points import series_key
from ingest.wire import CONTROL_CHARACTERS, FeatureBatchV1, FeatureFrameV1, batch_problem, check_text

# the optional fields, in the order feature_lines writes them
_FLOATS = ("gx", "gy", "gz", "incl_deg", "lean_deg", "sd_mg", "hr_bpm")


# ingest.wire.Text as a msgspec pattern (msgspec searches with Python's re: anchored at both ends of the string)
_TEXT_PATTERN = rf"\A[^{CONTROL_CHARACTERS}]*\Z"


def _end_anchored(pattern: str) -> str:
    """A pydantic pattern for msgspec: pydantic's regex engine reads ``$`` as the end of the string, Python's ``re``
    also matches it before a final line feed (``"ann\\n"`` would pass ``^[a-z]+$``), so ``$`` becomes ``\\Z``."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


def _meta(info: FieldInfo) -> msgspec.Meta | None:
    bounds: dict[str, Any] = {}
    patterns: list[str] = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            bounds["ge"] = item.ge
        elif isinstance(item, annotated_types.Le):
            bounds["le"] = item.le
        elif isinstance(item, annotated_types.MinLen):
            bounds["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            bounds["max_length"] = item.max_length
        elif getattr(item, "pattern", None) is not None and type(item).__name__ == "_PydanticGeneralMetadata":
            patterns.append(_end_anchored(item.pattern))
        elif isinstance(item, BeforeValidator) and item.func is check_text:
            patterns.append(_TEXT_PATTERN)  # the contract's free-text rule (ingest.wire.Text)
        else:
            raise TypeError(f"fast_features cannot carry over {item!r}: extend _meta or drop the fast path")
    if len(patterns) > 1:
        raise TypeError(f"fast_features cannot carry over two patterns ({patterns}): msgspec takes one")
    if patterns:
        bounds["pattern"] = patterns[0]
    return msgspec.Meta(**bounds) if bounds else None


def _struct(model: type[BaseModel], name: str, nested: dict[type, type]) -> type[msgspec.Struct]:
    fields: list[tuple[str, Any, Any]] = []
    for field_name, info in model.model_fields.items():
        annotation: Any = info.annotation
        args = typing.get_args(annotation)
        union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
        optional = union and type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else annotation
        if typing.get_origin(base) is list:
            (item,) = typing.get_args(base)
            base = list[nested.get(item, item)]  # type: ignore[misc]
        elif not (base in (int, float, str) or typing.get_origin(base) is Literal):
            raise TypeError(f"fast_features cannot carry over {model.__name__}.{field_name}: {annotation}")
        meta = _meta(info)
        typ: Any = Annotated[base, meta] if meta is not None else base
        if optional:
            typ = typ | None
        if info.default is PydanticUndefined:
            fields.append((field_name, typ, msgspec.NODEFAULT))
        else:
            fields.append((field_name, typ, info.default))
    required = [f for f in fields if f[2] is msgspec.NODEFAULT]
    optional_fields = [f for f in fields if f[2] is not msgspec.NODEFAULT]
    return msgspec.defstruct(
        name,
        [(n, t) for n, t, _ in required] + list(optional_fields),
        forbid_unknown_fields=model.model_config.get("extra") == "forbid",
        frozen=True,
        # Not tracked by the garbage collector: a frame holds numbers, strings and a list of numbers, a batch strings
        # and its list of frames, so neither can be part of a reference cycle. A bridge decodes tens of thousands of
        # frames a second, and tracked ones start collections that walk what the process holds: with 2,000 decoded
        # batches alive 0.65 -> 0.44 us a frame to decode (a timing outside the repo); with a small heap
        # (bench.feature_path) no change.
        gc=False,
    )


FastFrame = _struct(FeatureFrameV1, "FastFrame", {})
FastFeatureBatch = _struct(FeatureBatchV1, "FastFeatureBatch", {FeatureFrameV1: FastFrame})
_DECODER = msgspec.json.Decoder(FastFeatureBatch)
_ENCODER = msgspec.json.Encoder()


class FrameLike(Protocol):
    @property
    def t_ms(self) -> int: ...
    @property
    def gx(self) -> float | None: ...
    @property
    def gy(self) -> float | None: ...
    @property
    def gz(self) -> float | None: ...
    @property
    def incl_deg(self) -> float | None: ...
    @property
    def lean_deg(self) -> float | None: ...
    @property
    def enmo_mg(self) -> float: ...
    @property
    def sd_mg(self) -> float | None: ...
    @property
    def steps(self) -> int: ...
    @property
    def n(self) -> int: ...
    @property
    def hr_bpm(self) -> float | None: ...


class BatchLike(Protocol):
    """What FeatureBatchV1 and FastFeatureBatch share (the rollup and the bridge read only this)."""

    @property
    def wearer(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def placement(self) -> str: ...
    @property
    def frames(self) -> Sequence[FrameLike]: ...


def is_fast_batch(message: object) -> TypeIs[BatchLike]:
    """A batch decoded by this module (not a FeatureBatchV1)."""
    return isinstance(message, FastFeatureBatch)


def decode_features(payload: bytes) -> BatchLike | None:
    """The batch, or None when msgspec or the batch rules refuse it (the pydantic path then decides)."""
    try:
        batch = cast(BatchLike, _DECODER.decode(payload))
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if batch_problem(batch.frames) is not None:
        return None
    return batch


_LINE = b"%s%s,steps=%si,n=%si,gx=%s,gy=%s,gz=%s,incl_deg=%s,lean_deg=%s,sd_mg=%s,hr_bpm=%s %s\n"
_ABSENT = tuple(b",%s=null" % name.encode() for name in _FLOATS)

# The optional fields in groups a frame has or lacks together (the wire checks that gx, gy, gz go together), in the
# order feature_lines writes them.
_GROUPS = (("gx", "gy", "gz"), ("incl_deg",), ("lean_deg",), ("sd_mg",), ("hr_bpm",))
_INTS = frozenset({"steps", "n", "t_ms"})  # written with InfluxDB's "i" suffix, except the timestamp

# How a frame's line is written by msgspec's JSON encoder (module docstring of ``_line_type``): the JSON punctuation
# dropped (_JSON_PUNCTUATION), ";" in a key becomes the field separator and "}" ends the line; "@" starts each line,
# where the series key goes. None of these characters is in a JSON number.
_SERIES_MARK = b"@"
_JSON_PUNCTUATION = b'",:{[]'
_TO_LINE = bytes.maketrans(b";}", b",\n")


@functools.cache
def _line_type(present: tuple[bool, ...]) -> Any:
    """The type frames of one shape (which of ``_GROUPS`` they have) are converted to (as its field ``lines``) so that
    msgspec's encoder writes their line protocol, less the series key: per frame a struct with the line's fields in
    ``feature_lines``' order, each key renamed to what precedes its value in the line, the fields the shape lacks typed
    ``None`` and left out of the output (``omit_defaults``). For ``enmo_mg, steps, n, gx`` the JSON
    ``{"@enmo_mg=":0.7,"i;n=":...`` less its punctuation is ``@enmo_mg=0.7i,n=...``: a key carries the "i" of the
    integer field before it. Converting a frame that lacks a field of the shape, or has one it lacks, fails
    (msgspec.ValidationError): that batch is mixed."""
    has = {name: is_there for group, is_there in zip(_GROUPS, present, strict=True) for name in group}
    fields: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    after_int = False
    for name in ("enmo_mg", "steps", "n", *_FLOATS, "t_ms"):
        if not has.get(name, True):
            fields.append((name, None, None))
            continue
        fields.append((name, int if name in _INTS else float, msgspec.NODEFAULT))
        suffix = "i" if after_int else ""
        if name == "enmo_mg":
            rename[name] = f"{_SERIES_MARK.decode()} enmo_mg="
        elif name == "t_ms":
            rename[name] = f"{suffix} "
        else:
            rename[name] = f"{suffix};{name}="
        after_int = name in _INTS
    struct = msgspec.defstruct(
        "FrameLine",
        [(n, t) if d is msgspec.NODEFAULT else (n, t, d) for n, t, d in fields],
        kw_only=True,
        omit_defaults=True,
        rename=rename,
        gc=False,
    )
    # converted to as a struct's field: msgspec keeps a struct type's conversion plan on the type, and builds one for
    # a bare ``list[...]`` at every call (1.8 -> 0.8 us for a batch of one frame; a timing outside the repo)
    return msgspec.defstruct("FrameLines", [("lines", list[struct])], gc=False)  # type: ignore[valid-type]


def fast_feature_lines(batch: BatchLike) -> bytes:
    """Line protocol for the batch with the values ``feature_lines`` writes, fields in the same order (msgspec may
    spell a float differently, 0.00001 for 1e-05; property-tested against ``feature_lines``), byte for byte what
    ``_mixed_feature_lines`` (the row-by-row encoder) writes (property-tested).

    Per batch, in three calls into C: when every frame has the optional fields the first has (the common case: one
    sensor, one kind of frame), the frames are converted to their shape's line type (``_line_type``), encoded by
    msgspec's JSON encoder, whose keys are the line's separators and field names, the JSON punctuation translated
    away, and the series key set at the start of each line (1.16 -> 0.83 us a frame for 50-frame batches against
    the ``%`` template of the values this replaced). msgspec refuses non-finite numbers when decoding, so every value
    is a finite number. Frames that differ in their fields take ``_mixed_feature_lines``."""
    frames = batch.frames
    first = frames[0]
    line_type = _line_type(
        (
            first.gx is not None,
            first.incl_deg is not None,
            first.lean_deg is not None,
            first.sd_mg is not None,
            first.hr_bpm is not None,
        )
    )
    try:
        lines = msgspec.convert({"lines": frames}, line_type, from_attributes=True).lines
    except msgspec.ValidationError:
        return _mixed_feature_lines(batch)  # a later frame has a field the first lacks, or lacks one it has
    series = _series_key(batch.device, batch.placement, batch.wearer)
    return _ENCODER.encode(lines).translate(_TO_LINE, _JSON_PUNCTUATION).replace(_SERIES_MARK, series)


@functools.lru_cache(maxsize=65_536)  # a bridge writes the same devices' series over and over
def _series_key(device: str, placement: str, wearer: str) -> bytes:
    """A device's ``features`` series key in line protocol, as bytes. Raises LineProtocolError (a ValueError) for a
    tag value line protocol cannot carry (``points.series_key``)."""
    return series_key("features", (("device", device), ("placement", placement), ("wearer", wearer))).encode()


def _mixed_feature_lines(batch: BatchLike) -> bytes:
    """``fast_feature_lines`` for a batch whose frames differ in their optional fields: a row per frame with every
    field, the absent ones (``null``) then removed."""
    prefix = _series_key(batch.device, batch.placement, batch.wearer) + b" enmo_mg="
    rows = _ENCODER.encode(
        [
            (f.enmo_mg, f.steps, f.n, f.gx, f.gy, f.gz, f.incl_deg, f.lean_deg, f.sd_mg, f.hr_bpm, f.t_ms)
            for f in batch.frames
        ]
    )
    body = b"".join([_LINE % (prefix, *row.split(b",")) for row in rows[2:-2].split(b"],[")])
    for absent in _ABSENT:
        if absent in body:
            body = body.replace(absent, b"")
    return body
