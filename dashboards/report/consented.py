"""What a clinic may read of a wearer's data, by their consent record (issue 20): a ``Queries`` that answers only for
the categories the wearer grants the clinic and only for the times the grants cover.

``kinetic report weekly --clinic C`` reads through it, with the wall between clinics or without (one shared
database, where the store itself would hand C every category): each query is asked only for the parts of its time
range that a grant to C of its category covers (``ConsentBook.periods``, the record's meaning: ``ingest/wall.py``),
so a check-in, an exercise session or a posture hour recorded outside such a grant never reaches the clinic's
report (the parts put together as ``ingest.store.parted`` says for each query). The categories (``ingest/wall.py``;
each query's: ``ingest.store.parted``): ``posture`` (hourly summaries, minutes, bouts, prompts, their events,
outcomes and responses, devices), ``checkins`` (check-ins, readiness), ``exercise`` (sessions, prescriptions).
A row belongs to the time the store files it under (a bout: its end; a prompt's outcome: the prompt's creation).
"""

from __future__ import annotations

from typing import Any, TypeVar

from ingest.errors import ConfigError
from ingest.store.parted import PartedQueries, Ranged
from ingest.store.queries import DeviceRow, Queries
from ingest.wall import Category, ConsentBook, within

Row = TypeVar("Row")


class ConsentedQueries(PartedQueries):
    """``queries`` as ``clinic`` may read them: ``wearer``'s rows of each category only inside the periods ``book``
    grants the clinic that category; any other wearer: nothing."""

    def __init__(self, queries: Queries, wearer: str, clinic: str, book: ConsentBook) -> None:
        self.queries = queries
        self.wearer = wearer
        self.clinic = clinic
        self.book = book

    def spans(self, wearer: str, category: Category, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """The parts of ``[start_ms, end_ms)`` the clinic may read of ``wearer``'s ``category``."""
        if wearer != self.wearer:
            return []
        return within(self.book.periods(wearer, self.clinic, category), start_ms, end_ms)

    async def _parts(self, query: Ranged[Row], wearer: str, start_ms: int, end_ms: int) -> list[list[Row]]:
        """``query`` for each part of the range the clinic may read of its category, in time order."""
        return [
            await query.ask(self.queries, wearer, lo, hi)
            for lo, hi in self.spans(wearer, query.category, start_ms, end_ms)
        ]

    async def wearers(self) -> list[str]:
        return [w for w in await self.queries.wearers() if w == self.wearer]

    async def devices(self, wearer: str) -> list[DeviceRow]:
        """The wearer's sensors, when any posture data is granted (a sensor is how posture is recorded)."""
        if wearer != self.wearer or not self.book.periods(wearer, self.clinic, "posture"):
            return []
        return await self.queries.devices(wearer)

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        raise ConfigError(f"clinic {self.clinic}'s read exports nothing: export is the wearer's (kinetic data export)")

    async def delete(self, wearer: str) -> None:
        raise ConfigError(f"clinic {self.clinic}'s read erases nothing: erasure is the wearer's (kinetic data delete)")
