"""The wearer's own view across the wall reads their stored grants once per page, not beside every query (h-mend12,
item 5), on real influxd 1.x. Before, ``WalledQueries`` asked the private database for the grants beside each ranged
query: the weekly report behind a Week page asked it once per query. Now a read serves the queries of the next
``GRANTS_FRESH_S``; what a withdrawal takes back is gone from the next page at once (no point is cached), and a new
grant's database is asked once the read is that old."""

from __future__ import annotations

import asyncio

import pytest

from dashboards.report.weekly import weekly_report
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.points import Point
from ingest.store.reroute import reroute
from ingest.store.walled import GRANTS_FRESH_S, WalledQueries
from ingest.wall import Wall
from tests.support.servers import Server

pytestmark = pytest.mark.integration
MONDAY_MS = 1_795_424_400_000  # 2026-11-23T09:00:00Z, ISO week 2026-W48
WEEK_END_MS = MONDAY_MS + 7 * 86_400_000
ROSTER = {"carl": "clinic-a", "ann": "clinic-b", "dora": "clinic-c"}


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def minute(t_ms: int) -> list[Point]:
    """A minute of ann's sitting and its hour's summary, as the bridge stores them."""
    tags = {"wearer": "ann", "device": "ann-thigh", "placement": "thigh"}
    fields = {"incl_deg": 80.0, "lean_deg": 4.0, "enmo_mg": 2.0, "steps": 0}
    hour = Point.make("summary_1h", {"wearer": "ann"}, {"sitting_s": 60.0, "breaks": 1.0}, t_ms)
    return [hour, *(Point.make("features", tags, fields, t_ms + 1000 * i) for i in range(60))]


def grant(clinic: str, t_ms: int) -> Point:
    return Point.make(
        "events", {"wearer": "ann", "kind": "consent_granted"}, {"clinic": clinic, "data": "posture"}, t_ms
    )


def test_a_page_reads_the_grants_once_and_a_withdrawal_takes_effect_at_the_next_page(
    influxd: Server, unique: str
) -> None:
    wall = Wall(unique, ROSTER)
    settings = InfluxSettings(url=influxd.url, database=unique, create_database=True, raw_retention_days=30)
    clock = Clock()

    async def scenario() -> None:
        operator = InfluxV1Sink(settings)
        walled = WalledQueries(settings, wall, clock=clock)
        reads: list[str] = []
        read_grants = walled.granted_clinics

        async def counted(wearer: str) -> set[str]:
            reads.append(wearer)
            return await read_grants(wearer)

        walled.granted_clinics = counted  # type: ignore[method-assign]
        try:
            for database in [wall.base, *wall.databases()]:
                await operator.create_database(database)
            clinic_a, private = wall.clinic_databases()["clinic-a"], wall.private
            # ann shared Monday with clinic A (not her roster's clinic): the bridge routed it there, and kept the grant
            await operator.write_to(clinic_a, operator.encode(minute(MONDAY_MS)))
            await operator.write_to(private, operator.encode([grant("clinic-a", MONDAY_MS - 60_000)]))

            report = await weekly_report(walled, "ann", "2026-W48", "UTC")
            assert reads == ["ann"]  # one read for the report's queries, not one per query
            assert report.days[0].has_data  # Monday, from clinic A's database
            assert len(await walled.minutes("ann", MONDAY_MS, WEEK_END_MS)) == 1

            # the withdrawal with the shared copy taken back (kinetic consent withdraw --delete-shared): the consent
            # now routes Monday to the private database, and reroute moves it there
            moved = await reroute(operator, Wall(unique, ROSTER), "ann")
            assert moved.total > 0
            assert await walled._by_database[clinic_a].minutes("ann", MONDAY_MS, WEEK_END_MS) == []
            assert len(await walled.minutes("ann", MONDAY_MS, WEEK_END_MS)) == 1  # her own minute, now private
            assert reads == ["ann"]  # the same page's time: no read again, and nothing of clinic A's kept

            # a grant to clinic C: its database is asked once the last read is GRANTS_FRESH_S old
            clinic_c = wall.clinic_databases()["clinic-c"]
            await operator.write_to(clinic_c, operator.encode(minute(MONDAY_MS + 86_400_000)))
            await operator.write_to(private, operator.encode([grant("clinic-c", MONDAY_MS)]))
            assert len(await walled.minutes("ann", MONDAY_MS, WEEK_END_MS)) == 1
            clock.now_s += GRANTS_FRESH_S
            assert len(await walled.minutes("ann", MONDAY_MS, WEEK_END_MS)) == 2  # Tuesday, from clinic C's
            assert reads == ["ann", "ann"]

            # queries at once share one read
            clock.now_s += GRANTS_FRESH_S
            await asyncio.gather(*(walled.hours("ann", MONDAY_MS, WEEK_END_MS) for _ in range(5)))
            assert reads == ["ann", "ann", "ann"]
        finally:
            await walled.aclose()
            await operator.aclose()

    asyncio.run(scenario())
