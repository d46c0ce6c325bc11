"""Retention on InfluxDB 1.x: the per-second features in a policy that expires; everything derived from them
(rollups, hourly summaries, events, outcomes) in the database's default policy, kept, and queried as usual."""

from __future__ import annotations

import asyncio

import pytest

from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.influxql_queries import InfluxQLQueries
from ingest.store.points import Point
from tests.support.servers import Server

pytestmark = pytest.mark.integration

NOW_MS = 1_795_000_000_000 - 1_795_000_000_000 % 3_600_000


def values(result: dict) -> list[list]:  # type: ignore[type-arg]
    return result["results"][0]["series"][0]["values"]  # type: ignore[no-any-return]


def test_raw_features_expire_on_their_own_and_derived_data_stays_in_the_default_policy(
    influxd: Server, unique: str
) -> None:
    sink = InfluxV1Sink(InfluxSettings(url=influxd.url, database=unique, raw_retention_days=30))
    queries = InfluxQLQueries(sink)

    async def run() -> dict[str, object]:
        await sink.prepare()
        await sink.prepare()  # a second start alters, does not fail
        raw = [
            Point.make("features", {"wearer": "ann"}, {"incl_deg": 1.0, "enmo_mg": 2.0, "steps": 0}, NOW_MS + i * 1000)
            for i in range(120)
        ]
        derived = [
            Point.make("features_1m", {"wearer": "ann"}, {"frames": 60}, NOW_MS),
            Point.make("features_1m", {"wearer": "ann"}, {"frames": 60}, NOW_MS + 60_000),
            Point.make("summary_1h", {"wearer": "ann", "hour": "09"}, {"sitting_s": 120.0}, NOW_MS),
        ]
        await sink.write(raw[:60] + derived + raw[60:])
        return {
            "policies": await sink.query(f'SHOW RETENTION POLICIES ON "{unique}"'),
            "raw": await sink.query('SELECT count(incl_deg) FROM "kinetic_raw"."features"'),
            "raw_in_default": await sink.query("SELECT count(incl_deg) FROM features"),
            "rollups": await sink.query("SELECT count(frames) FROM features_1m"),
            "minutes": await queries.minutes("ann", NOW_MS, NOW_MS + 3_600_000),
            "hours": await queries.hours("ann", NOW_MS, NOW_MS + 3_600_000),
            "wearers": await queries.wearers(),
            "export": await queries.export("ann"),
        }

    got = asyncio.run(run())
    rows = {row[0]: row for row in values(got["policies"])}  # type: ignore[arg-type]
    assert rows["kinetic_raw"][1] == "720h0m0s" and rows["kinetic_raw"][4] is False  # 30 days, not the default
    assert rows["autogen"][1] == "0s" and rows["autogen"][4] is True  # the default keeps derived data forever
    assert values(got["raw"])[0][1] == 120  # type: ignore[arg-type]
    assert "series" not in got["raw_in_default"]["results"][0]  # type: ignore[index]
    assert values(got["rollups"])[0][1] == 2  # type: ignore[arg-type]
    assert [m.frames for m in got["minutes"]] == [60, 60]  # type: ignore[attr-defined]
    assert got["hours"][0]["sitting_s"] == 120  # type: ignore[index]
    assert got["wearers"] == ["ann"]
    export = got["export"]
    assert len(export["features"]) == 120 and len(export["features_1m"]) == 2  # type: ignore[index]


def test_a_raw_policy_left_as_default_by_an_earlier_version_stops_being_the_default(
    influxd: Server, unique: str
) -> None:
    sink = InfluxV1Sink(InfluxSettings(url=influxd.url, database=unique, raw_retention_days=7))

    async def run() -> dict:  # type: ignore[type-arg]
        await sink.query(f'CREATE DATABASE "{unique}"', method="POST")
        await sink.query(
            f'CREATE RETENTION POLICY "kinetic_raw" ON "{unique}" DURATION 30d REPLICATION 1 DEFAULT', method="POST"
        )
        await sink.prepare()
        return await sink.query(f'SHOW RETENTION POLICIES ON "{unique}"')

    rows = {row[0]: row for row in values(asyncio.run(run()))}
    assert rows["kinetic_raw"][1] == "168h0m0s" and rows["kinetic_raw"][4] is False
    assert rows["autogen"][4] is True
