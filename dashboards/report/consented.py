"""What a clinic may read of a wearer's data, by their consent record (issue 20): a ``Queries`` that answers only for
the categories the wearer grants the clinic and only for the times the grants cover.

``kinetic report weekly --clinic C`` reads through it, with the wall between clinics or without (one shared
database, where the store itself would hand C every category): each query is asked only for the parts of its time
range that a grant to C of its category covers (``ConsentBook.periods``, the record's meaning: ``ingest/wall.py``),
so a check-in, an exercise session or a posture hour recorded outside such a grant never reaches the clinic's
report. The categories (``ingest/wall.py``): ``posture`` (hourly summaries, minutes, bouts, prompts, their events,
outcomes and responses, devices), ``checkins`` (check-ins, readiness), ``exercise`` (sessions, prescriptions).
A row belongs to the time the store files it under (a bout: its end; a prompt's outcome: the prompt's creation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ingest.errors import ConfigError
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
    Queries,
    ReadinessRow,
    ResponseRow,
    SessionRow,
)
from ingest.store.walled import summed_responses
from ingest.wall import Category, ConsentBook, within

Row = TypeVar("Row")


class ConsentedQueries:
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

    async def _ask(
        self,
        category: Category,
        ask: Callable[[str, int, int], Awaitable[list[Row]]],
        wearer: str,
        start_ms: int,
        end_ms: int,
    ) -> list[Row]:
        rows: list[Row] = []
        for lo, hi in self.spans(wearer, category, start_ms, end_ms):
            rows.extend(await ask(wearer, lo, hi))
        return rows

    async def wearers(self) -> list[str]:
        return [w for w in await self.queries.wearers() if w == self.wearer]

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        return await self._ask("posture", self.queries.sitting_bouts, wearer, start_ms, end_ms)

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]:
        return await self._ask("posture", self.queries.prompts, wearer, start_ms, end_ms)

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        return await self._ask("posture", self.queries.minutes, wearer, start_ms, end_ms)

    async def bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[PostureBoutRow]:
        return await self._ask("posture", self.queries.bouts, wearer, start_ms, end_ms)

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        return await self._ask("posture", self.queries.outcomes, wearer, start_ms, end_ms)

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        return await self._ask("posture", self.queries.prompt_events, wearer, start_ms, end_ms)

    async def devices(self, wearer: str) -> list[DeviceRow]:
        """The wearer's sensors, when any posture data is granted (a sensor is how posture is recorded)."""
        if wearer != self.wearer or not self.book.periods(wearer, self.clinic, "posture"):
            return []
        return await self.queries.devices(wearer)

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        return await self._ask("posture", self.queries.hours, wearer, start_ms, end_ms)

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        """Per exercise, summed over the granted parts of the range, then ``"*"`` for all."""
        return summed_responses(await self._ask("posture", self.queries.responses, wearer, start_ms, end_ms))

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        return await self._ask("checkins", self.queries.checkins, wearer, start_ms, end_ms)

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        return await self._ask("checkins", self.queries.readiness, wearer, start_ms, end_ms)

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        return await self._ask("exercise", self.queries.session_outcomes, wearer, start_ms, end_ms)

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        return await self._ask("exercise", self.queries.prescriptions, wearer, start_ms, end_ms)

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        raise ConfigError(f"clinic {self.clinic}'s read exports nothing: export is the wearer's (kinetic data export)")

    async def delete(self, wearer: str) -> None:
        raise ConfigError(f"clinic {self.clinic}'s read erases nothing: erasure is the wearer's (kinetic data delete)")
