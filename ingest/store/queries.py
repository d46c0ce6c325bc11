"""The query layer for dashboards, reports and data rights: the same questions answered by InfluxDB (InfluxQL on
the v1 ``/query`` API: 1.x, 2.4+ through the bucket mapping with a token, 3.x) and by the embedded store.

Flux is not used: InfluxDB 3 does not support it. This module is the port (the rows and the ``Queries`` protocol);
the two stores answer it in ``influxql_queries`` and ``embedded_queries``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ingest.errors import IngestError

MEASUREMENTS = (
    "features",
    "features_1m",
    "events",
    "prompts",
    "prompt_outcomes",
    "session_outcomes",
    "prescriptions",
    "device_status",
    "summary_1h",
    "checkins",
    "readiness",
)


@dataclass(frozen=True, slots=True)
class BoutRow:
    start_ms: int
    end_ms: int
    duration_s: float


@dataclass(frozen=True, slots=True)
class PromptRow:
    t_ms: int
    id: str
    trigger: str
    exercise: str


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """Prompt response for one exercise (or ``"*"`` for all): how many prompts, and how many were followed by a
    break within 1 / 3 / 5 min (docs/metrics.md)."""

    exercise: str
    prompts: int
    broke_1min: int
    broke_3min: int
    broke_5min: int
    acked: int

    def rate(self, minutes: int) -> float:
        return round(getattr(self, f"broke_{minutes}min") / self.prompts, 3) if self.prompts else 0.0


def with_total(rows: list[ResponseRow]) -> list[ResponseRow]:
    rows = sorted(rows, key=lambda r: r.exercise)
    sums = [sum(getattr(r, f) for r in rows) for f in ("prompts", "broke_1min", "broke_3min", "broke_5min", "acked")]
    return [*rows, ResponseRow("*", *sums)] if rows else []


SUMS = ("sum", "sum_1", "sum_2", "sum_3")


@dataclass(frozen=True, slots=True)
class PostureBoutRow:
    """A bout of any posture (``bout_ended`` events): sitting, standing, moving, lying; times in ms."""

    start_ms: int
    end_ms: int
    posture: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One prompt's outcome (``prompt_outcomes``, at the prompt's time): did the wearer break the bout within
    1 / 3 / 5 min, did they press Done (acked) or Snooze; ``outcome`` in words (ingest.store.model.outcome_text)."""

    t_ms: int
    prompt_id: str
    trigger: str
    exercise: str
    broke_1min: bool
    broke_3min: bool
    broke_5min: bool
    acked: bool
    snoozed: bool
    outcome: str


@dataclass(frozen=True, slots=True)
class PromptEventRow:
    """What the alert service decided about a prompt (``events``): ``prompt_sent`` (``reason`` 'held: <why>' when
    it waited first), ``prompt_held`` or ``prompt_cancelled`` (``reason``: why; no ``prompt_id``); ``bout_start_ms``
    is the bout's start, the same for a prompt and its re-prompt."""

    t_ms: int
    kind: str
    prompt_id: str | None
    trigger: str | None
    bout_start_ms: int | None
    reason: str | None


PROMPT_EVENT_KINDS = ("prompt_sent", "prompt_held", "prompt_cancelled")


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A wearer's sensor: its newest status (``state`` online/offline, ``placement``), its newest battery reading
    (percent) and when it was last seen (ms: the newer of its newest status and its newest feature frame)."""

    device: str
    state: str | None
    placement: str | None
    battery_pct: int | None
    last_seen_ms: int


def device_rows(
    statuses: dict[str, tuple[int, str | None, str | None]], batteries: dict[str, int], frames: dict[str, int]
) -> list[DeviceRow]:
    """Device rows from per-device parts: newest status (time, state, placement), battery, newest frame time."""
    rows = []
    for device in sorted(set(statuses) | set(frames)):
        status_ms, state, placement = statuses.get(device, (0, None, None))
        rows.append(DeviceRow(device, state, placement, batteries.get(device), max(status_ms, frames.get(device, 0))))
    return rows


@dataclass(frozen=True, slots=True)
class MinuteRow:
    t_ms: int  # start of the minute
    frames: int
    incl_deg: float | None
    lean_deg: float | None
    enmo_mg: float | None
    steps: int


@dataclass(frozen=True, slots=True)
class CheckInRow:
    """A check-in (``checkins``): pain 0-10 and stress level 0 low / 1 medium / 2 high, either may be absent."""

    t_ms: int
    pain: float | None
    stress_level: float | None


@dataclass(frozen=True, slots=True)
class ReadinessRow:
    """A day's readiness decision (``readiness``, at the time it was made): the day type, the reasons in words and
    the figures (rmssd_ms, ln_rmssd, lying_h, pain, ...; docs/metrics.md, "Readiness")."""

    t_ms: int
    day_type: str
    reason: str | None
    figures: dict[str, float]


@dataclass(frozen=True, slots=True)
class SessionRow:
    """An exercise session's outcome (``session_outcomes``, at its end; issue 19): the exercise, done / partial /
    skipped, why it is incomplete, and its figures (dose achieved and prescribed, quality, effort, pain:
    docs/wire.md)."""

    t_ms: int
    exercise: str
    outcome: str
    reason: str | None
    figures: dict[str, float]


@dataclass(frozen=True, slots=True)
class PrescriptionRow:
    """A prescription change or a progression proposal (``prescriptions``; issue 19): ``kind``
    (``prescription_changed`` / ``progression_proposed``), the exercise, the reason in words and the figures (the
    dose: sets, reps or hold_s, per_day or per_week, ...; a proposal's step and automatic; a removal's removed)."""

    t_ms: int
    kind: str
    exercise: str
    reason: str | None
    figures: dict[str, float]


class UnknownWearer(IngestError):
    """A wearer id nothing is stored for; the message names the wearers that have data (or says there are none)."""


def unknown_wearer(wearer: str, known: Iterable[str], where: str, most: int = 20) -> UnknownWearer:
    """The error for a wearer ``where`` holds nothing for, naming (at most ``most`` of) the ``known`` ones."""
    names = sorted(set(known))
    if not names:
        return UnknownWearer(f"wearer {wearer!r}: nothing is stored for this id in {where}, which holds no wearer yet")
    listed = ", ".join(names[:most]) + (f" (+{len(names) - most} more)" if len(names) > most else "")
    return UnknownWearer(f"wearer {wearer!r}: nothing is stored for this id in {where}; wearers with data: {listed}")


class Queries(Protocol):
    async def wearers(self) -> list[str]:
        """Every wearer with anything stored (any measurement), sorted."""
        ...

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]: ...

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]:
        """The prompts created in ``[start_ms, end_ms)``, in time order (then by id), whatever their trigger."""
        ...

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]: ...

    async def bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[PostureBoutRow]:
        """Every bout (any posture) that ended in ``[start_ms, end_ms)``, in time order."""
        ...

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        """Each prompt's outcome, for prompts created in ``[start_ms, end_ms)``, in time order."""
        ...

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        """Prompts sent, held and cancelled in ``[start_ms, end_ms)``, in time order (then by kind)."""
        ...

    async def devices(self, wearer: str) -> list[DeviceRow]:
        """The wearer's sensors (any with a status or a feature frame stored), by device id."""
        ...

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        """The hourly summaries (summary_1h): ``{"t_ms": hour start, metric: value, ...}`` in time order."""
        ...

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        """Prompt responses per exercise, then ``"*"`` for all, from ``prompt_outcomes``."""
        ...

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        """The wearer's check-ins in ``[start_ms, end_ms)``, in time order."""
        ...

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        """The readiness decisions made in ``[start_ms, end_ms)``, in time order."""
        ...

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        """The exercise sessions that ended in ``[start_ms, end_ms)``, in time order."""
        ...

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        """The prescription changes and progression proposals made in ``[start_ms, end_ms)``, in time order."""
        ...

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        """Everything stored for one wearer: measurement -> rows (``time`` in ms, tags, fields)."""
        ...

    async def delete(self, wearer: str) -> None: ...


def round_value(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
