"""Points and InfluxDB line protocol: pure functions, no I/O.

Line protocol reference: https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ingest.store.fast_features import BatchLike
    from ingest.wire import Payload

FieldValue = float | int | str | bool


@dataclass(frozen=True, slots=True)
class Point:
    """One row of time series: the same shape for InfluxDB and the embedded store.

    ``tags`` are sorted (name, value) pairs (InfluxDB sorts them too; sorted tags make the series key
    canonical). Timestamps are Unix epoch milliseconds in event time.
    """

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: Mapping[str, FieldValue]
    t_ms: int

    @classmethod
    def make(
        cls,
        measurement: str,
        tags: Mapping[str, str | None],
        fields: Mapping[str, FieldValue | None],
        t_ms: int,
    ) -> Point:
        clean_tags = tuple(sorted((k, v) for k, v in tags.items() if v is not None and v != ""))
        clean_fields = {k: v for k, v in fields.items() if v is not None}
        return cls(measurement, clean_tags, clean_fields, t_ms)

    @property
    def series(self) -> str:
        """The series key in line protocol: measurement and tags, escaped. Raises LineProtocolError."""
        return series_key(self.measurement, self.tags)


class PointSink(Protocol):
    """The port every writer implements.

    ``encode`` turns points into the sink's own line format, one point per line ending in a newline, so the
    bridge can spool, concatenate and split batches without knowing the format. ``write_lines`` raises
    ingest.errors.SinkUnavailable (retry later) or SinkRejected (these lines will never be accepted).
    ``writes_line_protocol``: the format is InfluxDB line protocol, so the bridge may encode feature batches on its
    fast path (ingest/store/fast_features.py).
    """

    writes_line_protocol: bool

    async def prepare(self) -> None:
        """Get ready to write (create the database where that is ours to do); SinkUnavailable if not yet."""
        ...

    def encode(self, points: list[Point]) -> bytes: ...

    def encode_message(self, message: Payload | BatchLike, received_ms: int) -> tuple[bytes, int]:
        """A wire message's points, encoded; and how many. Lets a sink take a faster path than ``encode``."""
        ...

    async def write_lines(self, body: bytes) -> None: ...

    async def aclose(self) -> None: ...


class LineProtocolError(ValueError):
    """A point that InfluxDB line protocol cannot carry; the message names the part and the reason. A ValueError, so
    the bridge dead-letters the message it came from ("cannot store: ...") and carries on."""


# InfluxDB 1.x line protocol, https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
# ("Special characters"), checked against influxd (tests/integration/ingest/test_line_protocol.py):
# - measurement: escape comma and space; tag keys, tag values, field keys: escape comma, equals sign and space. influxd
#   does not unescape a doubled backslash there ("a\\b" is stored as a\\b), so a backslash is written as it is;
#   one right before a character that needs escaping, or at the end (where it would escape the separator that
#   follows: influxd answers 400), cannot be written, nor can a double quote in a field key (read as the start of a
#   string value by influxd's line scanner).
# - string field values: escape double quote and backslash; influxd unescapes both.
# - no line breaks anywhere ("Line protocol does not support the newline character"); a line starting with "#" is a
#   comment, and influxd skips tabs and NUL bytes before a measurement and before the first field key, so neither
#   can start with one; "time" is not a tag or field key.
# - a field with a tag's name is refused: the stores would answer differently (InfluxQL renames one of them).
_NAME_ESCAPES = {ord(","): "\\,", ord("="): "\\=", ord(" "): "\\ "}
_MEASUREMENT_ESCAPES = {ord(","): "\\,", ord(" "): "\\ "}
_STRING_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"'}
_BACKSLASH_BEFORE = ("\\,", "\\=", "\\ ", '\\"')


def _check_name(value: str, what: str) -> None:
    """Raise LineProtocolError if ``value`` (a measurement, tag key or value, field key) cannot be written."""
    if not value:
        raise LineProtocolError(f"{what} is empty")
    if "\n" in value or "\r" in value:
        raise LineProtocolError(f"{what} {value!r} contains a line break")
    if "\\" in value:
        if value.endswith("\\"):
            raise LineProtocolError(
                f"{what} {value!r} ends with a backslash, which would escape the separator after it"
            )
        for pair in _BACKSLASH_BEFORE:
            if pair in value:
                raise LineProtocolError(f"{what} {value!r} has a backslash right before {pair[1]!r}")


def escape_measurement(name: str) -> str:
    _check_name(name, "measurement")
    if name[0] in "#\t\x00":
        raise LineProtocolError(f"measurement {name!r} starts with {name[0]!r} (a comment line, or skipped)")
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_tag_key(key: str) -> str:
    _check_name(key, "tag key")
    if key == "time":
        raise LineProtocolError("tag key 'time' is reserved by InfluxDB")
    return key.translate(_NAME_ESCAPES)


def escape_tag_value(value: str, key: str = "") -> str:
    if not value or "\\" in value or "\n" in value or "\r" in value:
        _check_name(value, f"tag {key!r} value" if key else "tag value")
    return value.translate(_NAME_ESCAPES)


@functools.lru_cache(maxsize=4096)  # a store writes the same few series over and over
def series_key(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """Measurement and tags, escaped: what InfluxDB keys a series by. Raises LineProtocolError."""
    return ",".join(
        [escape_measurement(measurement)] + [f"{escape_tag_key(k)}={escape_tag_value(v, k)}" for k, v in tags]
    )


@functools.lru_cache(maxsize=1024)
def escape_field_key(key: str) -> str:
    _check_name(key, "field key")
    if key == "time":
        raise LineProtocolError("field key 'time' is reserved by InfluxDB")
    if '"' in key:
        raise LineProtocolError(f"field key {key!r} contains a double quote")
    if key[0] in "\t\x00":
        raise LineProtocolError(f"field key {key!r} starts with {key[0]!r}, which influxd skips")
    return key.translate(_NAME_ESCAPES)


def escape_string(value: str, key: str = "") -> str:
    """A string field value, quoted."""
    if "\n" in value or "\r" in value:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise LineProtocolError(f"field {key!r} value {shown!r} contains a line break")
    return f'"{value.translate(_STRING_ESCAPES)}"'


def _field_value(value: FieldValue, key: str) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)  # finite: _stored_fields leaves the others out
    return escape_string(value, key)


def _stored_fields(point: Point) -> list[tuple[str, FieldValue]]:
    """The fields a store keeps: non-finite floats are left out (line protocol has no NaN or infinity); raises
    LineProtocolError when none is left or a field has a tag's name."""
    fields = [(k, v) for k, v in point.fields.items() if not (isinstance(v, float) and not math.isfinite(v))]
    if not fields:
        raise LineProtocolError(f"point {point.series} at {point.t_ms} has no fields")
    tag_keys = {k for k, _ in point.tags}
    for key, _ in fields:
        if key in tag_keys:
            raise LineProtocolError(f"point {point.series}: field {key!r} has a tag's name (InfluxQL answers {key}_1)")
    return fields


def stored_form(point: Point) -> tuple[str, dict[str, FieldValue]]:
    """The point's series key and the fields a store keeps; LineProtocolError for a point InfluxDB cannot store as
    it is. The embedded store takes its points through this too, so both stores keep and refuse the same."""
    series = point.series
    fields = _stored_fields(point)
    for key, value in fields:
        escape_field_key(key)
        if isinstance(value, str):
            escape_string(value, key)
    return series, dict(fields)


def to_line(point: Point) -> str:
    """One point in line protocol (no newline); LineProtocolError when it cannot be written as it is."""
    series = point.series
    fields = ",".join(f"{escape_field_key(k)}={_field_value(v, k)}" for k, v in _stored_fields(point))
    return f"{series} {fields} {point.t_ms}"


def to_line_protocol(points: Iterable[Point]) -> bytes:
    """Many points, one per line, millisecond precision (write with ``precision=ms``)."""
    return ("\n".join(to_line(p) for p in points) + "\n").encode()
