"""Queries answered in parts (ingest/store/parted.py): the time-ranged queries listed once, each with the category it
reads and how its parts combine; and which databases of the wall a wearer's own view asks (ingest/store/walled.py)."""

from __future__ import annotations

import asyncio
import inspect
from typing import TypeVar

from ingest.store.parted import RANGED, PartedQueries, Ranged
from ingest.store.queries import BoutRow, MinuteRow, Queries, ResponseRow
from ingest.store.walled import wearer_databases
from ingest.wall import Wall

T0 = 1_764_000_000_000
Row = TypeVar("Row")


def test_every_time_ranged_query_of_the_protocol_is_answered_in_parts() -> None:
    ranged = {
        name
        for name, method in inspect.getmembers(Queries, inspect.isfunction)
        if list(inspect.signature(method).parameters) == ["self", "wearer", "start_ms", "end_ms"]
    }
    assert ranged == {name for name in vars(PartedQueries) if not name.startswith("_")}
    assert len(RANGED) == len(ranged)


class Halves(PartedQueries):
    """Asks ``source`` for each half of the range, the later half first (parts in any order)."""

    def __init__(self, source: object) -> None:
        self.source = source

    async def _parts(self, query: Ranged[Row], wearer: str, start_ms: int, end_ms: int) -> list[list[Row]]:
        mid = (start_ms + end_ms) // 2
        return [await query.ask(self.source, wearer, lo, hi) for lo, hi in ((mid, end_ms), (start_ms, mid))]  # type: ignore[arg-type]


class Store:
    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        return [BoutRow(start_ms, start_ms + 10, 0.01)]

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        return [MinuteRow(start_ms - start_ms % 60_000, 1, 1.0, 1.0, 1.0, 1)]  # a minute cut in two: both parts

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        return [ResponseRow("chin-tuck", 1, 1, 1, 1, 0), ResponseRow("*", 1, 1, 1, 1, 0)]


def test_parts_combine_in_the_order_queries_promise() -> None:
    q = Halves(Store())
    assert [b.start_ms for b in asyncio.run(q.sitting_bouts("ann", 0, 100))] == [0, 50]
    assert asyncio.run(q.minutes("ann", 0, 60_000)) == [MinuteRow(0, 2, 1.0, 1.0, 1.0, 2)]
    assert asyncio.run(q.responses("ann", 0, 100))[-1] == ResponseRow("*", 2, 2, 2, 2, 0)


def test_a_wearers_own_view_asks_the_databases_their_roster_and_grants_name() -> None:
    wall = Wall("k", {"ann": "clinic-b", "bob": "clinic-b", "carl": "clinic-a", "dora": "clinic-c"})
    # ann moved from A to B: her stored grant to A names A's database, the roster B's
    assert wearer_databases(wall, "ann", {"clinic-a"}) == ["k_private", "k_clinic_a", "k_clinic_b", "k"]
    assert wearer_databases(wall, "bob", set()) == ["k_private", "k_clinic_b", "k"]  # never in A's or C's
    assert wearer_databases(wall, "eve", set()) == [
        "k_private",
        "k",
    ]  # in no clinic (and "k": the database of before the wall)
    wall.consent.grant("eve", "clinic-c", frozenset({"posture"}), T0, None)  # the book the caller has counts too
    assert wearer_databases(wall, "eve", set()) == ["k_private", "k_clinic_c", "k"]
    assert wearer_databases(wall, "eve", {"gone"}) == [
        "k_private",
        "k_clinic_c",
        "k",
    ]  # a clinic the file dropped: no db
