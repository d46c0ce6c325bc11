"""Points and InfluxDB line protocol: pure functions, no I/O.

Line protocol reference: https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
"""

from __future__ import annotations

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
        return ",".join([escape_key(self.measurement)] + [f"{escape_key(k)}={escape_key(v)}" for k, v in self.tags])


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


def escape_key(value: str) -> str:
    # measurement, tag keys, tag values, field keys: escape comma, space, equals sign
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def _field_value(value: FieldValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"field value {value} is not finite")
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_line(point: Point) -> str:
    fields = ",".join(
        f"{escape_key(k)}={_field_value(v)}"
        for k, v in point.fields.items()
        if not (isinstance(v, float) and not math.isfinite(v))
    )
    if not fields:
        raise ValueError(f"point {point.series} at {point.t_ms} has no fields")
    return f"{point.series} {fields} {point.t_ms}"


def to_line_protocol(points: Iterable[Point]) -> bytes:
    """Many points, one per line, millisecond precision (write with ``precision=ms``)."""
    return ("\n".join(to_line(p) for p in points) + "\n").encode()
