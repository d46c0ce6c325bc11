"""The report queries give the same answers from InfluxDB (InfluxQL) and the embedded store; per-wearer export
and delete work on both (the ``kinetic data`` command: tests/integration/kinetic/test_data_rights.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from ingest.settings import InfluxSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.influxql_queries import InfluxQLQueries
from ingest.store.model import points_for
from ingest.store.points import Point
from ingest.wire import PromptV1
from tests.support.servers import Server

pytestmark = pytest.mark.integration

DAY = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: w1
    placement: trunk
    segments: [walk 3m, sit 40m lean_left 12deg, walk 5m, sit 35m, stand 2m]
  - wearer: w2
    placement: thigh
    segments: [sit 31m, walk 4m, sit 10m]
"""


def day_points() -> list[Point]:
    scenario = parse_scenario(DAY)
    engine = AlertEngine(EngineConfig(), load_catalog())
    points: list[Point] = []
    for script in scenario.wearers:
        for batch in batches_for(scenario, script, 30):
            points.extend(points_for(batch, 0))
            for output in engine.process(batch):
                points.extend(points_for(output, 0))
        for output in engine.close(script.wearer):
            points.extend(points_for(output, 0))
    return points


async def both(
    influxd: Server, unique: str, tmp_path: Path, points: list[Point] | None = None
) -> tuple[InfluxQLQueries, EmbeddedQueries]:
    """``points`` (the scripted day's by default) written to influxd and to an embedded store: both query layers."""
    points = day_points() if points is None else points
    influx = InfluxV1Sink(InfluxSettings(url=influxd.url, database=unique))
    await influx.prepare()
    await influx.write(points)
    embedded = EmbeddedSink(tmp_path / "k.sqlite")
    await embedded.write(points)
    await embedded.aclose()
    return InfluxQLQueries(influx), EmbeddedQueries(tmp_path / "k.sqlite")


def test_report_queries_agree_between_influxdb_and_the_embedded_store(
    influxd: Server, unique: str, tmp_path: Path
) -> None:
    async def run() -> None:
        influx, embedded = await both(influxd, unique, tmp_path)
        start, end = parse_scenario(DAY).start_ms, parse_scenario(DAY).start_ms + 24 * 3600_000
        assert await influx.wearers() == await embedded.wearers() == ["w1", "w2"]
        for wearer in ("w1", "w2"):
            bouts = await influx.sitting_bouts(wearer, start, end)
            assert bouts == await embedded.sitting_bouts(wearer, start, end)
            assert await influx.prompts(wearer, start, end) == await embedded.prompts(wearer, start, end)
            minutes = await influx.minutes(wearer, start, end)
            assert minutes == await embedded.minutes(wearer, start, end)
            hours = await influx.hours(wearer, start, end)
            assert hours == await embedded.hours(wearer, start, end) and hours
        bouts = await influx.sitting_bouts("w1", start, end)
        assert [round(b.duration_s / 60) for b in bouts] == [40, 35]
        # w1 leans 12 deg to the left while sitting: a lean prompt at 10 min and its re-prompt at 20; the first
        # sitting prompt (due at 30 min) is held by the cap of 2 per hour until the bout ends; the second bout's is sent
        assert [p.trigger for p in await influx.prompts("w1", start, end)] == ["lean", "lean", "sitting"]
        assert [p.trigger for p in await influx.prompts("w2", start, end)] == ["sitting"]
        # prompt responses: w2 walks 1 min after the prompt (sit 31m, walk 4m); w1's prompts had no break within
        # 5 min (the lean ones) or one at 5 min (the second bout ends 5 min after its prompt)
        for wearer in ("w1", "w2"):
            assert await influx.responses(wearer, start, end) == await embedded.responses(wearer, start, end)
        (_, w2_all) = await influx.responses("w2", start, end)
        assert (w2_all.prompts, w2_all.broke_1min, w2_all.broke_3min, w2_all.broke_5min) == (1, 1, 1, 1)
        w1_all = (await influx.responses("w1", start, end))[-1]
        assert (w1_all.exercise, w1_all.prompts, w1_all.broke_1min, w1_all.broke_5min) == ("*", 3, 0, 1)
        w1_minutes = await influx.minutes("w1", start, end)
        assert len(w1_minutes) == 85 and all(m.frames == 60 for m in w1_minutes)
        embedded.close()

    asyncio.run(run())


def test_export_and_delete_one_wearer_on_both_stores(influxd: Server, unique: str, tmp_path: Path) -> None:
    async def run() -> None:
        influx, embedded = await both(influxd, unique, tmp_path)
        # a wearer whose device said hello and nothing more is a wearer with data too
        status = [Point.make("device_status", {"wearer": "w3", "device": "w3-hip"}, {"state": "online"}, 1)]
        sink = InfluxV1Sink(InfluxSettings(url=influxd.url, database=unique))
        await sink.write(status)
        await sink.aclose()
        embedded_sink = EmbeddedSink(tmp_path / "k.sqlite")
        await embedded_sink.write(status)
        await embedded_sink.aclose()
        for queries in (influx, embedded):
            assert await queries.wearers() == ["w1", "w2", "w3"]
            exported = await queries.export("w2")
            assert len(exported["features"]) == 45 * 60
            assert {r["kind"] for r in exported["events"]} == {"bout_started", "bout_ended", "prompt_sent"}
            assert [r["prompt_id"] for r in exported["prompt_outcomes"]] == [r["id"] for r in exported["prompts"]]
            assert len(exported["prompts"]) == 1 and len(exported["device_status"]) == 0
            assert len(exported["summary_1h"]) == 1  # 45 minutes of data: one (partial) hour
            await queries.delete("w2")
            assert all(not rows for rows in (await queries.export("w2")).values())
            assert await queries.wearers() == ["w1", "w3"]
            assert len((await queries.export("w1"))["features"]) == 85 * 60  # the other wearer is untouched
        embedded.close()

    asyncio.run(run())


def test_bouts_outcomes_and_devices_agree_between_influxdb_and_the_embedded_store(
    influxd: Server, unique: str, tmp_path: Path
) -> None:
    """The web app's queries (kinetic serve): every posture's bouts, each prompt's outcome, each sensor's status."""

    async def run() -> None:
        influx, embedded = await both(influxd, unique, tmp_path)
        start = parse_scenario(DAY).start_ms
        end = start + 24 * 3600_000
        status = [
            Point.make(
                "device_status",
                {"wearer": "w1", "device": "w1-trunk"},
                {"state": "online", "battery_pct": 81, "placement": "trunk"},
                start - 60_000,
            ),
            Point.make("device_status", {"wearer": "w1", "device": "w1-trunk"}, {"state": "offline"}, start + 60_000),
        ]
        sink = InfluxV1Sink(InfluxSettings(url=influxd.url, database=unique))
        await sink.write(status)
        await sink.aclose()
        embedded_sink = EmbeddedSink(tmp_path / "k.sqlite")
        await embedded_sink.write(status)
        await embedded_sink.aclose()
        for wearer in ("w1", "w2"):
            assert await influx.bouts(wearer, start, end) == await embedded.bouts(wearer, start, end)
            assert await influx.outcomes(wearer, start, end) == await embedded.outcomes(wearer, start, end)
            assert await influx.devices(wearer) == await embedded.devices(wearer)
            assert await influx.prompt_events(wearer, start, end) == await embedded.prompt_events(wearer, start, end)
        # w1: the lean prompt, its re-prompt (same bout), the sitting prompt held by the cap of 2 per hour, then sent
        w1 = await embedded.prompt_events("w1", start, end)
        sent = [e for e in w1 if e.kind == "prompt_sent"]
        assert [e.trigger for e in sent] == ["lean", "lean", "sitting"]
        assert sent[0].bout_start_ms == sent[1].bout_start_ms
        held = [e for e in w1 if e.kind == "prompt_held"]
        assert held and held[0].trigger == "sitting" and held[0].reason and held[0].prompt_id is None
        # w1: walk 3m, sit 40m, walk 5m, sit 35m, stand 2m (the last bout closed at the end of data)
        bouts = await embedded.bouts("w1", start, end)
        assert [(b.posture, round(b.duration_s / 60)) for b in bouts if b.duration_s >= 120] == [
            ("moving", 3),
            ("sitting", 40),
            ("moving", 5),
            ("sitting", 35),
            ("standing", 2),
        ]
        # w2 walks 1 min after its one prompt: moved within 1 min
        (w2,) = await influx.outcomes("w2", start, end)
        assert (w2.trigger, w2.broke_1min, w2.broke_5min, w2.acked) == ("sitting", True, True, False)
        assert w2.outcome == "moved within 1 min"
        assert [o.prompt_id for o in await influx.outcomes("w1", start, end)] == [
            p.id for p in await influx.prompts("w1", start, end)
        ]
        # w1's sensor: the newest status says offline, the battery is the newest reading, last seen = last frame
        (trunk,) = await influx.devices("w1")
        last_frame = (await influx.minutes("w1", start, end))[-1].t_ms + 59_000
        assert (trunk.device, trunk.state, trunk.placement, trunk.battery_pct) == ("w1-trunk", "offline", None, 81)
        assert trunk.last_seen_ms == last_frame
        embedded.close()

    asyncio.run(run())


def test_check_ins_and_readiness_agree_between_influxdb_and_the_embedded_store(
    influxd: Server, unique: str, tmp_path: Path
) -> None:
    """The events the alert service publishes for a check-in and a readiness decision, stored by the bridge's model
    in both stores, read back the same (the weekly report and the Weekly review use them); export holds them."""
    from datetime import UTC, datetime

    from ingest.store.queries import CheckInRow
    from ingest.wire import EventV1

    t0 = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    events = [
        EventV1(
            kind="checkin", wearer="w1", t=t0, reason="pain 6/10, stress high", metrics={"pain": 6, "stress_level": 2}
        ),
        EventV1(kind="checkin", wearer="w1", t=t0.replace(hour=19), reason="pain 3/10", metrics={"pain": 3}),
        EventV1(
            kind="readiness",
            wearer="w1",
            t=t0.replace(hour=8, minute=0),
            reason="relief day: 5.2 h lying last night, pain 6/10",
            metrics={"relief": 1, "lying_h": 5.2, "pain": 6, "rmssd_ms": 38.5, "ln_rmssd": 3.651},
        ),
    ]
    points = [p for e in events for p in points_for(e, 0)]

    async def run() -> None:
        queries = await both(influxd, unique, tmp_path, points)
        start = round(t0.timestamp() * 1000) - 86_400_000
        end = start + 2 * 86_400_000
        t_ms = round(t0.timestamp() * 1000)
        for q in queries:
            assert await q.checkins("w1", start, end) == [
                CheckInRow(t_ms, 6.0, 2.0),
                CheckInRow(t_ms + 12 * 3_600_000, 3.0, None),
            ]
            (decision,) = await q.readiness("w1", start, end)
            assert (decision.day_type, decision.reason) == ("relief", "relief day: 5.2 h lying last night, pain 6/10")
            assert decision.figures == {"relief": 1.0, "lying_h": 5.2, "pain": 6.0, "rmssd_ms": 38.5, "ln_rmssd": 3.651}
            exported = await q.export("w1")
            assert len(exported["checkins"]) == 2 and len(exported["readiness"]) == 1
            assert await q.checkins("w2", start, end) == [] and await q.readiness("w2", start, end) == []

    asyncio.run(run())


def test_sessions_and_prescriptions_agree_between_influxdb_and_the_embedded_store(
    influxd: Server, unique: str, tmp_path: Path
) -> None:
    """Issue 19: session outcomes, prescription changes and progression proposals, stored by the bridge's model in
    both stores, read back the same (the weekly progression job, the weekly report and the Weekly review use them)."""
    from datetime import UTC, datetime

    from ingest.store.queries import PrescriptionRow, SessionRow
    from ingest.wire import EventV1

    t0 = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    events = [
        EventV1(
            kind="session_outcome",
            wearer="w1",
            t=t0,
            exercise="controlled-sit-to-stand",
            session="20261124t072800-controlled-sit-to-stand",
            outcome="partial",
            duration_s=95.0,
            reason="sensor lost for 30 s during the session",
            metrics={"reps": 3, "reps_prescribed": 4, "pain": 2, "verified": 1},
        ),
        EventV1(
            kind="prescription_changed",
            wearer="w1",
            t=t0.replace(hour=9),
            exercise="controlled-sit-to-stand",
            reason="reps 4 -> 5; progression of 2026-W47 accepted by the clinician",
            metrics={"sets": 1, "reps": 5, "rest_s": 30, "per_week": 2},
        ),
        EventV1(
            kind="progression_proposed",
            wearer="w1",
            t=t0.replace(hour=8),
            exercise="controlled-sit-to-stand",
            reason="2026-W47: reps 4 -> 5: a kept week",
            metrics={"sets": 1, "reps": 5, "rest_s": 30, "per_week": 2, "step": 1, "automatic": 0},
        ),
    ]
    points = [p for e in events for p in points_for(e, 0)]

    async def run() -> None:
        t_ms = round(t0.timestamp() * 1000)
        start, end = t_ms - 86_400_000, t_ms + 86_400_000
        for q in await both(influxd, unique, tmp_path, points):
            assert await q.session_outcomes("w1", start, end) == [
                SessionRow(
                    t_ms,
                    "controlled-sit-to-stand",
                    "partial",
                    "sensor lost for 30 s during the session",
                    {"duration_s": 95.0, "reps": 3.0, "reps_prescribed": 4.0, "pain": 2.0, "verified": 1.0},
                )
            ]
            proposed, changed = await q.prescriptions("w1", start, end)
            assert proposed == PrescriptionRow(
                t_ms + 3_600_000,
                "progression_proposed",
                "controlled-sit-to-stand",
                "2026-W47: reps 4 -> 5: a kept week",
                {"sets": 1.0, "reps": 5.0, "rest_s": 30.0, "per_week": 2.0, "step": 1.0, "automatic": 0.0},
            )
            assert changed.kind == "prescription_changed" and changed.figures["reps"] == 5
            exported = await q.export("w1")
            assert len(exported["session_outcomes"]) == 1 and len(exported["prescriptions"]) == 2
            assert await q.session_outcomes("w2", start, end) == [] and await q.prescriptions("w2", start, end) == []

    asyncio.run(run())


def test_prompts_come_in_time_order_from_both_stores_when_triggers_interleave(
    influxd: Server, unique: str, tmp_path: Path
) -> None:
    """InfluxQL's ``GROUP BY trigger`` answers one series per trigger: a sitting prompt, then a lean one, then a
    sitting one again came back as sitting, sitting, lean (issue 16 task 7). Both stores: one order, time then id."""
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    made = [
        PromptV1(
            id=f"p{i}",
            wearer="w1",
            trigger=trigger,
            exercise="shoulder-rolls",
            title="Move",
            text="Move a little",
            created=t0 + timedelta(minutes=10 * i),
            expires=t0 + timedelta(minutes=10 * i + 5),
        )
        for i, trigger in enumerate(["sitting", "lean", "sitting", "lean"])
    ]
    points = [p for prompt in made for p in points_for(prompt, 0)]

    async def run() -> None:
        influx, embedded = await both(influxd, unique, tmp_path, points)
        start, end = round(t0.timestamp() * 1000), round(t0.timestamp() * 1000) + 3_600_000
        from_influx = await influx.prompts("w1", start, end)
        from_embedded = await embedded.prompts("w1", start, end)
        assert [p.id for p in from_influx] == [p.id for p in from_embedded] == ["p0", "p1", "p2", "p3"]
        assert from_influx == from_embedded

    asyncio.run(run())
