"""``kinetic phone`` on real parts: the HTTP push endpoint over loopback, Sensor Logger's MQTT over websockets (paho's
websockets transport, as the app speaks it) into real Mosquitto with the deployment's ACL, and a recorded pocket
excerpt through both, compared with the same export replayed by ``kinetic simulate --replay``."""

from __future__ import annotations

import asyncio
import json
import runpy
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import paho.mqtt.client as paho
import pytest

from ingest.mqtt import serve
from ingest.phone.export import open_export
from ingest.phone.replay import replay_export
from ingest.phone.sensorlogger import PhoneStream, decode_message
from ingest.phone.service import PhoneService
from ingest.settings import MqttSettings, PhoneConfig, PhoneSettings
from ingest.store.spool import Spool
from ingest.wire import DeadLetterV1, DeviceStatusV1, FeatureBatchV1, FeatureFrameV1, Topics
from kinetic.settings import KineticSettings
from tests.support.pipeline import Recorder, recording, until
from tests.support.sensorlogger import FIXTURES, fixture_readings, messages
from tests.support.servers import Server, start_mosquitto

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TOKENS = {"ann": "ann-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef"}


def phone_settings(root: str, tmp_path: Path) -> PhoneSettings:
    return PhoneSettings(
        phones=[
            PhoneConfig(wearer="ann", platform="android", token=TOKENS["ann"]),  # type: ignore[arg-type]
            PhoneConfig(wearer="bob", platform="android", token=TOKENS["bob"]),  # type: ignore[arg-type]
        ],
        http_port=0,
        max_request_kb=512,
        mqtt_topic_root=root,
        queue_path=tmp_path / "phone-queue.sqlite",
    )


class DataClock:
    """The receiver's clock during a replay: set by the test to just after the newest reading it sends, as if the
    recording were happening now (so the phone clock map has nothing to correct, as with a phone set right)."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s

    def after(self, payload: bytes) -> None:
        newest = max((r["time"] for r in json.loads(payload)["payload"]), default=0)
        self.now_s = newest / 1e9 + 0.05


@asynccontextmanager
async def running(service: PhoneService, mqtt: MqttSettings) -> AsyncIterator[str]:
    """The service's MQTT side and its HTTP endpoint; yields the push base URL."""
    stop = asyncio.Event()
    async with service.http_server() as port:
        task = asyncio.create_task(
            serve(service.forward, mqtt, f"phone-{uuid.uuid4().hex[:8]}", stop, will=service.will())
        )
        try:
            await until(service.ready.is_set, 20, "the phone service's subscription")
            yield f"http://127.0.0.1:{port}/sensorlogger"
        finally:
            stop.set()
            await task


def on_topic(recorder: Recorder, topic: str) -> list[bytes]:
    return [payload for t, payload in recorder.messages if t == topic]


def frames_of(recorder: Recorder, topic: str) -> list[FeatureFrameV1]:
    return [f for payload in on_topic(recorder, topic) for f in FeatureBatchV1.model_validate_json(payload).frames]


def settings_for(mqtt: MqttSettings) -> KineticSettings:
    return KineticSettings(mqtt=mqtt)


def test_http_push_refuses_without_the_wearers_token_and_stores_nothing(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)
    service = PhoneService(phone_settings(f"{unique}-sl", tmp_path), topics, Spool(tmp_path / "q.sqlite", 10**8))
    payloads = messages(fixture_readings("android")[:600])

    async def scenario() -> tuple[list[int], list[str]]:
        statuses = []
        async with (
            recording(settings_for(mqtt), [f"{unique}/v1/#"], "phone-recorder") as recorder,
            running(service, mqtt) as url,
            aiohttp.ClientSession() as http,
        ):
            attempts = [
                (f"{url}/ann", {}, payloads[0]),  # no token
                (f"{url}/ann?token=wrong-token-0123456789", {}, payloads[0]),  # an unknown token
                (f"{url}/ann?token={TOKENS['bob']}", {}, payloads[0]),  # bob's token for ann
                (f"{url}/ann", {"Authorization": "Bearer nope"}, payloads[0]),
                (f"{url}/ann?token={TOKENS['ann']}", {}, b"[" * 600_000),  # over max_request_kb
            ]
            for address, headers, body in attempts:
                async with http.post(address, data=body, headers=headers) as response:
                    statuses.append(response.status)
            refused_nothing_queued = service.queue.batches == 0 and service.counters.bad_messages == 0
            async with http.post(f"{url}/ann?token={TOKENS['ann']}", data=b"{oops") as response:
                statuses.append(response.status)
                reason = await response.text()
            for payload in payloads:  # accepted: the header form of the token too
                async with http.post(
                    f"{url}/ann", data=payload, headers={"Authorization": f"Bearer {TOKENS['ann']}"}
                ) as r:
                    statuses.append(r.status)
            assert refused_nothing_queued
            await until(lambda: bool(on_topic(recorder, topics.dead_letter("phone"))), 10, "the dead letter")
        letters = [DeadLetterV1.model_validate_json(p) for p in on_topic(recorder, topics.dead_letter("phone"))]
        return statuses, [reason, *(letter.reason for letter in letters)]

    statuses, reasons = asyncio.run(scenario())
    assert statuses[:6] == [401, 401, 403, 401, 413, 400]
    assert set(statuses[6:]) == {200}
    assert reasons[0].startswith("not a Sensor Logger message: not JSON")
    assert reasons[1].startswith("not JSON")
    counters = service.counters
    assert (counters.http_unauthorised, counters.http_forbidden, counters.http_too_large) == (3, 1, 1)
    assert counters.bad_messages == 1 and counters.http_accepted == len(payloads)


def publish_over_websockets(
    port: int,
    topic: str,
    payloads: list[bytes],
    *,
    user: str | None = None,
    password: str | None = None,
    before_each: Callable[[bytes], None] | None = None,
) -> None:
    """Publish as Sensor Logger does: MQTT over websockets, QoS 0 (paho's websockets transport)."""
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=f"sensor-logger-{uuid.uuid4().hex[:8]}", transport="websockets"
    )
    if user is not None:
        client.username_pw_set(user, password)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    try:
        assert connected.wait(10), "no CONNACK over websockets"
        for payload in payloads:
            if before_each is not None:
                before_each(payload)
            client.publish(topic, payload, qos=0).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_pocket_excerpt_through_http_and_mqtt_websockets_gives_the_frames_of_its_replay(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    """The fixture export's readings as the app would send them (1 s batches) by HTTP push as ann and by MQTT over
    websockets as bob, and the export itself replayed by ``kinetic simulate --replay`` as cat: the same frames."""
    assert mosquitto.websockets_port is not None
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)
    clock = DataClock()
    service = PhoneService(
        phone_settings(f"{unique}-sl", tmp_path), topics, Spool(tmp_path / "q.sqlite", 10**8), clock=clock
    )
    payloads = messages(fixture_readings("android"))
    export = open_export(FIXTURES / "pocket-android.zip")

    async def scenario() -> Recorder:
        async with (
            recording(settings_for(mqtt), [f"{unique}/v1/#"], "phone-recorder") as recorder,
            running(service, mqtt) as url,
            aiohttp.ClientSession() as http,
        ):
            for payload in payloads:
                clock.after(payload)
                async with http.post(f"{url}/ann?token={TOKENS['ann']}", data=payload) as response:
                    assert response.status == 200, await response.text()
            taken = service.streams["bob"].counters

            def before_each(payload: bytes) -> None:
                # one message at a time (QoS 0 keeps their order): the clock is the message's when it is taken
                _wait_sync(lambda: taken.messages >= payloads.index(payload))
                clock.after(payload)

            await asyncio.to_thread(
                publish_over_websockets,
                mosquitto.websockets_port,
                f"{unique}-sl/bob",
                payloads,
                before_each=before_each,
            )
            await until(lambda: taken.messages == len(payloads), 20, "bob's messages")
            await replay_export(
                export,
                wearer="cat",
                device="cat-phone",
                placement="thigh",
                ios_axes=False,
                mqtt=mqtt,
                topics=topics,
                speed=0,
                batch_s=10,
            )
            clock.now_s += 60  # the phones fell silent: their last seconds go out
            await until(lambda: bool(on_topic(recorder, topics.features("bob", "bob-phone"))), 20, "bob's frames")
            await until(
                lambda: (
                    len(frames_of(recorder, topics.features("ann", "ann-phone"))) >= 43
                    and len(frames_of(recorder, topics.features("bob", "bob-phone"))) >= 43
                ),
                20,
                "every second",
            )
            ann_status = topics.status("ann", "ann-phone")
            await until(lambda: len(on_topic(recorder, ann_status)) == 2, 20, "ann's phone online, then offline")
        return recorder

    recorder = asyncio.run(scenario())
    ann = frames_of(recorder, topics.features("ann", "ann-phone"))
    bob = frames_of(recorder, topics.features("bob", "bob-phone"))
    cat = frames_of(recorder, topics.features("cat", "cat-phone"))
    reference = PhoneStream("ann", "ann-phone", "thigh")
    pure = [f for p in payloads for b in reference.add_message(decode_message(p)) for f in b.frames]
    pure += [f for b in reference.flush() for f in b.frames]
    assert len(cat) == 43
    assert ann == bob == cat == pure
    sitting = [f for f in ann if f.gravity is not None and abs(f.gravity[2]) > 0.8]  # thigh horizontal: sat down
    assert sitting, "the excerpt ends sitting"
    online, offline = (
        DeviceStatusV1.model_validate_json(p) for p in on_topic(recorder, topics.status("ann", "ann-phone"))
    )
    assert (online.state, offline.state, online.placement) == ("online", "offline", "thigh")  # silent for 60 s
    assert service.streams["bob"].counters.missing_messages == 0


def _wait_sync(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """In a thread: wait until ``predicate`` holds (or the time is up; the test's own checks then fail)."""
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_the_deployment_acl_lets_a_phone_publish_on_its_own_topic_only(tmp_path: Path) -> None:
    """deploy/mosquitto/acl on real Mosquitto, with a websockets listener: ann's phone (user ann) reaches
    ``sensor-logger/ann`` and nothing else; ``kinetic phone`` (user collector) turns it into ann's frames."""
    make = runpy.run_path(str(ROOT / "deploy" / "make_secrets.py"))["make_secrets"]
    secrets, passwd = tmp_path / "secrets", tmp_path / "passwd"
    make(secrets, passwd, ["ann", "bob"])
    acl = ROOT / "deploy" / "mosquitto" / "acl"
    broker = start_mosquitto(
        tmp_path / "broker", extra_config=f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    )
    assert broker.websockets_port is not None

    def user(name: str, secret: str) -> MqttSettings:
        return MqttSettings(
            host="127.0.0.1", port=broker.port, username=name, password=(secrets / secret).read_text().strip()
        )

    ann_password = (secrets / "mqtt_wearer_ann_password").read_text().strip()
    topics = Topics("kinetic")
    settings = phone_settings("sensor-logger", tmp_path)
    clock = DataClock()
    service = PhoneService(settings, topics, Spool(tmp_path / "q.sqlite", 10**8), clock=clock)
    payloads = messages(fixture_readings("android")[:1500])  # 500 samples: about 10 s
    taken = service.streams["ann"].counters

    def before_each(payload: bytes) -> None:
        _wait_sync(lambda: taken.messages >= payloads.index(payload))
        clock.after(payload)

    async def scenario() -> Recorder:
        bridge = settings_for(user("bridge", "mqtt_bridge_password"))
        async with (
            recording(bridge, ["kinetic/v1/#", "sensor-logger/#"], "bridge") as recorder,
            running(service, user("collector", "mqtt_collector_password")),
        ):
            await asyncio.to_thread(
                publish_over_websockets,
                broker.websockets_port,
                "sensor-logger/ann",
                payloads,
                user="ann",
                password=ann_password,
                before_each=before_each,
            )
            for spoof in ("sensor-logger/bob", "sensor-logger", "kinetic/v1/bob/bob-phone/features"):
                await asyncio.to_thread(
                    publish_over_websockets,
                    broker.websockets_port,
                    spoof,
                    payloads[:1],
                    user="ann",
                    password=ann_password,
                )
            await until(lambda: service.streams["ann"].counters.messages == len(payloads), 20, "ann's messages")
            clock.now_s += 60
            await until(lambda: bool(on_topic(recorder, topics.features("ann", "ann-phone"))), 20, "ann's frames")
            await asyncio.sleep(0.5)
        return recorder

    try:
        recorder = asyncio.run(scenario())
    finally:
        broker.stop()
    assert service.streams["bob"].counters.messages == 0  # ann's spoof never reached the service
    assert service.counters.unknown_wearers == 0
    topics_seen = {topic for topic, _ in recorder.messages}
    assert "kinetic/v1/bob/bob-phone/features" not in topics_seen
    assert not any(t.startswith("sensor-logger") for t in topics_seen)  # the bridge user may not read phones' topics
    assert len(frames_of(recorder, topics.features("ann", "ann-phone"))) >= 9


def test_mqtt_messages_of_unknown_wearers_and_oversized_ones_are_dead_lettered(
    mosquitto: Server, tmp_path: Path, unique: str
) -> None:
    assert mosquitto.websockets_port is not None
    mqtt = MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique)
    topics = Topics(unique)
    service = PhoneService(phone_settings(f"{unique}-sl", tmp_path), topics, Spool(tmp_path / "q.sqlite", 10**8))
    good = messages(fixture_readings("android")[:300])

    async def scenario() -> list[DeadLetterV1]:
        async with (
            recording(settings_for(mqtt), [topics.dead_letter("phone")], "phone-recorder") as recorder,
            running(service, mqtt),
        ):
            port = mosquitto.websockets_port
            assert port is not None
            await asyncio.to_thread(publish_over_websockets, port, f"{unique}-sl/zed", good[:1])
            await asyncio.to_thread(publish_over_websockets, port, f"{unique}-sl/ann", [b" " * 600_000])
            await asyncio.to_thread(publish_over_websockets, port, f"{unique}-sl/ann", [b'{"messageId": -1}'])
            await asyncio.to_thread(publish_over_websockets, port, f"{unique}-sl/ann", good)
            await until(lambda: len(recorder.messages) >= 3, 20, "three dead letters")
            await until(lambda: service.streams["ann"].counters.messages == len(good), 20, "ann's good messages")
        return [DeadLetterV1.model_validate_json(p) for _, p in recorder.messages]

    letters = asyncio.run(scenario())
    reasons = sorted(letter.reason for letter in letters)
    assert reasons[0].startswith("600000 bytes: at most 512 kB per message")
    assert reasons[1].startswith("messageId: -1 is not a message counter")
    assert reasons[2].startswith("no phone configured for wearer 'zed'")
    assert (service.counters.too_large, service.counters.unknown_wearers, service.counters.bad_messages) == (1, 1, 1)
