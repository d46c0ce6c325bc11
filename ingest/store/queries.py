"""The query layer for dashboards, reports and data rights: the same questions answered by InfluxDB (InfluxQL on
the v1 ``/query`` API: 1.x, 2.4+ through the bucket mapping with a token, 3.x) and by the embedded store.

Flux is not used: InfluxDB 3 does not support it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ingest.errors import SinkRejected
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.wire import check_id

MEASUREMENTS = (
    "features",
    "features_1m",
    "events",
    "prompts",
    "prompt_outcomes",
    "device_status",
    "summary_1h",
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


def _with_total(rows: list[ResponseRow]) -> list[ResponseRow]:
    rows = sorted(rows, key=lambda r: r.exercise)
    sums = [sum(getattr(r, f) for r in rows) for f in ("prompts", "broke_1min", "broke_3min", "broke_5min", "acked")]
    return [*rows, ResponseRow("*", *sums)] if rows else []


_SUMS = ("sum", "sum_1", "sum_2", "sum_3")


@dataclass(frozen=True, slots=True)
class MinuteRow:
    t_ms: int  # start of the minute
    frames: int
    incl_deg: float | None
    lean_deg: float | None
    enmo_mg: float | None
    steps: int


class Queries(Protocol):
    async def wearers(self) -> list[str]: ...

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]: ...

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]: ...

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]: ...

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        """The hourly summaries (summary_1h): ``{"t_ms": hour start, metric: value, ...}`` in time order."""
        ...

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        """Prompt responses per exercise, then ``"*"`` for all, from ``prompt_outcomes``."""
        ...

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        """Everything stored for one wearer: measurement -> rows (``time`` in ms, tags, fields)."""
        ...

    async def delete(self, wearer: str) -> None: ...


def _rows(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for statement in result.get("results", []):
        for series in statement.get("series", []):
            tags = series.get("tags", {})
            for values in series["values"]:
                yield {**tags, **dict(zip(series["columns"], values, strict=True))}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class InfluxQLQueries:
    """Queries through the v1 HTTP API (works for 1.x, 2.4+ with a token and DBRP, 3.x)."""

    def __init__(self, sink: InfluxV1Sink) -> None:
        self._sink = sink

    async def _select(self, q: str) -> list[dict[str, Any]]:
        return list(_rows(await self._sink.query(q)))

    async def wearers(self) -> list[str]:
        rows = await self._select(f'SHOW TAG VALUES FROM {self._sink.features_source} WITH KEY = "wearer"')
        return sorted({str(r["value"]) for r in rows})

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        rows = await self._select(
            f"SELECT bout_start_ms, duration_s FROM events WHERE wearer = '{check_id(wearer)}' AND kind = 'bout_ended' "
            f"AND posture = 'sitting' AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        return [BoutRow(int(r["bout_start_ms"]), int(r["time"]), float(r["duration_s"])) for r in rows]

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]:
        rows = await self._select(
            f"SELECT id, exercise FROM prompts WHERE wearer = '{check_id(wearer)}' AND time >= {start_ms}ms "
            f"AND time < {end_ms}ms GROUP BY trigger"
        )
        return [PromptRow(int(r["time"]), str(r["id"]), str(r["trigger"]), str(r["exercise"])) for r in rows]

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        rows = await self._select(
            "SELECT count(incl_deg), mean(incl_deg), mean(lean_deg), mean(enmo_mg), sum(steps) "
            f"FROM {self._sink.features_source} WHERE wearer = '{check_id(wearer)}' "
            f"AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY time(1m) fill(none)"
        )
        return [
            MinuteRow(
                int(r["time"]),
                int(r["count"]),
                _round(r["mean"]),
                _round(r["mean_1"]),
                _round(r["mean_2"]),
                int(r["sum"] or 0),
            )
            for r in rows
        ]

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        rows = await self._select(
            f"SELECT * FROM summary_1h WHERE wearer = '{check_id(wearer)}' "
            f"AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        return [
            {
                "t_ms": float(r["time"]),
                **{k: float(v) for k, v in r.items() if k not in ("time", "wearer", "hour") and v is not None},
            }
            for r in rows
        ]

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        rows = await self._select(
            "SELECT count(broke_1min), sum(broke_1min), sum(broke_3min), sum(broke_5min), sum(acked) "
            f"FROM prompt_outcomes WHERE wearer = '{check_id(wearer)}' AND time >= {start_ms}ms AND time < {end_ms}ms "
            "GROUP BY exercise"
        )
        return _with_total(
            [ResponseRow(str(r["exercise"]), int(r["count"]), *(int(r[k] or 0) for k in _SUMS)) for r in rows]
        )

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for measurement in MEASUREMENTS:
            source = self._sink.features_source if measurement == "features" else f'"{measurement}"'
            rows = await self._select(f"SELECT * FROM {source} WHERE wearer = '{check_id(wearer)}'")
            out[measurement] = [{k: v for k, v in r.items() if v is not None} for r in rows]
        return out

    async def delete(self, wearer: str) -> None:
        """``DROP SERIES``: InfluxDB 1.x. (2.x: the v2 delete API; 3.x Core has no per-tag delete yet.)"""
        try:
            await self._sink.query(f"DROP SERIES WHERE wearer = '{check_id(wearer)}'", method="POST")
        except SinkRejected as exc:
            raise SinkRejected(
                f"this InfluxDB cannot delete by tag through InfluxQL ({exc}); on 2.x use the v2 delete API "
                f"(influx delete --predicate 'wearer=\"{wearer}\"')",
                exc.status,
                exc.body,
            ) from exc


class EmbeddedQueries:
    """The same questions over the embedded SQLite store."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)

    def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return list(self._db.execute(sql, args))

    async def wearers(self) -> list[str]:
        rows = self._fetch("SELECT DISTINCT json_extract(tags, '$.wearer') FROM points WHERE measurement='features'")
        return sorted(str(r[0]) for r in rows if r[0] is not None)

    async def sitting_bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[BoutRow]:
        rows = self._fetch(
            "SELECT json_extract(fields, '$.bout_start_ms'), t_ms, json_extract(fields, '$.duration_s') FROM points "
            "WHERE measurement = 'events' AND json_extract(tags, '$.wearer') = ? AND json_extract(tags, '$.kind') = "
            "'bout_ended' AND json_extract(fields, '$.posture') = 'sitting' AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [BoutRow(int(a), int(b), float(c)) for a, b, c in rows]

    async def prompts(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptRow]:
        rows = self._fetch(
            "SELECT t_ms, json_extract(fields, '$.id'), json_extract(tags, '$.trigger'), "
            "json_extract(fields, '$.exercise') FROM points WHERE measurement = 'prompts' AND "
            "json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [PromptRow(int(t), str(i), str(tr), str(ex)) for t, i, tr, ex in rows]

    async def minutes(self, wearer: str, start_ms: int, end_ms: int) -> list[MinuteRow]:
        rows = self._fetch(
            "SELECT (t_ms / 60000) * 60000 AS minute, COUNT(json_extract(fields, '$.incl_deg')), "
            "AVG(json_extract(fields, '$.incl_deg')), AVG(json_extract(fields, '$.lean_deg')), "
            "AVG(json_extract(fields, '$.enmo_mg')), SUM(json_extract(fields, '$.steps')) FROM points "
            "WHERE measurement = 'features' AND json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? "
            "GROUP BY minute ORDER BY minute",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [MinuteRow(int(m), int(n), _round(i), _round(le), _round(e), int(s or 0)) for m, n, i, le, e, s in rows]

    async def hours(self, wearer: str, start_ms: int, end_ms: int) -> list[dict[str, float]]:
        rows = self._fetch(
            "SELECT t_ms, fields FROM points WHERE measurement = 'summary_1h' AND json_extract(tags, '$.wearer') = ? "
            "AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return [{"t_ms": float(t), **{k: float(v) for k, v in json.loads(f).items()}} for t, f in rows]

    async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
        rows = self._fetch(
            "SELECT json_extract(tags, '$.exercise'), COUNT(*), SUM(json_extract(fields, '$.broke_1min')), "
            "SUM(json_extract(fields, '$.broke_3min')), SUM(json_extract(fields, '$.broke_5min')), "
            "SUM(json_extract(fields, '$.acked')) FROM points WHERE measurement = 'prompt_outcomes' "
            "AND json_extract(tags, '$.wearer') = ? AND t_ms >= ? AND t_ms < ? GROUP BY 1",
            check_id(wearer),
            start_ms,
            end_ms,
        )
        return _with_total([ResponseRow(str(e), int(n), *(int(v or 0) for v in rest)) for e, n, *rest in rows])

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for measurement in MEASUREMENTS:
            rows = self._fetch(
                "SELECT t_ms, tags, fields FROM points WHERE measurement = ? AND json_extract(tags, '$.wearer') = ? "
                "ORDER BY t_ms, series",
                measurement,
                check_id(wearer),
            )
            out[measurement] = [{"time": t, **json.loads(tags), **json.loads(fields)} for t, tags, fields in rows]
        return out

    async def delete(self, wearer: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM points WHERE json_extract(tags, '$.wearer') = ?", (check_id(wearer),))

    def close(self) -> None:
        self._db.close()
