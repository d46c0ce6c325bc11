"""Small builders for Grafana panels with raw InfluxQL targets. Pure data, no Grafana needed."""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "influxdb", "uid": "kinetic-influxdb"}


def influxql_target(query: str, ref: str = "A", alias: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {
        "datasource": DATASOURCE,
        "refId": ref,
        "query": query,
        "rawQuery": True,
        "resultFormat": "time_series",
    }
    if alias:
        target["alias"] = alias
    return target


def panel(
    panel_id: int,
    title: str,
    kind: str,
    targets: list[dict[str, Any]],
    grid: tuple[int, int, int, int],
    **extra: Any,
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "id": panel_id,
        "title": title,
        "type": kind,
        "datasource": DATASOURCE,
        "targets": targets,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        **extra,
    }
