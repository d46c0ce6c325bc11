"""*Operations*: is the system healthy? Wearables online and last seen, battery, ingest rate, dead letters,
the bridge's lag and spool (the bridge's own ``bridge_stats`` points)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, timeseries

from dashboards.grafana.influxql import DATASOURCE, InfluxQL, grid, table_panel

UID = "kinetic-operations"


def _series(title: str, query: str, unit: str, x: int, y: int, alias: str | None = None) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .with_target(InfluxQL(query, alias=alias))
        .unit(unit)
        .grid_pos(grid(x, y, 12, 8))
    )


def build() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("Kinetic - operations")
        .uid(UID)
        .tags(["kinetic", "operations"])
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("30s")
        .with_panel(
            table_panel(
                "Wearables: state and last seen",
                "SELECT last(state) AS state FROM device_status WHERE $timeFilter GROUP BY wearer, device",
                grid(0, 0, 12, 8),
                description="The latest device status of each wearable; its time is when it was last heard of.",
            )
        )
        .with_panel(
            table_panel(
                "Battery (%), latest",
                "SELECT last(battery_pct) AS battery_pct FROM device_status WHERE $timeFilter GROUP BY wearer, device",
                grid(12, 0, 12, 8),
            )
        )
        .with_panel(
            _series(
                "Frames stored per minute (event time, complete minutes)",
                "SELECT sum(frames) FROM features_1m WHERE $timeFilter GROUP BY time(1m) fill(0)",
                "short",
                0,
                8,
                alias="frames",
            )
        )
        .with_panel(
            _series(
                "Points written per minute (bridge)",
                "SELECT non_negative_derivative(last(points_written), 1m) FROM bridge_stats WHERE $timeFilter "
                "GROUP BY time($__interval), bridge fill(none)",
                "short",
                12,
                8,
                alias="$tag_bridge",
            )
        )
        .with_panel(
            _series(
                "Dead letters (new per interval)",
                "SELECT non_negative_difference(last(dead_letters)) FROM bridge_stats WHERE $timeFilter "
                "GROUP BY time($__interval), bridge fill(none)",
                "short",
                0,
                16,
                alias="$tag_bridge",
            )
        )
        .with_panel(
            _series(
                "Bridge lag (s, wall clock - newest frame)",
                "SELECT max(lag_s) FROM bridge_stats WHERE $timeFilter GROUP BY time($__interval), bridge fill(none)",
                "s",
                12,
                16,
                alias="$tag_bridge",
            )
        )
        .with_panel(
            _series(
                "Spool (points waiting for the database)",
                "SELECT last(spool_points) FROM bridge_stats WHERE $timeFilter GROUP BY time($__interval), bridge "
                "fill(none)",
                "short",
                0,
                24,
                alias="$tag_bridge",
            )
        )
    )
