"""Retention on InfluxDB 1.x: raw points in a policy that expires, minute rollups in one that does not."""

from __future__ import annotations

import asyncio

import pytest

from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.points import Point
from tests.support.servers import Server

pytestmark = pytest.mark.integration


def test_raw_and_rollups_go_to_their_own_retention_policies(influxd: Server, unique: str) -> None:
    sink = InfluxV1Sink(InfluxSettings(url=influxd.url, database=unique, raw_retention_days=30))
    now_ms = 1_795_000_000_000

    async def run() -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
        await sink.prepare()
        await sink.prepare()  # a second start alters, does not fail
        raw = [Point.make("features", {"wearer": "ann"}, {"incl_deg": 1.0}, now_ms + i * 1000) for i in range(120)]
        rollups = [Point.make("features_1m", {"wearer": "ann"}, {"frames": 60}, now_ms + i * 60_000) for i in range(2)]
        await sink.write(raw[:60] + rollups + raw[60:])
        policies = await sink.query(f'SHOW RETENTION POLICIES ON "{unique}"')
        in_raw = await sink.query('SELECT count(incl_deg) FROM "kinetic_raw"."features"')
        in_rollups = await sink.query('SELECT count(frames) FROM "kinetic_rollups"."features_1m"')
        return policies, in_raw, in_rollups

    policies, in_raw, in_rollups = asyncio.run(run())
    rows = {row[0]: row for row in policies["results"][0]["series"][0]["values"]}
    assert rows["kinetic_raw"][1] == "720h0m0s" and rows["kinetic_raw"][4] is True  # 30 days, the default
    assert rows["kinetic_rollups"][1] == "0s"  # forever
    assert in_raw["results"][0]["series"][0]["values"][0][1] == 120
    assert in_rollups["results"][0]["series"][0]["values"][0][1] == 2
