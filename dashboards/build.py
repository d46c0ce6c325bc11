"""Builds the provisioned dashboards' JSON. ``python -m dashboards.build`` rewrites the committed files;
a test checks that the committed files equal what this builds.

First version (issue 2): one daily-patterns dashboard over the data model in ingest/store/model.py.
The clinician's weekly review and the full daily views come with issue 7.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dashboards.panels import DATASOURCE, influxql_target, panel

PROVISIONING = Path(__file__).parent / "provisioning"
DASHBOARD_DIR = PROVISIONING / "dashboards" / "json"

WEARER = "wearer =~ /^$wearer$/"


def daily_dashboard() -> dict[str, Any]:
    panels = [
        panel(
            1,
            "Trunk / thigh inclination (deg)",
            "timeseries",
            [
                influxql_target(
                    f"SELECT mean(incl_deg) FROM features WHERE {WEARER} AND $timeFilter "
                    "GROUP BY time($__interval), device fill(null)",
                    alias="$tag_device",
                )
            ],
            (0, 0, 12, 8),
        ),
        panel(
            2,
            "Movement (ENMO, mg)",
            "timeseries",
            [
                influxql_target(
                    f"SELECT mean(enmo_mg) FROM features WHERE {WEARER} AND $timeFilter "
                    "GROUP BY time($__interval), device fill(null)",
                    alias="$tag_device",
                )
            ],
            (12, 0, 12, 8),
        ),
        panel(
            3,
            "Sitting bouts (min)",
            "barchart",
            [
                influxql_target(
                    f"SELECT duration_s / 60 AS minutes FROM events WHERE {WEARER} AND "
                    "kind = 'bout_ended' AND posture = 'sitting' AND $timeFilter"
                )
            ],
            (0, 8, 12, 8),
        ),
        panel(
            4,
            "Prompts",
            "table",
            [influxql_target(f"SELECT exercise, title FROM prompts WHERE {WEARER} AND $timeFilter", ref="A")],
            (12, 8, 12, 8),
        ),
        panel(
            5,
            "Lateral lean (deg, + = right)",
            "timeseries",
            [
                influxql_target(
                    f"SELECT mean(lean_deg) FROM features WHERE {WEARER} AND placement = 'trunk' "
                    "AND $timeFilter GROUP BY time($__interval) fill(null)"
                )
            ],
            (0, 16, 24, 8),
        ),
    ]
    return {
        "uid": "kinetic-daily",
        "title": "Kinetic - daily patterns",
        "tags": ["kinetic"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-24h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "wearer",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": 'SHOW TAG VALUES FROM "features" WITH KEY = "wearer"',
                    "refresh": 1,
                    "multi": False,
                    "includeAll": False,
                }
            ]
        },
        "panels": panels,
    }


def dashboards() -> dict[str, dict[str, Any]]:
    return {"kinetic-daily.json": daily_dashboard()}


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


def main() -> None:
    DASHBOARD_DIR.mkdir(parents=True, exist_ok=True)
    for name, model in dashboards().items():
        (DASHBOARD_DIR / name).write_text(render(model))


if __name__ == "__main__":
    main()
