"""Report queries in InfluxQL through the v1 HTTP API (InfluxDB 1.x, 2.4+ with a token and DBRP, 3.x)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ingest.errors import SinkRejected
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.queries import (
    MEASUREMENTS,
    PROMPT_EVENT_KINDS,
    SUMS,
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


def _rows(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for statement in result.get("results", []):
        for series in statement.get("series", []):
            tags = series.get("tags", {})
            for values in series["values"]:
                yield {**tags, **dict(zip(series["columns"], values, strict=True))}


class InfluxQLQueries:
    """Queries through the v1 HTTP API (works for 1.x, 2.4+ with a token and DBRP, 3.x)."""

    def __init__(self, sink: InfluxV1Sink) -> None:
        self._sink = sink

    async def _select(self, q: str) -> list[dict[str, Any]]:
        return list(_rows(await self._sink.query(q)))

    def _source(self, measurement: str) -> str:
        return self._sink.features_source if measurement == "features" else f'"{measurement}"'

    async def wearers(self) -> list[str]:
        sources = ", ".join(self._source(m) for m in MEASUREMENTS)
        rows = await self._select(f'SHOW TAG VALUES FROM {sources} WITH KEY = "wearer"')
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
        # GROUP BY answers one series per trigger, one after the other: back into one time order (Queries.prompts)
        out = [PromptRow(int(r["time"]), str(r["id"]), str(r["trigger"]), str(r["exercise"])) for r in rows]
        return sorted(out, key=lambda p: (p.t_ms, p.id))

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
                round_value(r["mean"]),
                round_value(r["mean_1"]),
                round_value(r["mean_2"]),
                int(r["sum"] or 0),
            )
            for r in rows
        ]

    async def bouts(self, wearer: str, start_ms: int, end_ms: int) -> list[PostureBoutRow]:
        rows = await self._select(
            f"SELECT bout_start_ms, posture, duration_s FROM events WHERE wearer = '{check_id(wearer)}' "
            f"AND kind = 'bout_ended' AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        return [
            PostureBoutRow(int(r["bout_start_ms"]), int(r["time"]), str(r["posture"]), float(r["duration_s"]))
            for r in rows
        ]

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        rows = await self._select(
            "SELECT prompt_id, broke_1min, broke_3min, broke_5min, acked, snoozed, outcome FROM prompt_outcomes "
            f"WHERE wearer = '{check_id(wearer)}' AND time >= {start_ms}ms AND time < {end_ms}ms "
            "GROUP BY trigger, exercise"
        )
        out = [
            OutcomeRow(
                int(r["time"]),
                str(r["prompt_id"] or ""),
                str(r["trigger"]),
                str(r["exercise"]),
                broke_1min=bool(r["broke_1min"]),
                broke_3min=bool(r["broke_3min"]),
                broke_5min=bool(r["broke_5min"]),
                acked=bool(r["acked"]),
                snoozed=bool(r["snoozed"]),
                outcome=str(r["outcome"] or ""),
            )
            for r in rows
        ]
        return sorted(out, key=lambda o: (o.t_ms, o.prompt_id))

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        kinds = " OR ".join(f"kind = '{k}'" for k in PROMPT_EVENT_KINDS)
        rows = await self._select(
            f"SELECT prompt_id, trigger, bout_start_ms, reason FROM events WHERE wearer = '{check_id(wearer)}' "
            f"AND ({kinds}) AND time >= {start_ms}ms AND time < {end_ms}ms GROUP BY kind"
        )
        out = [
            PromptEventRow(
                int(r["time"]),
                str(r["kind"]),
                r["prompt_id"],
                r["trigger"],
                None if r["bout_start_ms"] is None else int(r["bout_start_ms"]),
                r["reason"],
            )
            for r in rows
        ]
        return sorted(out, key=lambda e: (e.t_ms, e.kind))

    async def devices(self, wearer: str) -> list[DeviceRow]:
        where = f"WHERE wearer = '{check_id(wearer)}'"
        statuses = {
            str(r["device"]): (int(r["time"]), r["state"], r["placement"])
            for r in await self._select(
                f"SELECT state, placement FROM device_status {where} GROUP BY device ORDER BY time DESC LIMIT 1"
            )
        }
        batteries = {
            str(r["device"]): int(r["last"])
            for r in await self._select(f"SELECT last(battery_pct) FROM device_status {where} GROUP BY device")
        }
        frames = {
            str(r["device"]): int(r["time"])
            for r in await self._select(
                f"SELECT last(enmo_mg) FROM {self._sink.features_source} {where} GROUP BY device"
            )
        }
        return device_rows(statuses, batteries, frames)

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
        return with_total(
            [ResponseRow(str(r["exercise"]), int(r["count"]), *(int(r[k] or 0) for k in SUMS)) for r in rows]
        )

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        rows = await self._select(
            f"SELECT pain, stress_level FROM checkins WHERE wearer = '{check_id(wearer)}' "
            f"AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        return [CheckInRow(int(r["time"]), _float(r.get("pain")), _float(r.get("stress_level"))) for r in rows]

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        rows = await self._select(
            f"SELECT * FROM readiness WHERE wearer = '{check_id(wearer)}' "
            f"AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        return [
            ReadinessRow(
                int(r["time"]),
                str(r["day_type"]),
                _reason(r),
                _figures(r, ("time", "wearer", "day_type", "reason")),
            )
            for r in rows
        ]

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        rows = await self._select(
            f"SELECT * FROM session_outcomes WHERE wearer = '{check_id(wearer)}' "
            f"AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        skip = ("time", "wearer", "exercise", "outcome", "reason", "session")
        return [
            SessionRow(
                int(r["time"]),
                str(r.get("exercise") or ""),
                str(r.get("outcome") or ""),
                _reason(r),
                _figures(r, skip),
            )
            for r in rows
        ]

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        rows = await self._select(
            f"SELECT * FROM prescriptions WHERE wearer = '{check_id(wearer)}' "
            f"AND time >= {start_ms}ms AND time < {end_ms}ms"
        )
        skip = ("time", "wearer", "exercise", "kind", "reason")
        return [
            PrescriptionRow(
                int(r["time"]),
                str(r.get("kind") or ""),
                str(r.get("exercise") or ""),
                _reason(r),
                _figures(r, skip),
            )
            for r in rows
        ]

    async def export(self, wearer: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for measurement in MEASUREMENTS:
            rows = await self._select(f"SELECT * FROM {self._source(measurement)} WHERE wearer = '{check_id(wearer)}'")
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


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _reason(row: dict[str, Any]) -> str | None:
    """A row's ``reason`` field as text, None when it has none."""
    return None if row.get("reason") is None else str(row["reason"])


def _figures(row: dict[str, Any], skip: tuple[str, ...]) -> dict[str, float]:
    """A row's numeric fields, leaving out ``skip`` (time, tags, text fields)."""
    return {k: float(v) for k, v in row.items() if k not in skip and isinstance(v, int | float)}
