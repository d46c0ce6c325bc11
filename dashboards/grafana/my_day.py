"""*My day*: one wearer's day - posture, sitting bouts, sitting by hour of day across weeks, lean, prompts and
their outcome, the sensor's battery and connection. Every query is InfluxQL over docs/data-model.md."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, dashboard, heatmap, statetimeline, timeseries
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model

from dashboards.grafana.influxql import DATASOURCE, WEARER, InfluxQL, InfluxQLAnnotation, grid, table_panel
from dashboards.grafana.variables import ALL_PATIENTS, patients_variable, tz_variable, wearer_variable

UID = "kinetic-my-day"


def build(
    *, title: str = "Kinetic - my day", uid: str = UID, patients: str = ALL_PATIENTS, tz: str = "UTC"
) -> dashboard.Dashboard:
    """``tz``: the zone whose calendar days the heatmap's rows are (the clinic's; hours are the wearer's clock)."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["kinetic"])
        .description("One wearer's day: posture, sitting bouts, lean, prompts and whether they helped.")
        .timezone("browser")
        .time("now/d", "now/d")
        .refresh("1m")
        .with_variable(patients_variable(patients))
        .with_variable(wearer_variable(roster=True))
        .with_variable(tz_variable(tz))
        .annotation(
            dashboard.AnnotationQuery()
            .name("Prompts")
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color("#8F3BB8")
            .target(
                InfluxQLAnnotation(
                    f"SELECT outcome, exercise, broke_5min FROM prompt_outcomes WHERE {WEARER} AND $timeFilter",
                    text_column="outcome",
                    tags_column="exercise",
                )
            )
        )
        .with_panel(
            statetimeline.Panel()
            .title("Posture")
            .description("Each bout from its (back-dated) start; a new posture counts after the minimum duration.")
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(f"SELECT posture FROM events WHERE {WEARER} AND kind = 'bout_started' AND $timeFilter")
            )
            .grid_pos(grid(0, 0, 24, 5))
        )
        .with_panel(
            barchart.Panel()
            .title("Sitting bouts (min)")
            .description("Every sitting bout that ended in the range, at its end; 30 and 60 min marked.")
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(
                    f"SELECT duration_s / 60 AS minutes FROM events WHERE {WEARER} AND kind = 'bout_ended' "
                    "AND posture = 'sitting' AND $timeFilter",
                    table=True,
                )
            )
            .unit("m")
            .thresholds(
                dashboard.ThresholdsConfig()
                .mode(model.ThresholdsMode.ABSOLUTE)
                .steps(
                    [
                        model.Threshold(value=None, color="green"),
                        model.Threshold(value=30.0, color="orange"),
                        model.Threshold(value=60.0, color="red"),
                    ]
                )
            )
            .grid_pos(grid(0, 5, 12, 8))
        )
        .with_panel(
            table_panel(
                "Prompts and what followed",
                "SELECT exercise, trigger, outcome, break_after_s, broke_1min, broke_3min, broke_5min, acked, "
                f"snoozed FROM prompt_outcomes WHERE {WEARER} AND $timeFilter",
                grid(12, 5, 12, 8),
                description="broke_Nmin = 1 when the exposure ended within N minutes of the prompt (docs/metrics.md).",
            )
        )
        .with_panel(
            heatmap.Panel()
            .title("Sitting by hour of day (min), last 4 weeks")
            .description("Minutes sitting in each local hour (the wearer's time zone) of each day.")
            .datasource(DATASOURCE)
            .time_from("28d")
            .with_target(
                InfluxQL(
                    f"SELECT sum(sitting_s) / 60 FROM summary_1h WHERE {WEARER} AND $timeFilter "
                    "GROUP BY time(1d), hour fill(none) tz('$tz')",
                    alias="$tag_hour",
                )
            )
            .calculate(False)
            .color(
                heatmap.HeatmapColorOptions().mode(heatmap_model.HeatmapColorMode.SCHEME).scheme("Oranges").steps(64)
            )
            .grid_pos(grid(0, 13, 24, 9))
        )
        .with_panel(
            timeseries.Panel()
            .title("Lateral lean (deg, + = right)")
            .description(
                "Mean trunk lean per interval; ISO 11226 calls static lateral flexion beyond 10 deg unacceptable."
            )
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(
                    f"SELECT mean(lean_deg) FROM features_1m WHERE {WEARER} AND placement = 'trunk' AND $timeFilter "
                    "GROUP BY time($__interval) fill(null)",
                    alias="lean",
                )
            )
            .unit("degree")
            .grid_pos(grid(0, 22, 12, 8))
        )
        .with_panel(
            timeseries.Panel()
            .title("Battery (%)")
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(
                    f"SELECT battery_pct FROM device_status WHERE {WEARER} AND $timeFilter GROUP BY device",
                    alias="$tag_device",
                )
            )
            .unit("percent")
            .min(0)
            .max(100)
            .grid_pos(grid(12, 22, 6, 8))
        )
        .with_panel(
            statetimeline.Panel()
            .title("Connection")
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(
                    f"SELECT state FROM device_status WHERE {WEARER} AND $timeFilter GROUP BY device",
                    alias="$tag_device",
                )
            )
            .grid_pos(grid(18, 22, 6, 8))
        )
    )
