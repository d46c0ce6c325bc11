"""Prescriptions edited and progressed end to end on real Mosquitto (issue 19, items 1 and 2): ``kinetic
prescription set`` (an event, the file validated and written), a week of sessions verified by the real alert
service and stored by the real bridge (embedded store), ``kinetic prescription propose`` over that week (a
``progression_proposed`` event, the step pending), ``accept`` (a ``prescription_changed`` event) and the running
alert service judging the next session by the accepted dose. An impossible edit changes nothing and sends nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from alerts.prompts.sessions import session_command
from alerts.run import alert_service
from ingest.bridge import Bridge
from ingest.mqtt import connect, serve
from ingest.session_stream import SessionStreamer
from ingest.store.embedded import EmbeddedSink
from ingest.store.export import open_queries
from ingest.store.model import event_points
from ingest.store.spool import open_spool
from ingest.wire import EventV1, Topics, encode
from kinetic.cli import main
from kinetic.prescriptions import load_pending, save_pending
from tests.support import exercise_models as em
from tests.support.pipeline import broker_settings, recording, sync, until
from tests.support.servers import Server, free_port
from tests.support.synthetic import rotation

pytestmark = pytest.mark.integration

EXERCISE = "controlled-sit-to-stand"


@sync
async def test_a_week_of_sessions_is_proposed_accepted_and_in_force(
    mosquitto: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unique = f"pp{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    prescriptions, db = tmp_path / "prescriptions.yaml", tmp_path / "k.sqlite"
    env = {
        "KINETIC_MQTT__PORT": str(mosquitto.port),
        "KINETIC_MQTT__TOPIC_ROOT": unique,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": unique,
        "KINETIC_STORE__KIND": "embedded",
        "KINETIC_STORE__EMBEDDED_PATH": str(db),
        "KINETIC_ALERTS__PRESCRIPTIONS_FILE": str(prescriptions),
        "KINETIC_ALERTS__STATE_DIR": "",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = broker_settings(
        mosquitto,
        unique,
        alerts={"state_dir": None, "prescriptions_file": prescriptions},
        store={"kind": "embedded", "embedded_path": db},
    )

    async def kinetic(*argv: str) -> int:
        return await asyncio.to_thread(main, list(argv))

    # sessions of last week (Monday 10:00 UTC on), so that the week is whole whenever the test runs
    now = datetime.now(UTC)
    today = now.replace(hour=10, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() + 7)
    # a session this week (after the prescription's changes' week began), and in the past at any hour: on a Monday
    # before 10:00 UTC the week's 10:00 was ahead of the host's clock (refused as such, the session never concluded)
    this_monday = (monday + timedelta(days=7)).replace(hour=0)
    if now - this_monday < timedelta(minutes=4):
        await asyncio.sleep((this_monday + timedelta(minutes=4) - now).total_seconds())  # a week 4 min old
    third_at = this_monday + min(timedelta(hours=10), (datetime.now(UTC) - this_monday) / 2)
    year, number, _ = monday.isocalendar()
    week = f"{year}-W{number:02d}"
    rng = np.random.default_rng(5)
    body, _ = em.sit_to_stand_set(4, 3.0, 3.0, 1.0, rng)
    set_t_ms, set_acc = em.sensor(body, rotation(30, 140, 60), rng)

    prescriptions.write_text("wearers: {}\n")  # the clinic's file, no one prescribed yet
    sink = EmbeddedSink(db)
    spool = open_spool(settings.bridge, tmp_path / "spool")
    bridge = Bridge(topics=topics, sink=sink, spool=spool, settings=settings.bridge, max_ahead_ms=None)
    stop = asyncio.Event()

    async with (
        alert_service(settings) as service,
        recording(settings, [topics.all_events(), topics.all_prescriptions()], f"{unique}-rec") as rec,
        asyncio.TaskGroup() as group,
    ):
        group.create_task(serve(bridge.run, settings.mqtt, f"{unique}-bridge", stop, manual_ack=True))
        group.create_task(serve(service.run, settings.mqtt, f"{unique}-alerts", stop))
        await until(lambda: bridge.ready.is_set() and service.ready.is_set(), 20, "the bridge and the alert service")

        # the clinician prescribes while the services run: 4 repetitions twice a week, +1 a week up to 8
        assert (
            await kinetic(
                "prescription",
                "set",
                "ann",
                EXERCISE,
                "sets=1",
                "reps=4",
                "per_week=2",
                "tempo={down_s: 3, pause_s: 1, up_s: 3}",
                "progression={add_reps: 1, max_reps: 8}",
            )
            == 0
        )

        def events(kind: str) -> list[EventV1]:
            found = [EventV1.model_validate_json(p) for s in ("/events", "/prescriptions") for p in rec.on(s)]
            return [e for e in found if e.kind == kind]

        await until(lambda: len(events("prescription_changed")) == 1, 20, "the prescription's event")
        assert events("prescription_changed")[0].reason == (
            "prescribed: 1 x 4 reps at 3-1-3 s, rest 30 s, 2 per week; set by the clinician (cli)"
        )

        async def session(start_at: datetime, pain: int) -> None:
            start = session_command("start", "ann", start_at, source="test", exercise=EXERCISE)
            t_ms = set_t_ms - em.T0_MS + round(start_at.timestamp() * 1000) + 2_000
            streamer = SessionStreamer("ann", "chest", start.session or "")
            end_at = datetime.fromtimestamp((int(t_ms[-1]) + 500) / 1000, tz=UTC)
            async with connect(settings.mqtt, f"{unique}-pub") as client:
                await client.publish(topics.commands("ann"), encode(start), qos=1)
                for chunk in streamer.chunks(t_ms, set_acc) + streamer.close(int(t_ms[-1]) + 500):
                    await client.publish(topics.session("ann", "chest"), encode(chunk), qos=1)
                end = session_command("end", "ann", end_at, source="test", session=start.session, effort=4, pain=pain)
                await client.publish(topics.commands("ann"), encode(end), qos=1)

        # the week: two sessions, each the full dose, pain 2 and 1
        await session(monday, 2)
        await session(monday + timedelta(days=2), 1)
        await until(lambda: len(events("session_outcome")) == 2, 30, "two session outcomes")
        assert [e.outcome for e in events("session_outcome")] == ["done", "done"]
        await until(lambda: bridge.counters.messages >= 3, 20, "the bridge storing them")
        await bridge.drain()

        # the weekly job: one step up proposed, pending, the prescription unchanged
        assert await kinetic("prescription", "propose", "--week", week) == 0
        await until(lambda: len(events("progression_proposed")) == 1, 20, "the proposal")
        (proposal,) = events("progression_proposed")
        assert proposal.exercise == EXERCISE and proposal.metrics is not None and proposal.metrics["reps"] == 5
        assert proposal.reason is not None and proposal.reason.startswith(f"{week}: reps 4 -> 5: a kept week")
        assert load_pending(prescriptions)["ann"][EXERCISE]["reps"] == 5
        assert yaml.safe_load(prescriptions.read_text())["wearers"]["ann"][0]["reps"] == 4

        # an impossible edit: refused naming the file, wearer, entry and reason; nothing written, nothing sent
        capsys.readouterr()
        assert await kinetic("prescription", "accept", "ann", EXERCISE, "reps=60") == 2
        err = capsys.readouterr().err
        assert f"{prescriptions}: wearer 'ann', entry 1 ({EXERCISE}): reps: " in err
        assert yaml.safe_load(prescriptions.read_text())["wearers"]["ann"][0]["reps"] == 4
        assert EXERCISE in load_pending(prescriptions)["ann"]

        # the clinician accepts: an event, the file changed, nothing pending
        assert await kinetic("prescription", "accept", "ann", EXERCISE) == 0
        await until(lambda: len(events("prescription_changed")) == 2, 20, "the accepted change")
        changed = events("prescription_changed")[-1]
        assert changed.reason == f"reps 4 -> 5; progression of {week} accepted by the clinician"
        assert yaml.safe_load(prescriptions.read_text())["wearers"]["ann"][0]["reps"] == 5
        assert load_pending(prescriptions) == {}

        # the running alert service judges the next session by the accepted dose: 4 of 5 is partial
        await session(third_at, 1)
        await until(lambda: len(events("session_outcome")) == 3, 30, "the third session")
        third = events("session_outcome")[-1]
        assert third.outcome == "partial" and third.metrics is not None and third.metrics["reps_prescribed"] == 5

        # the changes and the proposal are stored with the other events, the sessions for the weekly job
        queries, close = open_queries(settings.store, settings.influx)
        stored: list[str] = []

        async def look() -> None:
            await bridge.drain()
            rows = (await queries.export("ann"))["events"]
            stored[:] = [str(r["kind"]) for r in rows if r["kind"] != "session_outcome"]

        for _ in range(100):
            await look()
            if len(stored) >= 3:
                break
            await asyncio.sleep(0.1)
        assert sorted(stored) == ["prescription_changed", "prescription_changed", "progression_proposed"]
        sessions = await queries.session_outcomes("ann", 0, round(datetime.now(UTC).timestamp() * 1000))
        assert [s.outcome for s in sessions] == ["done", "done", "partial"] and sessions[0].figures["reps"] == 4
        await close()

        # the weekly job's adherence: none for last week (prescribed after it), 0 of 2 for the week of the partial
        # session (the dose in force at its end asks 2; a partial session is not done)
        assert events("session_adherence") == []
        this_year, this_number, _ = (monday + timedelta(days=7)).isocalendar()
        this_week = f"{this_year}-W{this_number:02d}"
        assert await kinetic("prescription", "propose", "--week", this_week) == 0
        await until(lambda: len(events("session_adherence")) == 1, 20, "the week's adherence")
        (adherence,) = events("session_adherence")
        assert adherence.exercise == EXERCISE and adherence.reason == f"{this_week}: 0 of 2 sessions done"
        assert adherence.metrics is not None and adherence.metrics["adherence_pct"] == 0
        assert adherence.t == monday + timedelta(days=10, hours=2)  # Thursday 12:00 on the wearer's clock (UTC)

        # the clinician's weekly report of that week: sessions, dose achieved, pain; the proposal decided, not pending
        assert await kinetic("report", "weekly", "--wearer", "ann", "--week", week, "--out", str(tmp_path / "r")) == 0
        html = next((tmp_path / "r").glob("*.html")).read_text()
        section = html[html.index("<h2>Exercise sessions</h2>") :]
        row = section[section.index(f"<td>{EXERCISE}</td>") :].split("</tr>")[0]
        cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
        # prescribed after that week (the test's sessions are dated last week): its dose then is not recorded
        assert cells[:8] == [EXERCISE, "not recorded", "not recorded", "2", "0", "0", "", "100 %"]
        assert cells[9:] == ["1.5, 2", "", "4.0"] and "proposal waiting" not in section
        stop.set()
    spool.close()
    await sink.aclose()


AUTOMATIC = f"""
wearers:
  bo:
    - exercise: spinal-decompression-60s
      sets: 3
      hold_s: 20
      per_week: 1
      progression: {{add_hold_s: 5, max_hold_s: 60, automatic: true}}
    - exercise: {EXERCISE}
      reps: 6
      per_week: 1
      progression: {{add_reps: 1, max_reps: 8}}
"""


@sync
async def test_automatic_progression_applies_itself_and_a_broker_down_changes_nothing(
    mosquitto: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unique = f"pa{uuid.uuid4().hex[:10]}"
    topics = Topics(unique)
    prescriptions, db = tmp_path / "prescriptions.yaml", tmp_path / "k.sqlite"
    prescriptions.write_text(AUTOMATIC)
    for key, value in {
        "KINETIC_MQTT__PORT": str(mosquitto.port),
        "KINETIC_MQTT__TOPIC_ROOT": unique,
        "KINETIC_MQTT__CLIENT_ID_PREFIX": unique,
        "KINETIC_STORE__KIND": "embedded",
        "KINETIC_STORE__EMBEDDED_PATH": str(db),
        "KINETIC_ALERTS__PRESCRIPTIONS_FILE": str(prescriptions),
    }.items():
        monkeypatch.setenv(key, value)
    settings = broker_settings(mosquitto, unique)
    # the week's stored sessions: the hold done and verified with pain 1; the sit-to-stand skipped
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # in 2026-W48
    sink = EmbeddedSink(db)
    for exercise, outcome in (("spinal-decompression-60s", "done"), (EXERCISE, "skipped")):
        event = EventV1(
            kind="session_outcome",
            wearer="bo",
            t=at,
            exercise=exercise,
            session=f"s-{exercise}"[:64],
            outcome=outcome,  # type: ignore[arg-type]
            metrics={"verified": 1.0, "pain": 1.0},
        )
        await sink.write(event_points(event))
    await sink.aclose()

    async def kinetic(*argv: str) -> int:
        return await asyncio.to_thread(main, list(argv))

    async with recording(settings, [topics.all_events(), topics.all_prescriptions()], f"{unique}-rec") as rec:
        assert await kinetic("prescription", "propose", "--week", "2026-W48") == 0

        def events(kind: str) -> list[EventV1]:
            found = [EventV1.model_validate_json(p) for p in rec.on("/prescriptions")]
            return [e for e in found if e.kind == kind]

        await until(lambda: len(events("prescription_changed")) == 1, 20, "the automatic change")
        proposals = {e.exercise: e for e in events("progression_proposed")}
        assert proposals["spinal-decompression-60s"].metrics == {
            "sets": 3.0,
            "rest_s": 30.0,
            "hold_s": 25.0,
            "per_week": 1.0,
            "step": 1.0,
            "automatic": 1.0,
        }
        kept = proposals[EXERCISE]
        assert kept.reason is not None and kept.reason.startswith("2026-W48: keep: kept: 0 of 1 sessions done")
        (changed,) = events("prescription_changed")
        assert changed.reason == "hold_s 20 -> 25; automatic progression of 2026-W48"
    data = yaml.safe_load(prescriptions.read_text())["wearers"]["bo"]
    assert data[0]["hold_s"] == 25 and data[1]["reps"] == 6
    assert load_pending(prescriptions) == {}  # applied, and a kept dose waits for no one

    capsys.readouterr()
    assert await kinetic("prescription", "show", "bo") == 0
    shown = capsys.readouterr().out
    assert "spinal-decompression-60s" in shown and "3 x 25 s hold, rest 30 s, 1 per week" in shown
    assert "progression +5 to 60, automatic" in shown

    # a rejected proposal: the dose stays, the decision is an event, nothing is pending
    pending = {"week": "2026-W48", "change": "up", "reps": 7, "reason": "reps 6 -> 7: a kept week", "proposed": "x"}
    save_pending(prescriptions, {"bo": {EXERCISE: pending}})
    async with recording(settings, [topics.all_events(), topics.all_prescriptions()], f"{unique}-rec2") as rec:
        assert await kinetic("prescription", "reject", "bo", EXERCISE) == 0
        await until(lambda: len(rec.on("/prescriptions")) == 1, 20, "the rejection's event")
        rejected = EventV1.model_validate_json(rec.on("/prescriptions")[0])
    assert rejected.kind == "prescription_changed" and rejected.metrics is not None and rejected.metrics["reps"] == 6
    assert rejected.reason == "unchanged; progression of 2026-W48 rejected by the clinician"
    assert (
        load_pending(prescriptions) == {} and yaml.safe_load(prescriptions.read_text())["wearers"]["bo"][1]["reps"] == 6
    )

    # the broker down: nothing is changed, and the message says so
    before = prescriptions.read_text()
    monkeypatch.setenv("KINETIC_MQTT__PORT", str(free_port()))
    assert await kinetic("prescription", "remove", "bo", EXERCISE) == 2
    assert "nothing was changed (every change is an event)" in capsys.readouterr().err
    assert prescriptions.read_text() == before
