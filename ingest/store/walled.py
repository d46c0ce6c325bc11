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
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ingest.errors import SinkAuthError
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.parted import PartedQueries, Ranged
from ingest.store.queries import DeviceRow
from ingest.wall import Wall
from ingest.wire import check_id

if TYPE_CHECKING:
    from ingest.store.queries import Queries

# how long a wearer's grants read from the store serve the queries that follow (a page's): see WalledQueries
GRANTS_FRESH_S = 5.0
Row = TypeVar("Row")
Part = TypeVar("Part")
T = TypeVar("T")


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


class WalledQueries(WalledHoldings, PartedQueries):
    """A wearer's own view across the wall (``kinetic serve`` without ``KINETIC_WEB__CLINIC``, ``kinetic report
    weekly`` without ``--clinic``): each query is asked of every database the wearer's points may be in
    (``wearer_databases``: the private one, their clinic's by the roster, each clinic a grant of theirs names;
    concurrently) and the answers merged in the order ``Queries`` promises (``ingest.store.parted``). A point's
    database follows the roster and the consent at the point's own time, and a move between clinics (``kinetic data
    move``) may still be pending: asking each database the wearer was ever routed to keeps a day or a week whole
    whatever moved when.

    The grants are read from the wearer's stored consent events (``consent_granted``, in the private database: the
    bridge stores each consent event it routes by, ingest/bridge.py), asked beside the query itself; a clinic they
    name that was not asked yet is asked then, and remembered. A page asks many ranged queries (the weekly report
    behind a Week page ten, for a week with data: tests/integration/ingest/test_walled_grants.py), so a read serves
    the queries of the next ``GRANTS_FRESH_S`` (queries at once share one read): the private database is asked for
    the grants once, not beside every query. That can delay only a *new* grant's database being asked, by at most
    ``GRANTS_FRESH_S``: less than a sensor's batch period (``KINETIC_COLLECTOR__BATCH_S``, 10 s), the delay its
    points have anyway. A withdrawal never names a database less (stored grants are never forgotten: what a
    clinic's database still holds of the wearer is theirs), and what it takes back (``--delete-shared``,
    ingest/store/reroute.py) is read where it is now at the next query: no point is cached. The consent records
    file is not what routing followed (a wearer's own login may publish a change from elsewhere,
    ``deploy/mosquitto/acl``), so it is not used; ``wall.consent`` adds what it holds. Not asked: clinics the
    clinics file no longer lists (their databases are outside the wall). Needs a credential that reads every
    database of the wall (``kinetic_web``, ingest/store/access.py): any other is refused by InfluxDB, said in one
    line (SinkAuthError)."""

    def __init__(self, settings: InfluxSettings, wall: Wall, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(settings, wall)
        self.wall = wall
        self.clock = clock  # seconds, monotonic: the age of a grants read
        self._by_database = dict(zip(self.databases, self._queries, strict=True))
        self._private = self._sinks[self.databases.index(wall.private)]
        # wearer -> (when the read began, the clinics their stored grants named): the last read that answered
        self._granted: dict[str, tuple[float, set[str]]] = {}
        self._reading: dict[str, asyncio.Future[set[str]]] = {}  # wearer -> the grants read under way

    async def granted_clinics(self, wearer: str) -> set[str]:
        """The clinics ``wearer``'s stored ``consent_granted`` events name (the private database)."""
        result = await self._private.query(
            f'SELECT "clinic" FROM "events" WHERE "wearer" = \'{check_id(wearer)}\' AND "kind" = \'consent_granted\''
        )
        clinics: set[str] = set()
        for statement in result.get("results", []):
            for series in statement.get("series", []):
                column = series["columns"].index("clinic")
                clinics.update(str(row[column]) for row in series.get("values", []) if row[column] is not None)
        return clinics

    async def asked(self, wearer: str) -> list[str]:
        """The databases a query for ``wearer`` asks now (``wearer_databases``, their stored grants read again)."""
        return wearer_databases(self.wall, wearer, await self.granted_clinics(wearer))

    async def _gather(self, asks: list[Awaitable[Part]]) -> list[Part]:
        return list(await self._explained(asyncio.gather(*asks)))

    async def _explained(self, ask: Awaitable[T]) -> T:
        """``ask``'s answer; a refusal by InfluxDB says which credential the wearer's own view needs."""
        try:
            return await ask
        except SinkAuthError as exc:
            raise SinkAuthError(
                f"{exc}; a wearer's own view under the wall reads every database of the wall "
                f"({', '.join(self.databases)}): log in as kinetic_web (1.x) or with the web token (2.x, "
                "influxdb_web_token), both made by kinetic store provision"
            ) from exc

    async def _each(self, wearer: str, ask: Callable[[Queries], Awaitable[list[Row]]]) -> list[list[Row]]:
        """``ask`` of each database ``wearer``'s points may be in: those known; with the stored grants read beside
        them unless a read began less than ``GRANTS_FRESH_S`` ago; then any a grant newly names."""
        at, known_grants = self._granted.get(wearer, (-math.inf, set()))
        known = wearer_databases(self.wall, wearer, known_grants)
        asked = [ask(self._by_database[db]) for db in known]
        if self.clock() - at < GRANTS_FRESH_S:
            return await self._gather(asked)
        granted, parts = await asyncio.gather(self._grants(wearer), self._gather(asked))
        late = [db for db in wearer_databases(self.wall, wearer, granted) if db not in known]
        return parts + (await self._gather([ask(self._by_database[db]) for db in late]) if late else [])

    async def _grants(self, wearer: str) -> set[str]:
        """The clinics ``wearer``'s stored grants name, read once for every query that asks while the read is under
        way, and kept (``_granted``) when it answers; a read that fails is not kept (the next query reads again)."""
        reading = self._reading.get(wearer)
        if reading is None:
            began = self.clock()

            async def read() -> set[str]:
                try:
                    granted = await self._explained(self.granted_clinics(wearer))
                finally:
                    del self._reading[wearer]
                self._granted[wearer] = (began, granted)
                return granted

            reading = self._reading[wearer] = asyncio.ensure_future(read())
        return set(await asyncio.shield(reading))

    async def _parts(self, query: Ranged[Row], wearer: str, start_ms: int, end_ms: int) -> list[list[Row]]:
        return await self._each(wearer, lambda q: query.ask(q, wearer, start_ms, end_ms))

    async def devices(self, wearer: str) -> list[DeviceRow]:
        """Per device, the row of the database that saw it last (its newest status lives where it was routed)."""
        newest: dict[str, DeviceRow] = {}
        for part in await self._each(wearer, lambda q: q.devices(wearer)):
            for row in part:
                if row.device not in newest or row.last_seen_ms > newest[row.device].last_seen_ms:
                    newest[row.device] = row
        return [newest[d] for d in sorted(newest)]


def wearer_databases(wall: Wall, wearer: str, granted: set[str]) -> list[str]:
    """The databases of ``wall`` ``wearer``'s points may be in: the private one; their clinic's by the roster; each
    clinic's of ``granted`` (the clinics their grants name) and of ``wall.consent``'s grants for them, when the
    roster lists the clinic (a database the wall has). A point goes to a clinic's database only when a grant to that
    clinic covers it (``Wall.database_for``) or a move put it where the roster and a grant say
    (ingest/store/reroute.py); last, the operations database (``wall.base``): under the wall it holds no wearer's
    point, but it is the database of before the wall (one ``KINETIC_INFLUX__DATABASE``), so a deployment that turned
    the wall on later finds the wearer's earlier days there. Pure."""
    clinics = set(granted) | {g.clinic for g in wall.consent.grants.get(wearer, ())}
    if wearer in wall.roster:
        clinics.add(wall.roster[wearer])
    by_clinic = wall.clinic_databases()
    return [wall.private, *(by_clinic[c] for c in sorted(clinics) if c in by_clinic), wall.base]
