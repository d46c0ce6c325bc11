"""Every user of deploy/mosquitto/acl against every topic family added since the first ACL (phones on ``sensor-
logger/<wearer>``, Home Assistant's discovery and ``kinetic/ha``, commands, the consent, erasure and prescriptions
topics; the web app's ``kinetic-web``, the operator's ``kinetic-operator``, and each clinic's clinicians'
``kinetic-clinic-<clinic>`` and web view's ``kinetic-web-clinic-<clinic>``, whose ACL lines make_secrets.py generates
from deploy/clinics.yaml), on real Mosquitto with the passwords
deploy/make_secrets.py writes: what each may publish and read arrives, each denial is shown. A read is a subscription
to the filter the service really uses (the web app's are wildcards: ``Topics.all_*``), shown by a message on one
topic it matches.

Mosquitto drops a publish the ACL refuses without telling the client (MQTT 3.1.1), and delivers nothing on a
subscription it refuses: so an observer allowed everything (a test-only user appended to the production ACL) sees
what was really published, and each reader what it was really given."""

from __future__ import annotations

import asyncio
import contextlib
import json
import runpy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from alerts.prompts.policy.in_force import policy_message
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from dashboards.web.app import LiveHub
from dashboards.web.live import LiveBoard
from dashboards.web.service import WebLink
from ingest.mqtt import connect, serve
from ingest.settings import MqttSettings
from ingest.wire import CommandV1, ConsentV1, EventV1, Topics, encode
from kinetic.cli import main
from tests.support.pipeline import until
from tests.support.servers import Server, start_mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
OBSERVER_PASSWORD = "observer-password-0123456789"
EXERCISE = "controlled-sit-to-stand"  # a catalog exercise (alerts/prompts/catalog)

# (user, topic, allowed): publishes
WRITES = [
    ("ann", "sensor-logger/ann", True),  # a phone publishes its own Sensor Logger stream
    ("ann", "sensor-logger/bob", False),
    ("ann", "kinetic/v1/ann/consent", True),  # kinetic consent, with the wearer's login
    ("ann", "kinetic/v1/bob/consent", False),
    ("ann", "kinetic/v1/ann/events", False),  # consent is not an event any more: a wearer writes no events
    ("ann", "kinetic/v1/bob/events", False),
    ("ann", "kinetic/v1/ann/commands", True),
    ("ann", "kinetic/v1/bob/commands", False),
    ("ann", "kinetic/v1/ann/prompts", False),  # prompts come from the alert service only
    ("ann", "homeassistant/sensor/kinetic_ann/sitting/config", False),
    ("ann", "kinetic/ha/ann/pause/set", False),
    ("collector", "kinetic/v1/ann/ann-thigh/features", True),
    ("collector", "kinetic/v1/ann/commands", False),
    ("collector", "kinetic/v1/ann/events", False),
    ("collector", "sensor-logger/ann", False),  # kinetic phone reads the phones, never speaks for them
    ("alerts", "kinetic/v1/ann/prompts", True),
    ("alerts", "kinetic/v1/ann/events", True),
    ("alerts", "kinetic/v1/ann/consent", False),  # the alert service writes events, never consent
    ("alerts", "kinetic/v1/ann/policy", True),  # the policy in force, retained for the web app's Settings
    ("alerts", "sensor-logger/ann", False),
    ("alerts", "homeassistant/sensor/kinetic_ann/sitting/config", False),
    ("bridge", "kinetic/v1/ann/commands", False),  # the bridge only reads (and dead-letters)
    ("bridge", "kinetic/v1/ann/ann-thigh/features", False),
    ("kinetic-ha", "homeassistant/sensor/kinetic_ann/sitting/config", True),
    ("kinetic-ha", "kinetic/v1/ann/commands", True),
    ("kinetic-ha", "kinetic/v1/ann/prompts", False),
    ("kinetic-ha", "kinetic/v1/ann/consent", False),
    ("kinetic-ha", "kinetic/v1/ann/ann-thigh/features", False),
    ("hass", "kinetic/ha/ann/pause/set", True),
    ("hass", "kinetic/v1/ann/commands", True),
    ("hass", "kinetic/v1/ann/ann-thigh/features", False),
    ("hass", "kinetic/v1/ann/events", False),
    ("hass", "kinetic/v1/ann/consent", False),
    ("hass", "sensor-logger/ann", False),
    # kinetic serve: the buttons' commands, the Sharing page's consent changes, its own dead letters; nothing else
    ("kinetic-web", "kinetic/v1/ann/commands", True),
    ("kinetic-web", "kinetic/v1/ann/events", False),  # only the alert service says what happened
    ("kinetic-web", "kinetic/v1/ann/consent", True),
    ("kinetic-web", "kinetic/v1/_deadletter/web", True),
    ("kinetic-web", "kinetic/v1/_deadletter/bridge", False),
    ("kinetic-web", "kinetic/v1/ann/prompts", False),
    ("kinetic-web", "kinetic/v1/ann/policy", False),  # the alert service says what it applies, no one else
    ("kinetic-web", "kinetic/v1/ann/ann-thigh/features", False),
    ("kinetic-web", "kinetic/v1/ann/ann-thigh/status", False),
    ("kinetic-web", "kinetic/v1/ann/ann-thigh/session", False),
    ("kinetic-web", "sensor-logger/ann", False),
    ("kinetic-web", "homeassistant/sensor/kinetic_ann/sitting/config", False),
    ("kinetic-web", "kinetic/ha/ann/pause/set", False),
    # a clinic's view of kinetic serve (physio-north's): its dead letters only
    ("kinetic-web-clinic-physio-north", "kinetic/v1/_deadletter/web", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/ann/commands", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/ann/events", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/ann/consent", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/ann/erasure", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/ann/prompts", False),
    # the operator's kinetic consent / kinetic data: consent changes, commands and erasure only
    ("kinetic-operator", "kinetic/v1/ann/consent", True),
    ("kinetic-operator", "kinetic/v1/ann/commands", True),
    ("kinetic-operator", "kinetic/v1/ann/erasure", True),  # kinetic data delete's forget
    ("kinetic-operator", "kinetic/v1/ann/events", False),
    # ... and kinetic data delete clears a wearer's retained device status and Home Assistant entities
    ("kinetic-operator", "kinetic/v1/ann/ann-thigh/status", True),
    ("kinetic-operator", "kinetic/ha/ann/sitting/state", True),
    ("kinetic-operator", "homeassistant/sensor/kinetic_ann/sitting/config", True),
    ("kinetic-operator", "kinetic/v1/ann/prompts", False),
    ("kinetic-operator", "kinetic/v1/ann/ann-thigh/features", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/ann/policy", False),
    ("ann", "kinetic/v1/ann/policy", False),
    ("collector", "kinetic/v1/ann/policy", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/policy", False),
    # erasure (forget): the operator's and the wearer's own logins only; every login that writes commands is refused
    ("ann", "kinetic/v1/ann/erasure", True),
    ("ann", "kinetic/v1/bob/erasure", False),
    ("alerts", "kinetic/v1/ann/erasure", False),
    ("kinetic-web", "kinetic/v1/ann/erasure", False),
    ("kinetic-ha", "kinetic/v1/ann/erasure", False),
    ("hass", "kinetic/v1/ann/erasure", False),
    ("collector", "kinetic/v1/ann/erasure", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/erasure", False),
    # kinetic prescription as clinic physio-north (patients ann, carl: deploy/clinics.yaml): prescription_changed /
    # progression_proposed on its own patients' prescriptions topics, nothing else; back-clinic-south's (bob) likewise
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/prescriptions", True),
    ("kinetic-clinic-physio-north", "kinetic/v1/carl/prescriptions", True),
    ("kinetic-clinic-physio-north", "kinetic/v1/bob/prescriptions", False),  # another clinic's patient
    ("kinetic-clinic-physio-north", "kinetic/v1/dora/prescriptions", False),  # no clinic's patient
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/events", False),  # no other event (a check-in, a bout)
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/consent", False),  # consent is the wearer's
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/commands", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/prompts", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/ann-thigh/features", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/ann-thigh/status", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/_deadletter/web", False),
    ("kinetic-clinic-physio-north", "sensor-logger/ann", False),
    ("kinetic-clinic-physio-north", "kinetic/ha/ann/pause/set", False),
    ("kinetic-clinic-back-clinic-south", "kinetic/v1/bob/prescriptions", True),
    ("kinetic-clinic-back-clinic-south", "kinetic/v1/ann/prescriptions", False),
    ("kinetic-clinic-back-clinic-south", "kinetic/v1/carl/prescriptions", False),
    ("kinetic-clinic-back-clinic-south", "kinetic/v1/bob/events", False),
    # prescriptions: the clinicians' logins, the operator and the web app's Prescriptions page; the alert service and
    # a wearer's sensor may not
    ("kinetic-operator", "kinetic/v1/ann/prescriptions", True),
    ("alerts", "kinetic/v1/ann/prescriptions", False),
    ("kinetic-web", "kinetic/v1/ann/prescriptions", True),
    ("ann", "kinetic/v1/ann/prescriptions", False),
    ("kinetic-clinic-back-clinic-south", "kinetic/v1/bob/consent", False),
]
# (user, topic filter, allowed): subscriptions; the observer publishes on sample(filter)
READS = [
    ("ann", "kinetic/v1/ann/prompts", True),
    ("ann", "kinetic/v1/bob/prompts", False),
    ("ann", "sensor-logger/bob", False),
    ("ann", "kinetic/v1/bob/ann-thigh/features", False),
    ("collector", "sensor-logger/ann", True),
    ("collector", "kinetic/v1/ann/commands", True),  # session_start / session_end open and close a session stream
    ("collector", "kinetic/v1/ann/events", False),
    ("hass", "kinetic/v1/ann/prompts", True),
    ("hass", "kinetic/v1/ann/ann-thigh/features", False),
    ("hass", "sensor-logger/ann", False),
    ("kinetic-ha", "sensor-logger/ann", False),
    ("kinetic-ha", "kinetic/v1/ann/events", True),
    ("alerts", "sensor-logger/ann", False),
    ("alerts", "kinetic/v1/ann/events", False),
    # kinetic serve's own subscriptions (dashboards/web/service.py) ...
    ("kinetic-web", "kinetic/v1/+/+/features", True),
    ("kinetic-web", "kinetic/v1/+/+/status", True),
    ("kinetic-web", "kinetic/v1/_collector/c1/status", True),
    ("kinetic-web", "kinetic/v1/+/prompts", True),
    ("kinetic-web", "kinetic/v1/+/events", True),
    ("kinetic-web", "kinetic/v1/+/commands", True),
    ("kinetic-web", "kinetic/v1/+/policy", True),
    # ... and what it does not need: raw session samples, other services' dead letters, phones, Home Assistant
    ("kinetic-web", "kinetic/v1/+/+/session", False),
    ("kinetic-web", "kinetic/v1/_deadletter/+", False),
    ("kinetic-web", "sensor-logger/ann", False),
    ("kinetic-web", "kinetic/ha/ann/pause/set", False),
    ("kinetic-web", "homeassistant/status", False),
    ("kinetic-web", "kinetic/v1/+/erasure", True),  # a forget empties the live card
    # a clinic's view (physio-north: ann, carl) subscribes to the same wildcards; the broker delivers its patients'
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/+/features", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/+/status", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/prompts", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/events", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/commands", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/erasure", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/policy", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/ann/policy", True),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/carl/carl-thigh/features", True),
    # ... and nothing of another clinic's patient, of a wearer in no clinic, or beyond the live topics
    ("kinetic-web-clinic-physio-north", "kinetic/v1/bob/bob-thigh/features", False),  # back-clinic-south's
    ("kinetic-web-clinic-physio-north", "kinetic/v1/bob/bob-thigh/status", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/bob/events", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/bob/prompts", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/bob/commands", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/dora/events", False),  # no clinic's patient
    ("kinetic-web-clinic-physio-north", "kinetic/v1/_collector/c1/status", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/consent", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/+/+/session", False),
    ("kinetic-web-clinic-physio-north", "kinetic/v1/_deadletter/+", False),
    ("kinetic-web-clinic-physio-north", "sensor-logger/ann", False),
    # back-clinic-south's view (bob) with the same wildcards: ann (physio-north's) never arrives
    ("kinetic-web-clinic-back-clinic-south", "kinetic/v1/+/+/features", False),
    ("kinetic-web-clinic-back-clinic-south", "kinetic/v1/+/events", False),
    ("kinetic-web-clinic-back-clinic-south", "kinetic/v1/ann/prompts", False),
    ("kinetic-web-clinic-back-clinic-south", "kinetic/v1/ann/policy", False),
    ("kinetic-web-clinic-back-clinic-south", "kinetic/v1/bob/events", True),
    # erasure is read by the services that hold a wearer (bridge, alerts, Home Assistant, the web app) only
    ("bridge", "kinetic/v1/+/erasure", True),
    ("alerts", "kinetic/v1/+/erasure", True),
    ("kinetic-ha", "kinetic/v1/+/erasure", True),
    ("collector", "kinetic/v1/+/erasure", False),
    # kinetic data export / delete read a wearer's retained messages: device status, Home Assistant's entities
    ("kinetic-operator", "kinetic/v1/ann/#", True),
    ("kinetic-operator", "kinetic/ha/ann/#", True),
    ("kinetic-operator", "homeassistant/+/kinetic_ann/+/config", True),
    ("kinetic-operator", "kinetic/v1/+/events", False),
    ("kinetic-operator", "kinetic/v1/+/+/features", False),
    ("ann", "kinetic/v1/ann/erasure", False),
    ("ann", "kinetic/v1/+/policy", False),
    ("collector", "kinetic/v1/+/policy", False),
    # the bridge takes consent from the wearers' consent topics
    ("bridge", "kinetic/v1/+/consent", True),
    ("kinetic-web", "kinetic/v1/+/consent", False),  # writes consent changes, reads none
    # a clinician's login reads nothing, its own patients' topics included
    ("kinetic-clinic-physio-north", "kinetic/v1/+/events", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/events", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/prescriptions", False),
    ("bridge", "kinetic/v1/+/prescriptions", True),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/consent", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/prompts", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/+/+/features", False),
    ("kinetic-clinic-physio-north", "kinetic/v1/ann/commands", False),
]


def sample(topic_filter: str) -> str:
    """One topic the filter matches: the first '+' is the wearer ann (or a service), the second her device; a '#'
    is a device status (under kinetic/v1) or an entity's state (under kinetic/ha)."""
    fills = iter(("ann", "ann-thigh"))
    if topic_filter.endswith("_deadletter/+"):
        fills = iter(("bridge",))
    rest = "ann-thigh/status" if topic_filter.startswith("kinetic/v1/") else "sitting/state"
    return "/".join(next(fills) if part == "+" else rest if part == "#" else part for part in topic_filter.split("/"))


Login = Callable[[str], MqttSettings]


def production_broker(tmp_path: Path) -> tuple[Server, Login]:
    """Mosquitto with deploy/mosquitto/acl and the password file make_secrets.py writes (wearers ann and bob; the
    clinics of deploy/clinics.yaml, whose generated ACL lines are in the shipped file: tests/unit/deploy/test_compose),
    plus the test-only observer allowed everything; and each user's login to it."""
    make = runpy.run_path(str(ROOT / "deploy" / "make_secrets.py"))
    secrets, passwd = tmp_path / "secrets", tmp_path / "passwd"
    roster = make["read_roster"](ROOT / "deploy" / "clinics.yaml")
    make["make_secrets"](secrets, passwd, ["ann", "bob"], roster=roster)
    with passwd.open("a") as handle:  # a test-only user allowed everything: the one who sees what really happened
        handle.write(f"observer:{make['mosquitto_hash'](OBSERVER_PASSWORD)}\n")
    acl = tmp_path / "acl"
    acl.write_text((ROOT / "deploy" / "mosquitto" / "acl").read_text() + "\nuser observer\ntopic readwrite #\n")
    broker = start_mosquitto(
        tmp_path / "broker", extra_config=f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    )

    def login(name: str) -> MqttSettings:
        secret = f"mqtt_wearer_{name}_password" if name in ("ann", "bob") else f"mqtt_{name}_password"
        password = OBSERVER_PASSWORD if name == "observer" else (secrets / secret).read_text().strip()
        return MqttSettings(host="127.0.0.1", port=broker.port, username=name, password=password)

    return broker, login


async def consume(client: aiomqtt.Client, into: list[tuple[str, bytes]]) -> None:
    async for message in client.messages:
        into.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]


def test_each_user_publishes_and_reads_only_what_the_acl_gives_it(tmp_path: Path) -> None:
    broker, login = production_broker(tmp_path)

    async def writes() -> set[bytes]:
        seen: list[tuple[str, bytes]] = []
        async with connect(login("observer"), "observer") as observer:
            await observer.subscribe("#", qos=1)
            task = asyncio.create_task(consume(observer, seen))
            for i, (user, topic, _) in enumerate(WRITES):
                async with connect(login(user), f"w{i}-{user}") as client:
                    await client.publish(topic, f"{i}".encode(), qos=1)
            allowed = {f"{i}".encode() for i, (_, _, ok) in enumerate(WRITES) if ok}
            await until(lambda: allowed <= {p for _, p in seen}, 20, "the allowed publishes")
            await asyncio.sleep(1.0)  # room for a refused one to (wrongly) arrive
            task.cancel()
        return {p for _, p in seen}

    async def reads() -> set[int]:
        got: dict[int, list[tuple[str, bytes]]] = {i: [] for i in range(len(READS))}
        async with contextlib.AsyncExitStack() as stack:
            tasks = []
            for i, (user, topic, _) in enumerate(READS):
                client = await stack.enter_async_context(connect(login(user), f"r{i}-{user}"))
                await client.subscribe(topic, qos=1)
                tasks.append(asyncio.create_task(consume(client, got[i])))
            async with connect(login("observer"), "observer-pub") as observer:
                for _, topic, _ in READS:
                    await observer.publish(sample(topic), b"x", qos=1)
            allowed = {i for i, (_, _, ok) in enumerate(READS) if ok}
            await until(lambda: all(got[i] for i in allowed), 20, "the allowed reads")
            await asyncio.sleep(1.0)
            for task in tasks:
                task.cancel()
        return {i for i, messages in got.items() if any(t == sample(READS[i][1]) for t, _ in messages)}

    try:
        published = asyncio.run(writes())
        read = asyncio.run(reads())
    finally:
        broker.stop()
    for i, (user, topic, ok) in enumerate(WRITES):
        assert (f"{i}".encode() in published) == ok, (
            f"{user} publishing on {topic}: expected {'allowed' if ok else 'denied'}"
        )
    for i, (user, topic, ok) in enumerate(READS):
        assert (i in read) == ok, f"{user} reading {topic}: expected {'allowed' if ok else 'denied'}"


def test_the_web_app_and_a_clinicians_prescription_command_work_under_their_own_logins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``kinetic serve`` MQTT link logged in as kinetic-web follows what the alert service publishes (events,
    the policy in force) and sends its buttons' commands and the Sharing page's consent change (on the consent topic;
    physio-north's view, as kinetic-web-clinic-physio-north, follows its patient ann and is given nothing of
    back-clinic-south's bob); ``kinetic prescription set`` logged in as physio-north's clinicians'
    kinetic-clinic-physio-north publishes its prescription_changed event for its patient ann, and nothing for bob
    (back-clinic-south's). A refused
    subscription or publish (MQTT 3.1.1: dropped without a word) would leave a link without messages or the observer
    without the one expected."""
    broker, login = production_broker(tmp_path)
    topics = Topics()  # the production root, the one the ACL names
    prescriptions = tmp_path / "prescriptions.yaml"
    prescriptions.write_text("wearers: {}\n")
    clinic = login("kinetic-clinic-physio-north")
    monkeypatch.setenv("KINETIC_MQTT__PORT", str(clinic.port))
    monkeypatch.setenv("KINETIC_MQTT__USERNAME", "kinetic-clinic-physio-north")
    monkeypatch.setenv("KINETIC_MQTT__PASSWORD", clinic.password.get_secret_value() if clinic.password else "")
    now = datetime.now(UTC).replace(microsecond=0)

    async def scenario() -> list[tuple[str, bytes]]:
        seen: list[tuple[str, bytes]] = []
        link = WebLink(topics=topics, board=LiveBoard(), hub=LiveHub(), max_ahead_ms=None)
        stop = asyncio.Event()
        async with connect(login("observer"), "observer") as observer:
            await observer.subscribe("#", qos=1)
            watching = asyncio.create_task(consume(observer, seen))
            web = asyncio.create_task(serve(link.run, login("kinetic-web"), "acl-web", stop, clean_session=True))
            # a clinic's view (KINETIC_WEB__CLINIC) subscribes to the same wildcards with its clinic's read-only login
            view = WebLink(topics=topics, board=LiveBoard(), hub=LiveHub(), max_ahead_ms=None)
            view_login = login("kinetic-web-clinic-physio-north")
            clinic_view = asyncio.create_task(serve(view.run, view_login, "acl-web-clinic", stop, clean_session=True))
            await until(lambda: link.ready.is_set() and view.ready.is_set(), 20, "the web app's MQTT links")
            async with connect(login("alerts"), "acl-alerts") as alerts:
                for wearer in ("bob", "ann"):  # bob's first: never given to physio-north's view
                    bout = EventV1(kind="bout_started", wearer=wearer, t=now, posture="sitting", bout_start=now)
                    await alerts.publish(topics.events(wearer), encode(bout), qos=1)
                in_force = policy_message(PolicyBook(), "ann", None, PromptPolicy(), int(now.timestamp() * 1000))
                await alerts.publish(topics.policy("ann"), encode(in_force), qos=1, retain=True)
            await until(
                lambda: (
                    link.board.wearers() == ["ann", "bob"]
                    and view.board.wearers() == ["ann"]
                    and all(
                        (w := board.get("ann")) is not None and w.published is not None
                        for board in (link.board, view.board)
                    )
                ),
                20,
                "the alert service's events (both wearers) and ann's policy in force at the web app, only ann's at the "
                "clinic's view",
            )
            await link.publish(CommandV1(kind="calibrate", wearer="ann", at=now))
            consent = ConsentV1(clinic="physio-north", data=["posture"])
            await link.publish_event(EventV1(kind="consent_granted", wearer="ann", t=now, consent=consent))
            for wearer in ("bob", "ann"):  # bob's first: dropped by the broker before ann's is taken
                prescribe = ["prescription", "--file", str(prescriptions), "set", wearer, EXERCISE, "sets=1", "reps=4"]
                code = await asyncio.to_thread(main, [*prescribe, "per_week=2"])
                assert code == 0

            def kinds(topic: str) -> list[str]:
                return [json.loads(p)["kind"] for t, p in seen if t == topic]

            await until(
                lambda: (
                    {"calibrate"} <= set(kinds(topics.commands("ann")))
                    and {"bout_started"} <= set(kinds(topics.events("ann")))
                    and kinds(topics.prescriptions("ann")) == ["prescription_changed"]
                    and kinds(topics.consent("ann")) == ["consent_granted"]
                ),
                20,
                "the web app's command and consent event and the clinician's prescription event",
            )
            assert link.dead_letters.count == 0 and view.dead_letters.count == 0
            assert view.board.wearers() == ["ann"]  # bob's event never reached physio-north's view
            assert kinds(topics.prescriptions("bob")) == []  # physio-north's clinician may not prescribe for bob
            stop.set()
            await asyncio.wait_for(asyncio.gather(web, clinic_view), 10)
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        return seen

    try:
        asyncio.run(scenario())
    finally:
        broker.stop()
