"""The committed dashboards' panel queries, and running one against influxd as Grafana would send it."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from dashboards.grafana.build import DASHBOARD_DIR
from dashboards.grafana.interpolate import interpolate

Rows = list[dict[str, Any]]


def load(uid: str) -> dict[str, Any]:
    model: dict[str, Any] = json.loads((DASHBOARD_DIR / f"{uid}.json").read_text())
    return model


def panel_queries(uid: str) -> dict[str, list[str]]:
    """Panel title -> its targets' queries, from the committed JSON."""
    return {p["title"]: [t["query"] for t in p["targets"]] for p in load(uid)["panels"]}


def run_query(
    url: str,
    database: str,
    query: str,
    start_ms: int,
    end_ms: int,
    variables: dict[str, str] | None = None,
    interval: str = "1m",
) -> Rows:
    """Interpolate like Grafana, run on influxd's /query, return one dict per row (tags included)."""
    text = interpolate(query, start_ms=start_ms, end_ms=end_ms, variables=variables or {}, interval=interval)
    body = urllib.parse.urlencode({"db": database, "q": text, "epoch": "ms"}).encode()
    try:
        with urllib.request.urlopen(f"{url}/query", body, timeout=30) as response:
            result = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{exc.read().decode()}: {text}") from None
    rows: Rows = []
    for statement in result["results"]:
        assert "error" not in statement, f"{statement['error']}: {text}"
        for series in statement.get("series", []):
            for values in series["values"]:
                rows.append({**series.get("tags", {}), **dict(zip(series["columns"], values, strict=True))})
    return rows
