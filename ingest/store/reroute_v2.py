"""Moving a wearer's stored points to where the wall says they belong now, on InfluxDB 2.x (ingest/wall.py).

2.x's InfluxQL has no ``SELECT ... INTO`` and no ``DELETE`` (docs.influxdata.com, InfluxDB OSS v2, "InfluxQL
support"), so ``reroute_v2`` does what ``reroute`` (ingest/store/reroute.py, 1.x) does in three steps, per database of
the wall, measurement, retention policy and span of unchanged consent: it reads the wearer's points through the
v1-compatible ``/query`` (``SELECT *``, with ``SHOW TAG KEYS`` / ``SHOW FIELD KEYS`` to tell tags from fields and
keep each field's type), writes them to the bucket the wall names now (``POST /api/v2/write``, precision ``ms``), and
only then deletes them from the old bucket (``POST /api/v2/delete``: ``start``, ``stop`` (RFC3339, both inclusive)
and a ``predicate`` on ``_measurement``, ``wearer`` and, for events, ``kind``). A write that fails leaves the source
as it was; running again finishes a move (writing the same series at the same time overwrites). Buckets are named
as ``kinetic store provision`` makes them (ingest/store/access_v2.py): ``<database>`` for policy ``autogen``,
``<database>_raw`` for the raw policy. Needs the operator's token (``read`` and ``write`` on every bucket).
Checked against a stand-in of the documented API (tests/support/fake_influx2.py); not run against InfluxDB 2.x.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.errors import ConfigError
from ingest.settings import InfluxSettings
from ingest.store.access_v2 import V2Api
from ingest.store.influx_v1 import RAW_POLICY, InfluxV1Sink
from ingest.store.points import FieldValue, Point, to_line_protocol
from ingest.store.reroute import Moved, steps, time_clause
from ingest.wall import Wall
from ingest.wire import check_id

_LOGGER = logging.getLogger(__name__)
EARLIEST = "1677-09-21T00:12:43.145224194Z"  # the earliest and latest times InfluxDB can store (int64 ns)
LATEST = "2262-04-11T23:47:16.854775806Z"


def bucket_name(database: str, policy: str) -> str:
    """The bucket a database and retention policy map to, as ``provision_v2`` lays them out. Raises ConfigError."""
    if policy == "autogen":
        return database
    if policy == RAW_POLICY:
        return f"{database}_raw"
    raise ConfigError(f"InfluxDB 2.x: retention policy {policy!r} of {database!r} is not one provisioning made")


def rfc3339(t_ms: int | None, *, end: bool) -> str:
    """``t_ms`` as an RFC3339 time for ``/api/v2/delete``; an open span's edge is InfluxDB's earliest or latest time;
    ``end``: the last nanosecond before ``t_ms`` (a span excludes its end, delete includes its ``stop``)."""
    if t_ms is None:
        return LATEST if end else EARLIEST
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=t_ms)
    if not end:
        return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    before = at - timedelta(microseconds=1)
    return before.strftime("%Y-%m-%dT%H:%M:%S.%f") + "999Z"


def _series(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for statement in result.get("results", []) for s in statement.get("series", [])]


def _values(result: dict[str, Any]) -> list[list[Any]]:
    return [row for s in _series(result) for row in s.get("values", [])]


def _typed(value: Any, kind: str) -> FieldValue:
    """A field's JSON value as the type ``SHOW FIELD KEYS`` names (JSON writes the float 1.0 as 1)."""
    if kind == "float":
        return float(value)
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


async def _points(query: InfluxV1Sink, source: str, policy: str, measurement: str, where: str) -> list[Point]:
    tags = {row[0] for row in _values(await query.query(f'SHOW TAG KEYS FROM "{measurement}"', database=source))}
    shown = await query.query(f'SHOW FIELD KEYS FROM "{measurement}"', database=source)
    kinds = {str(row[0]): str(row[1]) for row in _values(shown)}
    result = await query.query(
        f'SELECT * FROM "{source}"."{policy}"."{measurement}" WHERE {where}', method="POST", database=source
    )
    points = []
    for series in _series(result):
        columns = series["columns"]
        for row in series.get("values", []):
            named = dict(zip(columns, row, strict=True))
            t_ms = int(named.pop("time"))
            points.append(
                Point.make(
                    measurement,
                    {k: str(v) for k, v in named.items() if k in tags and v is not None},
                    {k: _typed(v, kinds.get(k, "float")) for k, v in named.items() if k not in tags and v is not None},
                    t_ms,
                )
            )
    return points


async def reroute_v2(settings: InfluxSettings, wall: Wall, wearer: str) -> Moved:
    """Move the wearer's points within the wall's buckets to where ``wall`` routes them now, with the operator's
    token (``settings.token``). Raises ConfigError (no token), SinkAuthError (the token may not), SinkRejected,
    StoreUnreachable."""
    wearer = check_id(wearer)
    if settings.token is None:
        raise ConfigError("setting KINETIC_INFLUX__TOKEN: InfluxDB 2.x's operator token is needed to move points")
    query = InfluxV1Sink(settings)
    api = V2Api(settings.url, settings.token.get_secret_value(), settings.timeout_s)
    moved = Moved()
    async for step in steps(query, wall, wearer):
        predicate = f'_measurement="{step.measurement}" AND wearer="{wearer}"' + (
            "" if step.kind is None else f' AND kind="{step.kind}"'
        )
        for policy in step.policies:
            where = step.where + time_clause(step.start, step.end)
            points = await _points(query, step.source, policy, step.measurement, where)
            if not points:
                continue
            await api.write(
                {"org": settings.org, "bucket": bucket_name(step.target, policy), "precision": "ms"},
                to_line_protocol(points),
            )
            body = {
                "start": rfc3339(step.start, end=False),
                "stop": rfc3339(step.end, end=True),
                "predicate": predicate,
            }
            await api.call(
                "POST", "/api/v2/delete", {"org": settings.org, "bucket": bucket_name(step.source, policy)}, body
            )
            key = (step.source, step.target, step.measurement)
            moved.points[key] = moved.points.get(key, 0) + len(points)
            _LOGGER.info(
                "reroute %s: %d %s points from %s to %s",
                wearer,
                len(points),
                step.measurement,
                step.source,
                step.target,
            )
    return moved
