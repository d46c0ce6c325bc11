"""The wall between clinics on InfluxDB 1.x (issue 20, item 2): the bridge's sink writes each point into the database
``ingest.wall.Wall`` names for it (a clinic's, the private one, or the operations database for points without a
wearer). One ``POST /write`` per database and retention policy of a batch; each database gets its lines in their
order. A batch one database rejects (HTTP 400) makes the bridge split it and write the halves again: rewriting a
point is harmless (same series and time), so what other databases took is only written twice, never lost.

The wall's databases are provisioned (``kinetic store provision``: per-clinic databases, a read-only user per clinic,
the bridge's ``WRITE`` on each); with ``create_database`` (a development server without authentication) they are
made at start instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

from ingest.errors import SinkAuthError
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.queries import (
    BoutRow,
    CheckInRow,
    DeviceRow,
    MinuteRow,
    OutcomeRow,
    PostureBoutRow,
    PrescriptionRow,
    PromptEventRow,
    PromptRow,
    ReadinessRow,
    ResponseRow,
    SessionRow,
    with_total,
)
from ingest.wall import Wall

if TYPE_CHECKING:
    from ingest.store.queries import Queries

Row = TypeVar("Row")
_BY_TIME = attrgetter("t_ms")  # each row type's time, the order Queries promises (a bout: its end)
_BY_END = attrgetter("end_ms")
_BY_HOUR = itemgetter("t_ms")


class WalledInfluxV1Sink(InfluxV1Sink):
    """PointSink for the v1 HTTP API that routes every line by ``wall`` (shared with the bridge, which applies the
    consent events it receives to ``wall.consent``)."""

    def __init__(self, settings: InfluxSettings, wall: Wall) -> None:
        super().__init__(settings)
        self.wall = wall

    async def prepare(self) -> None:
        if not self._settings.create_database:
            return
        for db in [self.wall.base, *self.wall.databases()]:
            await self.create_database(db)

    async def write_lines(self, body: bytes) -> None:
        if not body:
            return
        for database, lines in self.wall.route(body).items():
            await self.write_to(database, lines)


class WalledHoldings:
    """A wearer's stored data across the wall's databases (``kinetic data export / delete``, ingest/rights.py): the
    operations database, each clinic's and the private one, read and erased with one credential (the operator's)."""

    def __init__(self, settings: InfluxSettings, wall: Wall) -> None:
        from ingest.store.influxql_queries import InfluxQLQueries  # noqa: PLC0415 - a cycle through the package

        self.databases = [wall.base, *wall.databases()]
        self._sinks = [InfluxV1Sink(settings.model_copy(update={"database": db})) for db in self.databases]
        self._queries = [InfluxQLQueries(sink) for sink in self._sinks]

    async def wearers(self) -> list[str]:
        found: set[str] = set()
        for queries in self._queries:
            found.update(await queries.wearers())
        return sorted(found)

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        """Every database's rows, measurement by measurement, oldest first."""
        out: dict[str, list[dict[str, Any]]] = {}
        for queries in self._queries:
            for measurement, rows in (await queries.export(wearer)).items():
                out.setdefault(measurement, []).extend(rows)
        for rows in out.values():
            rows.sort(key=lambda row: row.get("time", 0))
        return out

    async def delete(self, wearer: str) -> None:
        for queries in self._queries:
            await queries.delete(wearer)

    async def aclose(self) -> None:
        for sink in self._sinks:
            await sink.aclose()


def summed_responses(rows: list[ResponseRow]) -> list[ResponseRow]:
    """Prompt responses answered in parts (several databases, several periods) as one answer: per exercise summed,
    then ``"*"`` for all (``with_total``); the parts' own ``"*"`` rows are left out."""
    sums: dict[str, list[int]] = {}
    for row in rows:
        if row.exercise == "*":
            continue
        figures = (row.prompts, row.broke_1min, row.broke_3min, row.broke_5min, row.acked)
        sums[row.exercise] = [a + b for a, b in zip(sums.get(row.exercise, [0] * 5), figures, strict=True)]
    return with_total([ResponseRow(exercise, *figures) for exercise, figures in sums.items()])


def _weighted(rows: list[MinuteRow], field: str) -> float | None:
    known = [(getattr(r, field), r.frames) for r in rows if getattr(r, field) is not None]
    weight = sum(n for _, n in known)
    return None if not known or weight == 0 else sum(v * n for v, n in known) / weight


def merged_minutes(rows: list[MinuteRow]) -> list[MinuteRow]:
    """Minute rows from several databases in time order, one per minute: a minute whose frames were routed to two
    databases (consent changed within it) has its frames and steps summed and its means weighted by frames."""
    by_minute: dict[int, list[MinuteRow]] = {}
    for row in rows:
        by_minute.setdefault(row.t_ms, []).append(row)
    out = []
    for t_ms, parts in sorted(by_minute.items()):
        if len(parts) == 1:
            out.append(parts[0])
            continue
        out.append(
            MinuteRow(
                t_ms,
                sum(p.frames for p in parts),
                _weighted(parts, "incl_deg"),
                _weighted(parts, "lean_deg"),
                _weighted(parts, "enmo_mg"),
                sum(p.steps for p in parts),
            )
        )
    return out


class WalledQueries(WalledHoldings):
    """A wearer's own view across the wall (``kinetic serve`` without ``KINETIC_WEB__CLINIC``, ``kinetic report
    weekly`` without ``--clinic``): each query is asked of every database of the wall (the operations one, each
    clinic's, the private one; concurrently) and the answers merged in the order ``Queries`` promises. A point's
    database follows the roster and the consent at the point's own time, and a move between clinics (``kinetic data
    move``) may still be pending: asking every database keeps a day or a week whole whatever moved when. Needs a
    credential that reads every one of them (``kinetic_web``, ingest/store/access.py): any other is refused by
    InfluxDB, said in one line (SinkAuthError)."""

    async def _gather(self, ask: Callable[[Queries], Awaitable[list[Row]]]) -> list[Row]:
        try:
            parts = await asyncio.gather(*(ask(q) for q in self._queries))
        except SinkAuthError as exc:
            raise SinkAuthError(
                f"{exc}; a wearer's own view under the wall reads every database of the wall "
                f"({', '.join(self.databases)}): log in as kinetic_web (kinetic store provision)"
            ) from exc
        return [row for part in parts for row in part]

    async def _in_order(self, ask: Callable[[Queries], Awaitable[list[Row]]], key: Callable[[Row], Any]) -> list[Row]:
        return sorted(await self._gather(ask), key=key)

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        return await self._in_order(lambda q: q.sitting_bouts(wearer, start_ms, end_ms), _BY_END)

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]:
        return await self._in_order(lambda q: q.prompts(wearer, start_ms, end_ms), lambda r: (r.t_ms, r.id))

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        return merged_minutes(await self._gather(lambda q: q.minutes(wearer, start_ms, end_ms)))

    async def bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[PostureBoutRow]:
        return await self._in_order(lambda q: q.bouts(wearer, start_ms, end_ms), _BY_END)

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        return await self._in_order(lambda q: q.outcomes(wearer, start_ms, end_ms), _BY_TIME)

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        return await self._in_order(lambda q: q.prompt_events(wearer, start_ms, end_ms), lambda r: (r.t_ms, r.kind))

    async def devices(self, wearer: str) -> list[DeviceRow]:
        """Per device, the row of the database that saw it last (its newest status lives where it was routed)."""
        newest: dict[str, DeviceRow] = {}
        for row in await self._gather(lambda q: q.devices(wearer)):
            if row.device not in newest or row.last_seen_ms > newest[row.device].last_seen_ms:
                newest[row.device] = row
        return [newest[d] for d in sorted(newest)]

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        return await self._in_order(lambda q: q.hours(wearer, start_ms, end_ms), _BY_HOUR)

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        return summed_responses(await self._gather(lambda q: q.responses(wearer, start_ms, end_ms)))

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        return await self._in_order(lambda q: q.checkins(wearer, start_ms, end_ms), _BY_TIME)

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        return await self._in_order(lambda q: q.readiness(wearer, start_ms, end_ms), _BY_TIME)

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        return await self._in_order(lambda q: q.session_outcomes(wearer, start_ms, end_ms), _BY_TIME)

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        return await self._in_order(lambda q: q.prescriptions(wearer, start_ms, end_ms), _BY_TIME)
