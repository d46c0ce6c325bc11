"""Moving a wearer's stored points to where the wall says they belong now (InfluxDB 1.x; ingest/wall.py).

``kinetic data move WEARER --to CLINIC`` (a patient changes clinic: the clinics file says so, the wearer granted the
new clinic) and ``kinetic consent withdraw --delete-shared`` (the clinic's copy goes back to the private database)
both call ``reroute``: for each of the wall's databases, each measurement and retention policy, and each span of time
in which the wearer's consent does not change, the points that belong elsewhere are copied there with ``SELECT *
INTO ... GROUP BY *`` (tags stay tags, field types stay as they were) and then deleted where they were (``DELETE``,
which takes a tag and a time range). A copy that fails leaves the source as it was; running again finishes a move
(copying is idempotent: same series, same time). Needs a credential with ``ALL`` on every database of the wall
(``kinetic_operator``). InfluxDB 2.x (a token set) has no ``SELECT ... INTO`` nor ``DELETE``:
ingest/store/reroute_v2.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wall import Wall, category_of
from ingest.wire import check_id

_LOGGER = logging.getLogger(__name__)


@dataclass
class Moved:
    """What ``reroute`` moved: (from database, to database, measurement) -> points."""

    points: dict[tuple[str, str, str], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.points.values())

    def lines(self) -> list[str]:
        return [f"{n} {m} points from {a} to {b}" for (a, b, m), n in sorted(self.points.items()) if n]


def spans(wall: Wall, wearer: str) -> list[tuple[int | None, int | None]]:
    """The wearer's time cut where their consent changes: ``[(None, b0), (b0, b1), ..., (bn, None)]`` (ms). Inside a
    span every point of a category goes to one database. Pure."""
    bounds = sorted(
        {g.since_ms for g in wall.consent.grants.get(wearer, [])}
        | {g.until_ms for g in wall.consent.grants.get(wearer, []) if g.until_ms is not None}
    )
    edges: list[int | None] = [None, *bounds, None]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def time_clause(start: int | None, end: int | None) -> str:
    """InfluxQL's `` AND time >= ...ms AND time < ...ms`` for the span [``start``, ``end``) (None: open). Pure."""
    parts = ([f"time >= {start}ms"] if start is not None else []) + ([f"time < {end}ms"] if end is not None else [])
    return "".join(f" AND {p}" for p in parts)


def _values(result: dict[str, Any]) -> list[list[Any]]:
    return [row for s in result["results"][0].get("series", []) for row in s.get("values", [])]


@dataclass(frozen=True, slots=True)
class Step:
    """One piece of a move: the wearer's points of ``measurement`` (and ``kind``, for events) in the time span
    [``start``, ``end``) (ms; None: open) of each retention policy of ``source`` belong in ``target``; ``where`` is
    the InfluxQL condition that selects them (without the time)."""

    source: str
    target: str
    measurement: str
    kind: str | None
    start: int | None
    end: int | None
    policies: tuple[str, ...]
    where: str


async def steps(query: InfluxV1Sink, wall: Wall, wearer: str) -> AsyncIterator[Step]:
    """What must move, found with InfluxQL ``SHOW`` statements through ``query`` (1.x, or 2.x's v1-compatible
    ``/query``): for each of the wall's databases, measurement (events: each ``kind``) and span of unchanged consent
    whose points the wall routes elsewhere now. Lazy: each database is asked when the previous ones are done."""
    wearer = check_id(wearer)
    for source in wall.databases():
        measurements = [row[0] for row in _values(await query.query("SHOW MEASUREMENTS", database=source))]
        policies = tuple(row[0] for row in _values(await query.query(f'SHOW RETENTION POLICIES ON "{source}"')))
        for measurement in measurements:
            kinds: list[str | None] = [None]
            if measurement == "events":
                shown = await query.query(
                    f'SHOW TAG VALUES FROM "events" WITH KEY = "kind" WHERE wearer = \'{wearer}\'', database=source
                )
                kinds = [str(row[1]) for row in _values(shown)]
            for kind in kinds:
                category = category_of(measurement, kind)
                where = f"wearer = '{wearer}'" + ("" if kind is None else f" AND kind = '{kind}'")
                for start, end in spans(wall, wearer):
                    t = start if start is not None else (end - 1 if end is not None else 0)
                    target = wall.database_for(wearer, category, t)
                    if target != source:
                        yield Step(source, target, measurement, kind, start, end, policies, where)


async def reroute(operator: InfluxV1Sink, wall: Wall, wearer: str) -> Moved:
    """Move the wearer's points within the wall's databases to where ``wall`` routes them now. Raises SinkAuthError
    (the credential lacks ``ALL`` on a database), SinkRejected, StoreUnreachable."""
    moved = Moved()
    async for step in steps(operator, wall, wearer):
        source, target, measurement = step.source, step.target, step.measurement
        time = time_clause(step.start, step.end)
        copied = 0
        for policy in step.policies:
            result = await operator.query(
                f'SELECT * INTO "{target}"."{policy}"."{measurement}" FROM "{source}"."{policy}".'
                f'"{measurement}" WHERE {step.where}{time} GROUP BY *',
                method="POST",
                database=source,
            )
            copied += sum(int(row[1]) for row in _values(result))
        if copied:
            await operator.query(
                f'DELETE FROM "{measurement}" WHERE {step.where}{time}', method="POST", database=source
            )
            key = (source, target, measurement)
            moved.points[key] = moved.points.get(key, 0) + copied
            _LOGGER.info("reroute %s: %d %s points from %s to %s", wearer, copied, measurement, source, target)
    return moved
