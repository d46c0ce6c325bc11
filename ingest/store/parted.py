"""A ``Queries`` answered in parts (the port: ``ingest.store.queries``): each time-ranged query is asked of some
other ``Queries`` in parts, and the parts' rows put together into the one answer the protocol promises.

Two read paths work this way: across the wall's databases (``ingest.store.walled.WalledQueries``: a part per
database a wearer's points may be in) and a clinic's read by consent (``dashboards.report.consented``: a part per
period a grant of the query's category covers). ``PartedQueries`` lists the time-ranged methods once; a subclass says
how to cut a query into parts (``_parts``) and answers the others (``wearers``, ``devices``, ``export``,
``delete``) itself. Each query's ``Ranged`` names its category of data (``ingest.wall``: what a grant covers) and how
its parts combine (``combine``: rows in the order ``Queries`` promises; a minute two parts hold as one minute;
responses summed per exercise).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ingest.store.queries import (
    BoutRow,
    CheckInRow,
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

if TYPE_CHECKING:
    from ingest.store.queries import Queries
    from ingest.wall import Category

Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Ranged(Generic[Row]):
    """One time-ranged query of ``Queries``: the ``category`` of data it reads (ingest/wall.py), how to ask a
    ``Queries`` it (``ask(queries, wearer, start_ms, end_ms)``) and how the parts' rows, concatenated, become its
    answer (``combine``)."""

    category: Category
    ask: Callable[[Queries, str, int, int], Awaitable[list[Row]]]
    combine: Callable[[list[Row]], list[Row]]


def in_order(key: Callable[[Any], Any]) -> Callable[[list[Row]], list[Row]]:
    """Parts' rows sorted by ``key`` (stable: each part's own order kept among equal keys)."""

    def combine(rows: list[Row]) -> list[Row]:
        return sorted(rows, key=key)

    return combine


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
    """Minute rows from several parts in time order, one per minute: a minute whose frames were routed to two
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


_BY_TIME = attrgetter("t_ms")  # each row type's time, the order Queries promises (a bout: its end)
_BY_END = attrgetter("end_ms")


def _by_hour(row: dict[str, float]) -> float:
    return row["t_ms"]


SITTING_BOUTS: Ranged[BoutRow] = Ranged("posture", lambda q, w, s, e: q.sitting_bouts(w, s, e), in_order(_BY_END))
PROMPTS: Ranged[PromptRow] = Ranged(
    "posture", lambda q, w, s, e: q.prompts(w, s, e), in_order(attrgetter("t_ms", "id"))
)
MINUTES: Ranged[MinuteRow] = Ranged("posture", lambda q, w, s, e: q.minutes(w, s, e), merged_minutes)
BOUTS: Ranged[PostureBoutRow] = Ranged("posture", lambda q, w, s, e: q.bouts(w, s, e), in_order(_BY_END))
OUTCOMES: Ranged[OutcomeRow] = Ranged("posture", lambda q, w, s, e: q.outcomes(w, s, e), in_order(_BY_TIME))
PROMPT_EVENTS: Ranged[PromptEventRow] = Ranged(
    "posture", lambda q, w, s, e: q.prompt_events(w, s, e), in_order(attrgetter("t_ms", "kind"))
)
HOURS: Ranged[dict[str, float]] = Ranged("posture", lambda q, w, s, e: q.hours(w, s, e), in_order(_by_hour))
RESPONSES: Ranged[ResponseRow] = Ranged("posture", lambda q, w, s, e: q.responses(w, s, e), summed_responses)
CHECKINS: Ranged[CheckInRow] = Ranged("checkins", lambda q, w, s, e: q.checkins(w, s, e), in_order(_BY_TIME))
READINESS: Ranged[ReadinessRow] = Ranged("checkins", lambda q, w, s, e: q.readiness(w, s, e), in_order(_BY_TIME))
SESSION_OUTCOMES: Ranged[SessionRow] = Ranged(
    "exercise", lambda q, w, s, e: q.session_outcomes(w, s, e), in_order(_BY_TIME)
)
PRESCRIPTIONS: Ranged[PrescriptionRow] = Ranged(
    "exercise", lambda q, w, s, e: q.prescriptions(w, s, e), in_order(_BY_TIME)
)
RANGED: tuple[Ranged[Any], ...] = (
    SITTING_BOUTS,
    PROMPTS,
    MINUTES,
    BOUTS,
    OUTCOMES,
    PROMPT_EVENTS,
    HOURS,
    RESPONSES,
    CHECKINS,
    READINESS,
    SESSION_OUTCOMES,
    PRESCRIPTIONS,
)


class PartedQueries(ABC):
    """The time-ranged methods of ``Queries``, each ``_parts`` of its ``Ranged`` put together by its ``combine``."""

    @abstractmethod
    async def _parts(self, query: Ranged[Row], wearer: str, start_ms: int, end_ms: int) -> list[list[Row]]:
        """``query`` asked in parts: each part's rows, as the ``Queries`` asked answered them."""

    async def _ranged(self, query: Ranged[Row], wearer: str, start_ms: int, end_ms: int) -> list[Row]:
        parts = await self._parts(query, wearer, start_ms, end_ms)
        return query.combine([row for part in parts for row in part])

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        return await self._ranged(SITTING_BOUTS, wearer, start_ms, end_ms)

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]:
        return await self._ranged(PROMPTS, wearer, start_ms, end_ms)

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        return await self._ranged(MINUTES, wearer, start_ms, end_ms)

    async def bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[PostureBoutRow]:
        return await self._ranged(BOUTS, wearer, start_ms, end_ms)

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        return await self._ranged(OUTCOMES, wearer, start_ms, end_ms)

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        return await self._ranged(PROMPT_EVENTS, wearer, start_ms, end_ms)

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        return await self._ranged(HOURS, wearer, start_ms, end_ms)

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        """Per exercise, summed over the parts, then ``"*"`` for all."""
        return await self._ranged(RESPONSES, wearer, start_ms, end_ms)

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        return await self._ranged(CHECKINS, wearer, start_ms, end_ms)

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        return await self._ranged(READINESS, wearer, start_ms, end_ms)

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        return await self._ranged(SESSION_OUTCOMES, wearer, start_ms, end_ms)

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        return await self._ranged(PRESCRIPTIONS, wearer, start_ms, end_ms)
