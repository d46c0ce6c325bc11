"""The influxdb-client v2 write path, for real, against VictoriaMetrics' /api/v2/write."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from ingest.errors import SinkUnavailable
from ingest.settings import InfluxSettings, MqttSettings, StoreSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.service import simulate
from ingest.store import make_sink
from ingest.store.influx_v2 import InfluxV2Sink
from ingest.wire import Topics
from kinetic.settings import KineticSettings
from tests.support.pipeline import running_pipeline, until
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration


def export(vm: Server, metric: str, wearer: str) -> list[dict]:  # type: ignore[type-arg]
    urllib.request.urlopen(f"{vm.url}/internal/force_flush", timeout=5).read()
    match = urllib.parse.quote(f'{{__name__="{metric}",wearer="{wearer}"}}')
    with urllib.request.urlopen(f"{vm.url}/api/v1/export?match[]={match}", timeout=10) as response:
        return [json.loads(line) for line in response.read().splitlines() if line.strip()]


def test_bridge_writes_through_influxdb_client_v2(
    mosquitto: Server, victoria_metrics: Server, tmp_path: Path, unique: str
) -> None:
    settings = KineticSettings(
        mqtt=MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
        influx=InfluxSettings(url=victoria_metrics.url, database="kinetic", org="kinetic", token="any"),
        store=StoreSettings(kind="influx_v2"),
    )
    scenario = parse_scenario(
        f"start: 2026-11-23T09:00:00+01:00\nwearers:\n  - wearer: {unique}\n    placement: trunk\n"
        "    segments: [sit 20m lean_left 12deg]\n"
    )

    async def run() -> int:
        sink = make_sink(settings.store, settings.influx)
        assert isinstance(sink, InfluxV2Sink)
        await sink.prepare()
        async with running_pipeline(settings, sink, unique, tmp_path / "spool.sqlite") as pipeline:
            result = await simulate(scenario, mqtt=settings.mqtt, topics=Topics(unique), speed=0, batch_s=60)
            await until(lambda: pipeline.bridge.counters.points_spooled >= result.frames, 30, "spooling")
            await asyncio.wait_for(pipeline.bridge.drain(), 30)
        await sink.aclose()
        return result.frames

    frames = asyncio.run(run())
    (incl,) = export(victoria_metrics, "features_incl_deg", unique)
    assert len(incl["values"]) == frames == 1200
    assert incl["timestamps"][0] == scenario.start_ms and incl["metric"]["placement"] == "trunk"
    (lean,) = export(victoria_metrics, "features_lean_deg", unique)
    assert -16 < sum(lean["values"]) / len(lean["values"]) < -8  # leaning left about 12 degrees


def test_v2_writer_reports_an_unreachable_server() -> None:
    sink = InfluxV2Sink(InfluxSettings(url=f"http://127.0.0.1:{free_port()}", token="t", timeout_s=2))
    with pytest.raises(SinkUnavailable, match="unreachable"):
        asyncio.run(sink.write_lines(b"m v=1 1\n"))
    asyncio.run(sink.aclose())
