"""``kinetic homeassistant`` on real Mosquitto (issue 15 item 4): discovery configs and states read back from the
broker as Home Assistant would get them, HA's button and number turned into Kinetic commands, bad input
dead-lettered, HA's restart, ``kinetic data delete`` removing the entities, and a day through the real alert service.

Not run here: a real Home Assistant. The configs are checked against HA's documented schema
(tests/unit/dashboards/homeassistant/schema.py) and the command payloads against Kinetic's wire contract.
"""

from __future__ import annotations

import asyncio
import json
import runpy
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboards.homeassistant.entities import (
    DEVICE_ENTITIES,
    WEARER_ENTITIES,
    HaTopics,
    device_configs,
    wearer_configs,
)
from dashboards.homeassistant.service import build_service
from ingest.mqtt import connect, retained_messages, serve
from ingest.settings import MqttSettings
from ingest.store.embedded import EmbeddedSink
from ingest.wire import (
    CommandV1,
    DeadLetterV1,
    DeviceStatusV1,
    EventV1,
    FeatureBatchV1,
    FeatureFrameV1,
    PromptV1,
    Topics,
    encode,
)
from kinetic.settings import KineticSettings, load_settings
from tests.support.pipeline import recording, until
from tests.support.processes import Proc, env_for
from tests.support.servers import Server, start_mosquitto
from tests.unit.dashboards.homeassistant.schema import problems

pytestmark = pytest.mark.integration

# two hours ago, on the minute: every time in the test is in the past of this host's clock
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ms(minutes: float) -> int:
    return round(at(minutes).timestamp() * 1000)


def features(wearer: str, device: str, minutes: float, seq: int) -> FeatureBatchV1:
    frame = FeatureFrameV1(t_ms=ms(minutes), incl_deg=85.0, enmo_mg=1.0, n=50)
    return FeatureBatchV1(wearer=wearer, device=device, placement="thigh", seq=seq, frames=[frame])


def kinetic(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kinetic", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def ha_env(mosquitto: Server, unique: str, tmp_path: Path) -> dict[str, str]:
    env = env_for(mosquitto.port, "http://127.0.0.1:9", unique, tmp_path)
    return env | {
        "KINETIC_STORE__KIND": "embedded",
        "KINETIC_STORE__EMBEDDED_PATH": str(tmp_path / "kinetic.sqlite"),
        "KINETIC_HOMEASSISTANT__DISCOVERY_PREFIX": f"{unique}-ha",
        "KINETIC_HOMEASSISTANT__BIRTH_TOPIC": f"{unique}-ha/status",
    }


def read_retained(settings: KineticSettings, *filters: str) -> dict[str, bytes]:
    async def read() -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        async with connect(settings.mqtt, f"{settings.mqtt.client_id_prefix}-read") as client:
            for topic_filter in filters:
                found.update(await retained_messages(client, topic_filter))
        return found

    return asyncio.run(read())


def test_wearers_appear_in_home_assistant_and_its_buttons_command_kinetic(
    mosquitto: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    env = ha_env(mosquitto, unique, tmp_path)
    settings = load_settings(environ=env)
    asyncio.run(EmbeddedSink(settings.store.embedded_path).aclose())  # an empty store: nothing but HA holds ann
    topics, ha = Topics(unique), HaTopics(unique, f"{unique}-ha")
    service = Proc(["homeassistant"], env, tmp_path / "homeassistant.log")
    procs.append(service)
    service.wait_for("Home Assistant under")

    async def kinetic_day() -> list[tuple[str, bytes]]:
        async with (
            recording(settings, [topics.all_commands(), topics.all_dead_letters()], f"{unique}-rec") as seen,
            connect(settings.mqtt, f"{unique}-pub") as client,
        ):
            status = DeviceStatusV1(wearer="ann", device="thigh", state="online", battery_pct=77)
            await client.publish(topics.status("ann", "thigh"), encode(status), qos=1, retain=True)
            bob = DeviceStatusV1(wearer="bob", device="bob-phone", state="online", battery_pct=40)
            await client.publish(topics.status("bob", "bob-phone"), encode(bob), qos=1, retain=True)
            started = EventV1(kind="bout_started", wearer="ann", t=at(0), posture="sitting", bout_start=at(0))
            await client.publish(topics.events("ann"), encode(started), qos=1)
            await client.publish(topics.features("ann", "thigh"), encode(features("ann", "thigh", 31, 1)), qos=1)
            prompt = PromptV1(
                id=f"ann-sitting-{ms(30)}",
                wearer="ann",
                trigger="sitting",
                exercise="standing-reach",
                title="Stand and reach",
                text="You have been sitting for 30 min. Stand up, reach up for 30 s.",
                created=at(30),
                expires=at(45),
            )
            await client.publish(topics.prompts("ann"), encode(prompt), qos=1)
            state = ha.state("ann", "last_prompt")
            expected = {"posture": b"sitting", "sitting_bout": b"31.0", "last_prompt": b"Stand and reach"}
            async with recording(settings, [f"{ha.base}/#"], f"{unique}-ha-rec") as ha_seen:
                await until(lambda: any(t == state for t, _ in ha_seen.messages), 20, "the last prompt's state")
                latest = dict(ha_seen.messages)
                for object_id, payload in expected.items():
                    assert latest[ha.state("ann", object_id)] == payload, object_id

                # Home Assistant: "Pause prompts 1 h" pressed, the threshold set to 25; a value the policy refuses,
                # and a payload that is not a press
                await client.publish(ha.command("ann", "pause_1h"), b"PRESS", qos=1)
                await client.publish(ha.command("ann", "sitting_threshold"), b"25", qos=1)
                await client.publish(ha.command("ann", "sitting_threshold"), b"0", qos=1)
                await client.publish(ha.command("ann", "resume"), b"ON", qos=1)
                await until(lambda: len(seen.on("/commands")) >= 2, 20, "the two commands")
                await until(lambda: len(seen.on("/homeassistant")) >= 2, 20, "two dead letters")
                await until(
                    lambda: (ha.state("ann", "sitting_threshold"), b"25") in ha_seen.messages, 20, "threshold state"
                )
                assert (ha.state("ann", "prompts_paused"), b"ON") in ha_seen.messages
            # Home Assistant restarts: it says so, and every config comes again
            async with recording(settings, [f"{ha.discovery_prefix}/#"], f"{unique}-cfg-rec") as configs:
                count = 2 * (len(WEARER_ENTITIES) + len(DEVICE_ENTITIES))  # ann and bob, a sensor each
                await until(lambda: len(configs.messages) >= count, 10, "the retained configs")
                await client.publish(f"{unique}-ha/status", b"online", qos=1)
                await until(lambda: len(configs.messages) >= 2 * count, 20, "the configs again")
            return seen.messages

    seen = asyncio.run(kinetic_day())
    commands = [CommandV1.model_validate_json(p) for t, p in seen if t.endswith("/commands")]
    pause, policy = commands[:2]
    assert (pause.kind, pause.wearer, pause.source) == ("pause", "ann", "homeassistant")
    assert pause.until is not None and pause.until - pause.at == timedelta(hours=1)
    assert pause.for_min == 60  # a span (issue 17), judged so on the data clock
    assert (policy.kind, policy.settings) == ("policy", {"sitting_threshold_min": 25})
    letters = [DeadLetterV1.model_validate_json(p) for t, p in seen if t.endswith("/_deadletter/homeassistant")]
    reasons = sorted(letter.reason for letter in letters)
    assert any("sitting_threshold_min" in r for r in reasons) and any("expected 'PRESS'" in r for r in reasons)

    # the full set, as Home Assistant gets it on subscribing: every config by HA's schema, and the states
    retained = read_retained(settings, f"{ha.discovery_prefix}/#", f"{ha.base}/#")
    configs = {t: json.loads(p) for t, p in retained.items() if t.startswith(f"{ha.discovery_prefix}/")}
    expected_configs = {
        **wearer_configs(ha, "ann", "x"),
        **device_configs(ha, "ann", "thigh", "x"),
        **wearer_configs(ha, "bob", "x"),
        **device_configs(ha, "bob", "bob-phone", "x"),
    }
    assert set(configs) == set(expected_configs)
    for topic, config in configs.items():
        assert problems(topic, config) == [], topic
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    states = {t: p for t, p in retained.items() if t.startswith(f"{ha.base}/")}
    assert states[ha.service_status()] == b"online"
    assert states[ha.availability("ann")] == b"online"
    assert states[ha.state("ann", "thigh_battery")] == b"77" and states[ha.state("bob", "bob-phone_battery")] == b"40"
    assert states[ha.state("ann", "posture")] == b"sitting"
    for config in configs.values():  # every state and availability topic a config names exists
        for topic in [config.get("state_topic"), *(a["topic"] for a in config["availability"])]:
            if topic is not None and "bob" not in topic and "last_prompt" not in topic and "rate" not in topic:
                assert topic in states, topic

    # kinetic data delete ann: Home Assistant's entities of ann go (empty retained configs), bob's stay
    delete = kinetic(env, "data", "delete", "ann", "--yes")
    assert delete.returncode == 0, delete.stderr
    assert "home assistant retained messages" in delete.stderr
    left = read_retained(settings, f"{ha.discovery_prefix}/#", f"{ha.base}/#")
    assert not [t for t in left if f"{unique}_ann" in t or t.startswith(f"{ha.base}/ann/")]
    assert any(f"{unique}_bob" in t for t in left)

    # the service stops: every entity unavailable
    assert service.terminate() == 0
    assert read_retained(settings, ha.service_status())[ha.service_status()] == b"offline"


def test_the_acl_lets_the_service_and_home_assistant_do_their_part_only(tmp_path: Path) -> None:
    """deploy/mosquitto/acl's users ``kinetic-ha`` (the service) and ``hass`` (Home Assistant), on real Mosquitto."""
    root = Path(__file__).resolve().parents[3]
    make_secrets = runpy.run_path(str(root / "deploy" / "make_secrets.py"))["make_secrets"]
    secrets, passwd = tmp_path / "secrets", tmp_path / "passwd"
    make_secrets(secrets, passwd, [])  # the users and passwords deploy/make_secrets.py makes for docker-compose
    acl = root / "deploy" / "mosquitto" / "acl"
    broker = start_mosquitto(
        tmp_path / "broker", extra_config=f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    )

    def as_user(user: str) -> KineticSettings:
        password = (secrets / f"mqtt_{user}_password").read_text().strip()
        mqtt = MqttSettings(port=broker.port, username=user, password=password, client_id_prefix=f"acl-{user}")
        return KineticSettings(mqtt=mqtt)

    topics, ha = Topics("kinetic"), HaTopics("kinetic")

    async def scenario() -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
        service = build_service(as_user("kinetic-ha"))
        stop = asyncio.Event()
        runner = asyncio.create_task(
            serve(service.run, as_user("kinetic-ha").mqtt, "acl-ha", stop, clean_session=True, will=service.will())
        )
        await until(service.ready.is_set, 20, "the service")
        async with (
            recording(as_user("alerts"), [topics.all_commands(), topics.all_features()], "acl-alerts") as alerts,
            recording(as_user("hass"), ["homeassistant/#", f"{ha.base}/#"], "acl-hass") as hass,
            connect(as_user("collector").mqtt, "acl-collector") as collector,
            connect(as_user("hass").mqtt, "acl-hass-pub") as hass_client,
        ):
            status = DeviceStatusV1(wearer="ann", device="thigh", state="online", battery_pct=60)
            await collector.publish(topics.status("ann", "thigh"), encode(status), qos=1, retain=True)
            await until(lambda: any(t.endswith("/thigh_battery") for t, _ in hass.messages), 20, "HA seeing ann")
            await hass_client.publish(ha.command("ann", "pause_1h"), b"PRESS", qos=1)
            await hass_client.publish(topics.features("ann", "thigh"), encode(features("ann", "thigh", 1, 1)), qos=1)
            await until(lambda: bool(alerts.on("/commands")), 20, "the command from HA's button")
            await asyncio.sleep(0.5)  # the features HA may not publish would have arrived by now
            await collector.publish(topics.status("ann", "thigh"), b"", qos=1, retain=True)
        stop.set()
        await runner
        return alerts.messages, hass.messages

    try:
        to_alerts, to_hass = asyncio.run(scenario())
    finally:
        broker.stop()
    assert [t for t, _ in to_alerts] == ["kinetic/v1/ann/commands"]  # hass's features were dropped
    assert CommandV1.model_validate_json(to_alerts[0][1]).kind == "pause"
    configs = {t for t, _ in to_hass if t.startswith("homeassistant/")}
    assert configs == {*wearer_configs(ha, "ann", "x"), *device_configs(ha, "ann", "thigh", "x")}
    assert ("kinetic/ha/ann/prompts_paused", b"ON") in to_hass


DAY = """
start: 2026-11-23T09:00:00+01:00
wearers:
  - wearer: zoe
    placement: thigh
    segments: [walk 1m, sit 32m, walk 3m]
"""


def test_a_simulated_morning_through_the_real_alert_service_shows_in_home_assistant(
    mosquitto: Server, unique: str, tmp_path: Path, procs: list[Proc]
) -> None:
    """The fold follows the events the real engine publishes: a 32-min sitting bout with its prompt, then a walk."""
    # a short rate limit: the last corrections are flushed 2 s after the data stopped (60 s by default)
    env = ha_env(mosquitto, unique, tmp_path) | {"KINETIC_HOMEASSISTANT__MIN_INTERVAL_S": "2"}
    settings = load_settings(environ=env)
    ha = HaTopics(unique, f"{unique}-ha")
    alerts = Proc(["alerts"], env, tmp_path / "alerts.log")
    service = Proc(["homeassistant"], env, tmp_path / "homeassistant.log")
    procs += [alerts, service]
    alerts.wait_for("watching")
    service.wait_for("Home Assistant under")
    (tmp_path / "day.yaml").write_text(DAY)
    sim = kinetic(env, "simulate", str(tmp_path / "day.yaml"), "--speed", "0")
    assert sim.returncode == 0, sim.stderr
    alerts.wait_for("prompt zoe-sitting-")

    def states() -> dict[str, str]:
        found = read_retained(settings, f"{ha.base}/zoe/#")
        return {t.removeprefix(f"{ha.base}/zoe/"): p.decode() for t, p in found.items()}

    async def settled() -> dict[str, str]:
        async with asyncio.timeout(30):
            while True:
                now = await asyncio.to_thread(states)
                if now.get("sitting_today") == "32.0" and now.get("posture") in ("moving", "standing"):
                    return now
                await asyncio.sleep(0.3)

    shown = asyncio.run(settled())
    # the bout events the engine sent: 09:01 to 09:33 local sitting (the hour's summary says the same: 1920 s)
    assert shown["sitting_bout"] == "0.0" and shown["breaks_today"] == "1"
    assert shown["last_prompt"] and json.loads(shown["last_prompt/attributes"])["trigger"] == "sitting"
    assert datetime.fromisoformat(shown["last_prompt_time"]) - datetime(2026, 11, 23, 8, 1, tzinfo=UTC) == timedelta(
        minutes=30
    )
    assert shown["availability"] == "offline"  # the simulator said its sensor went offline at the end
