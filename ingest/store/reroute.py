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


def _time(start: int | None, end: int | None) -> str:
    parts = ([f"time >= {start}ms"] if start is not None else []) + ([f"time < {end}ms"] if end is not None else [])
    return "".join(f" AND {p}" for p in parts)


def _values(result: dict[str, Any]) -> list[list[Any]]:
    return [row for s in result["results"][0].get("series", []) for row in s.get("values", [])]


async def reroute(operator: InfluxV1Sink, wall: Wall, wearer: str) -> Moved:
    """Move the wearer's points within the wall's databases to where ``wall`` routes them now. Raises SinkAuthError
    (the credential lacks ``ALL`` on a database), SinkRejected, StoreUnreachable."""
    wearer = check_id(wearer)
    moved = Moved()
    for source in wall.databases():
        measurements = [row[0] for row in _values(await operator.query("SHOW MEASUREMENTS", database=source))]
        policies = [row[0] for row in _values(await operator.query(f'SHOW RETENTION POLICIES ON "{source}"'))]
        for measurement in measurements:
            kinds: list[str | None] = [None]
            if measurement == "events":
                shown = await operator.query(
                    f'SHOW TAG VALUES FROM "events" WITH KEY = "kind" WHERE wearer = \'{wearer}\'', database=source
                )
                kinds = [str(row[1]) for row in _values(shown)]
            for kind in kinds:
                category = category_of(measurement, kind)
                where = f"wearer = '{wearer}'" + ("" if kind is None else f" AND kind = '{kind}'")
                for start, end in spans(wall, wearer):
                    t = start if start is not None else (end - 1 if end is not None else 0)
                    target = wall.database_for(wearer, category, t)
                    if target == source:
                        continue
                    copied = 0
                    for policy in policies:
                        result = await operator.query(
                            f'SELECT * INTO "{target}"."{policy}"."{measurement}" FROM "{source}"."{policy}".'
                            f'"{measurement}" WHERE {where}{_time(start, end)} GROUP BY *',
                            method="POST",
                            database=source,
                        )
                        copied += sum(int(row[1]) for row in _values(result))
                    if copied:
                        await operator.query(
                            f'DELETE FROM "{measurement}" WHERE {where}{_time(start, end)}',
                            method="POST",
                            database=source,
                        )
                        key = (source, target, measurement)
                        moved.points[key] = moved.points.get(key, 0) + copied
                        _LOGGER.info(
                            "reroute %s: %d %s points from %s to %s", wearer, copied, measurement, source, target
                        )
    return moved
