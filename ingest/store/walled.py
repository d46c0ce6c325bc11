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

from typing import Any

from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wall import Wall


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
