"""Report queries on the embedded SQLite store: the same answers as InfluxQL
(tests/integration/ingest/test_queries.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ingest.store.queries import (
    MEASUREMENTS,
    PROMPT_EVENT_KINDS,
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
    device_rows,
    round_value,
    with_total,
)
from ingest.wire import check_id


class EmbeddedQueries:
    """The same questions over the embedded SQLite store."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()  # one statement at a time on the connection

    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Run one query in a worker thread: a week of per-second frames is a scan the event loop (the web app's
        live streams) should not wait on."""

        def run() -> list[tuple[Any, ...]]:
            with self._lock:
                return list(self._db.execute(sql, args))

        return await asyncio.to_thread(run)

    async def wearers(self) -> list[str]:
        marks = ",".join("?" * len(MEASUREMENTS))
        rows = await self._fetch(
            f"SELECT DISTINCT json_extract(tags, '$.wearer') FROM points WHERE measurement IN ({marks})", *MEASUREMENTS
        )
        return sorted(str(r[0]) for r in rows if r[0] is not None)

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        rows = await self._fetch(
            "SELECT json_extract(fields, '$.bout_start_ms'), t_ms, json_extract(fields, '$.duration_s') FROM points "
            "WHERE measurement = 'events' AND json_extract(tags, '$.wearer') = ? AND json_extract(tags, '$.kind') = "
            "'bout_ended' AND json_extract(fields, '$.posture') = 'sitting' AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [BoutRow(int(a), int(b), float(c)) for a, b, c in rows]

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]:
        rows = await self._fetch(
            "SELECT t_ms, json_extract(fields, '$.id'), json_extract(tags, '$.trigger'), "
            "json_extract(fields, '$.exercise') FROM points WHERE measurement = 'prompts' AND "
            "json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? ORDER BY t_ms, 2",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [PromptRow(int(t), str(i), str(tr), str(ex)) for t, i, tr, ex in rows]

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        rows = await self._fetch(
            "SELECT (t_ms / 60000) * 60000 AS minute, COUNT(json_extract(fields, '$.incl_deg')), "
            "AVG(json_extract(fields, '$.incl_deg')), AVG(json_extract(fields, '$.lean_deg')), "
            "AVG(json_extract(fields, '$.enmo_mg')), SUM(json_extract(fields, '$.steps')) FROM points "
            "WHERE measurement = 'features' AND json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? "
            "GROUP BY minute ORDER BY minute",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [
            MinuteRow(int(m), int(n), round_value(i), round_value(le), round_value(e), int(s or 0))
            for m, n, i, le, e, s in rows
        ]

    async def bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[PostureBoutRow]:
        rows = await self._fetch(
            "SELECT json_extract(fields, '$.bout_start_ms'), t_ms, json_extract(fields, '$.posture'), "
            "json_extract(fields, '$.duration_s') FROM points WHERE measurement = 'events' AND "
            "json_extract(tags, '$.wearer') = ? AND json_extract(tags, '$.kind') = 'bout_ended' AND t_ms >= ? "
            "AND t_ms < ? ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [PostureBoutRow(int(a), int(b), str(p), float(d)) for a, b, p, d in rows]

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        rows = await self._fetch(
            "SELECT t_ms, tags, fields FROM points WHERE measurement = 'prompt_outcomes' AND "
            "json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        out = []
        for t, tags_text, fields_text in rows:
            tags, fields = json.loads(tags_text), json.loads(fields_text)
            out.append(
                OutcomeRow(
                    int(t),
                    str(fields.get("prompt_id", "")),
                    str(tags.get("trigger", "")),
                    str(tags.get("exercise", "")),
                    broke_1min=bool(fields.get("broke_1min")),
                    broke_3min=bool(fields.get("broke_3min")),
                    broke_5min=bool(fields.get("broke_5min")),
                    acked=bool(fields.get("acked")),
                    snoozed=bool(fields.get("snoozed")),
                    outcome=str(fields.get("outcome", "")),
                )
            )
        return out

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        rows = await self._fetch(
            "SELECT t_ms, json_extract(tags, '$.kind'), json_extract(fields, '$.prompt_id'), json_extract(fields, "
            "'$.trigger'), json_extract(fields, '$.bout_start_ms'), json_extract(fields, '$.reason') "
            "FROM points WHERE measurement = 'events' AND json_extract(tags, '$.wearer') = ? AND "
            "json_extract(tags, '$.kind') IN (?, ?, ?) AND t_ms >= ? AND t_ms < ? ORDER BY t_ms, 2",
            check_id(wearer),
            *PROMPT_EVENT_KINDS,
            start_ms,
            end_ms,
        )
        return [PromptEventRow(int(t), str(k), p, tr, None if b is None else int(b), r) for t, k, p, tr, b, r in rows]

    async def devices(self, wearer: str) -> list[DeviceRow]:
        wearer = check_id(wearer)
        statuses: dict[str, tuple[int, str | None, str | None]] = {}
        batteries: dict[str, int] = {}
        for t, device, state, placement, battery in await self._fetch(
            "SELECT t_ms, json_extract(tags, '$.device'), json_extract(fields, '$.state'), "
            "json_extract(fields, '$.placement'), json_extract(fields, '$.battery_pct') FROM points "
            "WHERE measurement = 'device_status' AND json_extract(tags, '$.wearer') = ? ORDER BY t_ms",
            wearer,
        ):
            statuses[str(device)] = (int(t), state, placement)
            if battery is not None:
                batteries[str(device)] = int(battery)
        frames = {
            str(device): int(t)
            for device, t in await self._fetch(
                "SELECT json_extract(tags, '$.device'), MAX(t_ms) FROM points WHERE measurement = 'features' "
                "AND json_extract(tags, '$.wearer') = ? GROUP BY 1",
                wearer,
            )
        }
        return device_rows(statuses, batteries, frames)

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        rows = await self._fetch(
            "SELECT t_ms, fields FROM points WHERE measurement = 'summary_1h' AND json_extract(tags, '$.wearer') = ? "
            "AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [{"t_ms": float(t), **{k: float(v) for k, v in json.loads(f).items()}} for t, f in rows]

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        rows = await self._fetch(
            "SELECT json_extract(tags, '$.exercise'), COUNT(*), SUM(json_extract(fields, '$.broke_1min')), "
            "SUM(json_extract(fields, '$.broke_3min')), SUM(json_extract(fields, '$.broke_5min')), "
            "SUM(json_extract(fields, '$.acked')) FROM points WHERE measurement = 'prompt_outcomes' "
            "AND json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? GROUP BY 1",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return with_total([ResponseRow(str(e), int(n), *(int(v or 0) for v in rest)) for e, n, *rest in rows])

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        rows = await self._fetch(
            "SELECT t_ms, json_extract(fields, '$.pain'), json_extract(fields, '$.stress_level') FROM points "
            "WHERE measurement = 'checkins' AND json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? "
            "ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [CheckInRow(int(t), _float(p), _float(s)) for t, p, s in rows]

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        rows = await self._fetch(
            "SELECT t_ms, json_extract(tags, '$.day_type'), fields FROM points WHERE measurement = 'readiness' "
            "AND json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        out = []
        for t, day_type, raw in rows:
            reason, figures = _reason_and_figures(raw)
            out.append(ReadinessRow(int(t), str(day_type), reason, figures))
        return out

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        rows = await self._fetch(
            "SELECT t_ms, json_extract(tags, '$.exercise'), json_extract(tags, '$.outcome'), fields FROM points "
            "WHERE measurement = 'session_outcomes' AND json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? "
            "ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        out = []
        for t, exercise, outcome, raw in rows:
            reason, figures = _reason_and_figures(raw)
            out.append(SessionRow(int(t), str(exercise or ""), str(outcome or ""), reason, figures))
        return out

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        rows = await self._fetch(
            "SELECT t_ms, json_extract(tags, '$.kind'), json_extract(tags, '$.exercise'), fields FROM points "
            "WHERE measurement = 'prescriptions' AND json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? "
            "ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        out = []
        for t, kind, exercise, raw in rows:
            reason, figures = _reason_and_figures(raw)
            out.append(PrescriptionRow(int(t), str(kind or ""), str(exercise or ""), reason, figures))
        return out

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for measurement in MEASUREMENTS:
            rows = await self._fetch(
                "SELECT t_ms, tags, fields FROM points WHERE measurement = ? AND json_extract(tags, '$.wearer') = ? "
                "ORDER BY t_ms, series",
                measurement,
                check_id(wearer),
            )
            out[measurement] = [{"time": t, **json.loads(tags), **json.loads(fields)} for t, tags, fields in rows]
        return out

    async def delete(self, wearer: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM points WHERE json_extract(tags, '$.wearer') = ?", (check_id(wearer),))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _reason_and_figures(raw: str) -> tuple[str | None, dict[str, float]]:
    """A point's JSON fields -> its ``reason`` (text, or None) and its numeric fields (text fields left out)."""
    fields = json.loads(raw)
    reason = fields.pop("reason", None)
    return reason, {k: float(v) for k, v in fields.items() if isinstance(v, int | float)}
