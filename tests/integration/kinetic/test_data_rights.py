"""``kinetic data``: a wearer's data rights end to end, on real Mosquitto and influxd (and the embedded store).

Issue 13, case 5: after ``kinetic data delete zoe --yes`` nothing of zoe's may come back - not the retained device
status the broker hands every new subscriber, not the points in the bridge's spool, not the alert service's state
and outbox - and the export holds everything the delete removes. Case 7: a wearer nothing is stored for is an error
naming those there are.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alerts.state import AlertState, snapshots_file, state_file
from ingest.mqtt import connect, retained_messages
from ingest.phone.tokens import TokenStore
from ingest.store import make_sink
from ingest.store.embedded import EmbeddedSink
from ingest.store.export import open_queries
from ingest.store.points import Point
from ingest.store.spool import Spool, open_spool
from ingest.wire import DeviceStatusV1, FeatureBatchV1, FeatureFrameV1, Topics, encode
from kinetic.settings import KineticSettings, load_settings
from tests.support.processes import Proc, env_for
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration

SCENARIO = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: zoe
    placement: thigh
    segments: [walk 1m, sit 32m, walk 1m]
  - wearer: ann
    placement: thigh
    segments: [walk 1m, sit 32m, walk 1m]
"""
FRAMES = 34 * 60
DAY_END_MS = 1_763_884_800_000 + FRAMES * 1000  # 2026-11-23T08:00Z (09:00+01:00) + the scenario
SPOOLED = 5  # points per wearer left in the spool, as a database outage leaves them


def kinetic(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kinetic", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def stored(settings: KineticSettings, wearer: str) -> dict[str, list[dict[str, object]]]:
    async def read() -> dict[str, list[dict[str, object]]]:
        queries, close = open_queries(settings.store, settings.influx)
        try:
            return await queries.export(wearer)
        finally:
            await close()

    return asyncio.run(read())


def wait_stored(settings: KineticSettings, wearer: str, features: int, prompts: int) -> None:
    async def poll() -> None:
        async with asyncio.timeout(60):
            while True:
                rows = await asyncio.to_thread(stored, settings, wearer)
                if len(rows["features"]) >= features and len(rows["prompts"]) >= prompts:
                    return
                await asyncio.sleep(0.3)

    asyncio.run(poll())


def retained(settings: KineticSettings, wearer: str) -> dict[str, bytes]:
    async def read() -> dict[str, bytes]:
        async with connect(settings.mqtt, f"{settings.mqtt.client_id_prefix}-test-retained") as client:
            return await retained_messages(client, f"{settings.mqtt.topic_root}/v1/{wearer}/#")

    return asyncio.run(read())


def spool_points(settings: KineticSettings, wearers: list[str]) -> None:
    """Points in the spool the bridge has not written yet (what a database outage leaves: test_bridge_faults.py)."""
    points = [
        Point.make(
            "features",
            {"wearer": w, "device": f"{w}-thigh", "placement": "thigh"},
            {"incl_deg": 85.0, "enmo_mg": 1.0, "steps": 0, "n": 52},
            DAY_END_MS + 1000 * i,
        )
        for w in wearers
        for i in range(SPOOLED)
    ]
    sink = make_sink(settings.store, settings.influx)
    spool = open_spool(settings.bridge)
    spool.append(sink.encode(points), len(points))
    spool.close()
    asyncio.run(sink.aclose())


def queue_messages(settings: KineticSettings, wearers: list[str]) -> None:
    """Messages a collector and a phone service queued and could not send yet (a broker outage), as they queue them:
    ``topic\\nretain\\npayload`` per entry."""
    topics = Topics(settings.mqtt.topic_root)
    for path, device in ((settings.collector.queue_path, "thigh"), (settings.phone.queue_path, "phone")):
        queue = Spool(path, 10**8)
        for w in wearers:
            frame = {"t_ms": DAY_END_MS + 60_000, "incl_deg": 85.0, "enmo_mg": 1.0, "n": 52}
            batch = {"v": 1, "wearer": w, "device": f"{w}-{device}", "placement": "thigh", "seq": 9, "frames": [frame]}
            queue.append(f"{topics.features(w, f'{w}-{device}')}\n0\n".encode() + json.dumps(batch).encode(), 1)
        queue.close()


def queued_topics(path: Path) -> list[str]:
    queue = Spool(path, 10**8)
    try:
        return [entry.body.split(b"\n", 1)[0].decode() for entry in queue.peek(10**6)]
    finally:
        queue.close()


def summary(stderr: str, verb: str) -> str:
    """The counts a ``data`` command printed: 'exported for zoe: <counts>; files' -> '<counts>'."""
    (line,) = [line for line in stderr.splitlines() if line.startswith(f"{verb} for ")]
    return line.split(": ", 1)[1].split("; ", 1)[0]


@pytest.mark.parametrize("store", ["influx_v1", "embedded"])
def test_a_deleted_wearer_stays_deleted_and_the_export_held_all_of_it(
    store: str, mosquitto: Server, influxd: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    env = env_for(mosquitto.port, influxd.url, unique, tmp_path)
    if store == "embedded":
        env |= {"KINETIC_STORE__KIND": "embedded", "KINETIC_STORE__EMBEDDED_PATH": str(tmp_path / "kinetic.sqlite")}
    settings = load_settings(environ=env)
    assert settings.alerts.state_dir is not None
    bridge, alerts = Proc(["bridge"], env, tmp_path / "bridge.log"), Proc(["alerts"], env, tmp_path / "alerts.log")
    procs += [bridge, alerts]
    bridge.wait_for("subscribed under")
    alerts.wait_for("watching")
    (tmp_path / "day.yaml").write_text(SCENARIO)
    sim = kinetic(env, "simulate", str(tmp_path / "day.yaml"), "--speed", "0")
    assert sim.returncode == 0, sim.stderr
    for wearer in ("zoe", "ann"):
        wait_stored(settings, wearer, FRAMES, 1)
        alerts.wait_for(f"prompt {wearer}-sitting-")
    # the bridge stops (as for an upgrade) with points of both wearers in its spool; the alert service keeps running
    assert bridge.terminate() == 0
    spool_points(settings, ["zoe", "ann"])
    queue_messages(settings, ["zoe", "ann"])
    phones = TokenStore(settings.phone.tokens_path)  # each has a phone with a push token (the Settings page's)
    for w in ("zoe", "ann"):
        phones.add(w, f"{w}-phone", "android", "trunk")
    ann_before = {m: len(rows) for m, rows in stored(settings, "ann").items()}
    status_topic = f"{unique}/v1/zoe/zoe-thigh/status"
    policy_topic = f"{unique}/v1/zoe/policy"  # the policy in force, retained by the alert service (docs/wire.md)
    assert sorted(retained(settings, "zoe")) == [policy_topic, status_topic]

    out = tmp_path / "export"
    export = kinetic(env, "data", "export", "zoe", "--out", str(out))
    assert export.returncode == 0, export.stderr
    document = json.loads((out / "zoe.json").read_text())
    measurements = document["measurements"]
    assert len(measurements["features"]) == FRAMES and len(measurements["prompts"]) == 1
    assert [r["state"] for r in measurements["device_status"]] == ["online", "offline"]
    assert len(document["spooled"]) == SPOOLED and all("zoe" in line for line in document["spooled"])
    assert list(document["open_minutes"]) == ["zoe-thigh"]
    assert document["retained"][status_topic]["state"] == "offline"
    assert document["retained"][policy_topic]["values"]["sitting_threshold_min"] == 30.0
    assert [(q["topic"].split("/")[-2], q["payload"]["wearer"]) for q in document["queued"]] == [
        ("zoe-thigh", "zoe"),
        ("zoe-phone", "zoe"),
    ]
    (phone,) = document["phones"]  # her phone and its times, never the token's hash
    assert (phone["device"], phone["placement"], "sha256" in phone) == ("zoe-phone", "trunk", False)
    alert_state = document["alert_state"]
    assert alert_state["snapshot"]["detection"]["primary"] == "zoe-thigh"
    assert [r["id"] for r in alert_state["outbox"]] == [r["id"] for r in measurements["prompts"]]
    for table in (
        "features",
        "prompts",
        "device_status",
        "spooled",
        "open_minutes",
        "retained",
        "queued",
        "phones",
        "alert_outbox",
    ):
        with (out / f"zoe-{table}.csv").open() as handle:
            assert list(csv.DictReader(handle)), table
    with (out / "zoe-alert_snapshot.csv").open() as handle:
        assert {"path": "detection.primary", "value": "zoe-thigh"} in list(csv.DictReader(handle))
    exported = summary(export.stderr, "exported")
    assert exported.startswith(f"{sum(len(rows) for rows in measurements.values())} stored rows, {SPOOLED} spooled")

    dry = kinetic(env, "data", "delete", "zoe")
    assert dry.returncode == 1 and summary(dry.stderr, "would delete") == exported
    delete = kinetic(env, "data", "delete", "zoe", "--yes")
    assert delete.returncode == 0, delete.stderr
    assert summary(delete.stderr, "deleted") == exported  # the export held everything the delete removed
    assert "2 queued messages" in exported and "1 phone push tokens" in exported
    assert [d.wearer for d in TokenStore(settings.phone.tokens_path).devices()] == ["ann"]  # zoe's token revoked
    # the senders' queues keep ann's messages only: nothing of zoe's is sent when the broker is back
    for path in (settings.collector.queue_path, settings.phone.queue_path):
        assert [t.split("/")[-3] for t in queued_topics(path)] == ["ann"]

    # the running alert service was told to forget zoe; it keeps ann
    alerts.wait_for("alerts zoe: forget")
    assert " forget ignored" not in alerts.text()
    assert alerts.terminate() == 0
    state = AlertState(state_file(settings.alerts.state_dir, unique))
    assert state.wearers() == ["ann"] and set(state.load()) == {"ann"}
    state.close()

    # a fresh bridge start: the broker hands it ann's retained status and nothing of zoe's; ann's spooled points
    # are written, zoe's are gone
    fresh = Proc(["bridge"], env, tmp_path / "bridge-fresh.log")
    procs.append(fresh)
    fresh.wait_for("subscribed under")
    wait_stored(settings, "ann", FRAMES + SPOOLED, 1)
    assert fresh.terminate() == 0
    assert fresh.text().rstrip().endswith(", 0 dead letters")  # the cleared status is no bad message
    assert all(not rows for rows in stored(settings, "zoe").values())
    ann_after = {m: len(rows) for m, rows in stored(settings, "ann").items()}
    assert ann_after == {**ann_before, "features": ann_before["features"] + SPOOLED}
    assert retained(settings, "zoe") == {}
    assert sorted(retained(settings, "ann")) == [f"{unique}/v1/ann/ann-thigh/status", f"{unique}/v1/ann/policy"]

    again = kinetic(env, "data", "export", "zoe", "--out", str(tmp_path / "again"))
    assert again.returncode == 2 and again.stderr.count("\n") == 1, again.stderr
    assert "wearer 'zoe': nothing is stored" in again.stderr and "wearers with data: ann" in again.stderr
    assert not (tmp_path / "again").exists()


def publish(settings: KineticSettings, messages: list[tuple[str, bytes]]) -> None:
    async def send() -> None:
        async with connect(settings.mqtt, f"{settings.mqtt.client_id_prefix}-test-publish") as client:
            for topic, payload in messages:
                await client.publish(topic, payload, qos=1)

    asyncio.run(send())


def test_a_running_bridge_does_not_write_back_the_minute_it_held_for_a_deleted_wearer(
    mosquitto: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    """The bridge keeps each device's current minute in memory (features_1m) until the next minute or ``offline``;
    deleting the wearer while it runs must drop that minute too, or the next status writes it back."""
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)
    env |= {"KINETIC_STORE__KIND": "embedded", "KINETIC_STORE__EMBEDDED_PATH": str(tmp_path / "kinetic.sqlite")}
    settings = load_settings(environ=env)
    topics = Topics(unique)
    bridge = Proc(["bridge"], env, tmp_path / "bridge.log")
    procs.append(bridge)
    bridge.wait_for("subscribed under")
    t0 = (int(time.time() * 1000) - 3_600_000) // 60_000 * 60_000  # an hour ago, on a minute

    def batch(wearer: str, first_s: int, seconds: int) -> tuple[str, bytes]:
        frames = [FeatureFrameV1(t_ms=t0 + (first_s + i) * 1000, incl_deg=85, enmo_mg=1, n=50) for i in range(seconds)]
        message = FeatureBatchV1(wearer=wearer, device=f"{wearer}-thigh", placement="thigh", seq=first_s, frames=frames)
        return topics.features(wearer, f"{wearer}-thigh"), encode(message)

    publish(settings, [batch("zoe", 0, 30), batch("ann", 0, 30)])  # the minute is open for both
    wait_stored(settings, "zoe", 30, 0)
    delete = kinetic(env, "data", "delete", "zoe", "--yes")
    assert delete.returncode == 0, delete.stderr
    bridge.wait_for("forgot zoe (open minutes dropped")
    # zoe's device goes offline (a new fact, stored) and ann goes on into the next minute: a bridge that still held
    # zoe's minute would write it now
    offline = DeviceStatusV1(wearer="zoe", device="zoe-thigh", placement="thigh", state="offline", t_ms=t0 + 40_000)
    publish(settings, [(topics.status("zoe", "zoe-thigh"), encode(offline)), batch("ann", 60, 5)])
    wait_stored(settings, "ann", 35, 0)
    assert bridge.terminate() == 0
    zoe = stored(settings, "zoe")
    assert not zoe.get("features") and not zoe.get("features_1m"), zoe
    assert [r["state"] for r in zoe["device_status"]] == ["offline"]
    assert len(stored(settings, "ann")["features_1m"]) == 1  # ann's first minute, complete


def embedded_env(tmp_path: Path, wearers: list[str], mqtt_port: int) -> dict[str, str]:
    """An embedded store holding two feature points and a prompt of each wearer; the settings that point at it."""
    path = tmp_path / "k.sqlite"
    t0 = 1_763_884_800_000  # 2026-11-23T08:00Z

    async def fill() -> None:
        sink = EmbeddedSink(path)
        await sink.write(
            [Point.make("features", {"wearer": w}, {"incl_deg": 80.0}, t0 + i) for w in wearers for i in (0, 1)]
            + [Point.make("prompts", {"wearer": w, "trigger": "sitting"}, {"id": f"{w}-1"}, t0) for w in wearers]
        )
        await sink.aclose()

    asyncio.run(fill())
    env = env_for(mqtt_port, "http://127.0.0.1:9", "data", tmp_path)
    return env | {"KINETIC_STORE__KIND": "embedded", "KINETIC_STORE__EMBEDDED_PATH": str(path)}


def test_an_unknown_wearer_is_one_line_naming_the_wearers_there_are(mosquitto: Server, tmp_path: Path) -> None:
    env = embedded_env(tmp_path, ["ann", "bob"], mosquitto.port)
    for args in (["export", "nobody"], ["delete", "nobody", "--yes"], ["export", "nobody", "--no-broker"]):
        out = kinetic(env, "data", *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert out.stderr.startswith("kinetic: error: wearer 'nobody': nothing is stored for this id in (store: ")
        assert out.stderr.rstrip().endswith("wearers with data: ann, bob")
    (tmp_path / "empty").mkdir()
    empty = kinetic(embedded_env(tmp_path / "empty", [], mosquitto.port), "data", "export", "nobody")
    assert empty.returncode == 2 and empty.stderr.rstrip().endswith("which holds no wearer yet"), empty.stderr


def test_without_a_broker_the_data_command_names_the_settings_and_the_flag(tmp_path: Path) -> None:
    env = embedded_env(tmp_path, ["ann", "bob"], free_port())
    for args in (["export", "ann", "--out", str(tmp_path / "x")], ["delete", "ann", "--yes"]):
        out = kinetic(env, "data", *args)
        error = out.stderr.splitlines()[-1]  # after the connection attempts' log lines
        assert out.returncode == 2 and error.startswith("kinetic: error: mqtt 127.0.0.1:"), out.stderr
        assert "KINETIC_MQTT__HOST / KINETIC_MQTT__PORT" in error and "--no-broker" in error
        assert "Traceback" not in out.stderr
    left = EmbeddedSink(tmp_path / "k.sqlite")
    assert left.count("features") == 4  # nothing was deleted
    asyncio.run(left.aclose())

    # the embedded demo's database has no broker: say so
    export = kinetic(env, "data", "export", "ann", "--no-broker", "--out", str(tmp_path / "x"))
    assert export.returncode == 0 and summary(export.stderr, "exported").startswith("3 stored rows, 0 spooled")
    assert json.loads((tmp_path / "x" / "ann.json").read_text())["measurements"]["prompts"][0]["id"] == "ann-1"
    assert kinetic(env, "data", "delete", "ann", "--no-broker").returncode == 1  # without --yes: only says
    assert kinetic(env, "data", "delete", "ann", "--no-broker", "--yes").returncode == 0
    left = EmbeddedSink(tmp_path / "k.sqlite")
    assert left.count("features") == 2 and left.count("prompts") == 1  # bob's
    asyncio.run(left.aclose())
    bad = kinetic(env, "data", "export", "W1!")
    assert bad.returncode == 2 and bad.stderr.startswith("kinetic: error: id 'W1!'")


def test_prune_deletes_old_raw_points_of_the_embedded_store_only(tmp_path: Path) -> None:
    env = embedded_env(tmp_path, ["ann", "bob"], free_port())
    # the points are of 2026-11-23: more than one day before any run of this test
    out = kinetic(env, "data", "prune", "--raw-days", "1")
    assert out.returncode == 0 and "pruned 4 raw points" in out.stderr
    left = EmbeddedSink(tmp_path / "k.sqlite")
    assert left.count("features") == 0 and left.count("prompts") == 2
    asyncio.run(left.aclose())
    wrong = kinetic(
        {"PATH": env["PATH"], "KINETIC_INFLUX__URL": "http://127.0.0.1:9"}, "data", "prune", "--raw-days", "1"
    )
    assert wrong.returncode == 2 and "KINETIC_INFLUX__RAW_RETENTION_DAYS" in wrong.stderr
    # the embedded store by default (no InfluxDB setting), but none here: said, and no file made
    home = tmp_path / "home"
    none = kinetic({"PATH": env["PATH"], "HOME": str(home)}, "data", "prune", "--raw-days", "1")
    assert none.returncode == 2 and "KINETIC_STORE__EMBEDDED_PATH" in none.stderr and "does not exist" in none.stderr
    assert not home.exists()


LAYOUT_1 = Path(__file__).parents[2] / "fixtures" / "alert-state-a0d521a.sqlite"  # ann's and bea's snapshots


def test_an_orphaned_snapshots_file_is_exported_and_erased_without_making_a_state_file(tmp_path: Path) -> None:
    """The alert state's snapshots file without its state file (lost, moved, not restored): export and delete find
    the wearer's snapshot there, say where it is, and erase it there; no state file is made beside it."""
    env = embedded_env(tmp_path, ["bob"], free_port())
    path = state_file(Path(env["KINETIC_ALERTS__STATE_DIR"]), "data")
    path.parent.mkdir()
    path.write_bytes(LAYOUT_1.read_bytes())
    AlertState(path).close()  # moved over to layout 2: the snapshots in their own file
    path.unlink()
    orphan = snapshots_file(path)

    export = kinetic(env, "data", "export", "ann", "--no-broker", "--out", str(tmp_path / "x"), "--format", "json")
    assert export.returncode == 0, export.stderr
    assert "1 alert snapshots" in summary(export.stderr, "exported")
    assert f"its snapshots file {orphan} is (orphaned" in export.stderr
    assert json.loads((tmp_path / "x" / "ann.json").read_text())["alert_state"]["snapshot"]["detection"]
    delete = kinetic(env, "data", "delete", "ann", "--no-broker", "--yes")
    assert delete.returncode == 0, delete.stderr
    assert "1 alert snapshots" in summary(delete.stderr, "deleted")
    with sqlite3.connect(orphan) as db:
        assert [r[0] for r in db.execute("SELECT wearer FROM wearers")] == ["bea"]
    assert not path.exists()
    unknown = kinetic(env, "data", "export", "ann", "--no-broker")
    assert unknown.returncode == 2 and "wearers with data: bea, bob" in unknown.stderr


@pytest.mark.parametrize(
    "fixture",
    [
        LAYOUT_1,
        # format-1 snapshots (pickles) in a file in WAL mode, from before the sessions table (issue 19)
        LAYOUT_1.with_name("alert-state-1cea834.sqlite"),
    ],
)
def test_an_export_reads_a_layout_1_state_in_place_without_changing_it(tmp_path: Path, fixture: Path) -> None:
    """Export opens the alert state read-only: a file of layout 1 keeps its bytes (not moved over to layout 2, no
    snapshots file made), and the export holds what reading it as the service does (moved over) gives."""
    env = embedded_env(tmp_path, ["bob"], free_port())
    path = state_file(Path(env["KINETIC_ALERTS__STATE_DIR"]), "data")
    path.parent.mkdir()
    path.write_bytes(fixture.read_bytes())
    moved = tmp_path / "moved" / "data.sqlite"  # the same file, opened as the service opens it
    moved.parent.mkdir()
    moved.write_bytes(fixture.read_bytes())
    state = AlertState(moved)
    expected = {w: state.holdings(w) for w in ("ann", "bea")}
    state.close()

    for wearer in ("ann", "bea"):
        out = tmp_path / f"x-{wearer}"
        export = kinetic(env, "data", "export", wearer, "--no-broker", "--out", str(out), "--format", "json")
        assert export.returncode == 0, export.stderr
        assert json.loads((out / f"{wearer}.json").read_text())["alert_state"] == expected[wearer]
    assert path.read_bytes() == fixture.read_bytes()
    assert not snapshots_file(path).exists()
