"""ntfy's check-in buttons, end to end on a real Mosquitto: `kinetic prompts ask` sends the question to an ntfy
endpoint, the test presses "High" by POSTing to its action URL as the ntfy app does, the callback server of `kinetic
alerts` turns it into a ``checkin`` command, and the alert service publishes the check-in event."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp
import pytest

from alerts.run import run_alerts
from alerts.settings import AlertsSettings
from ingest.settings import MqttSettings
from ingest.wire import EventV1, Topics
from kinetic.cli import main
from kinetic.settings import KineticSettings
from tests.support.pipeline import recording, sync, until
from tests.support.receiver import receiver
from tests.support.servers import Server, free_port

pytestmark = pytest.mark.integration


@sync
async def test_the_stress_buttons_of_the_check_in_question_reach_the_alert_service(
    mosquitto: Server, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = Topics(unique)
    callback_port = free_port()

    async def ok(hit: object, n: int) -> int:
        return 200

    async with receiver(ok) as ntfy:
        env = {
            "KINETIC_MQTT__HOST": "127.0.0.1",
            "KINETIC_MQTT__PORT": str(mosquitto.port),
            "KINETIC_MQTT__TOPIC_ROOT": unique,
            "KINETIC_MQTT__CLIENT_ID_PREFIX": unique,
            "KINETIC_ALERTS__NTFY_URL": ntfy.url,
            "KINETIC_ALERTS__CALLBACK_URL": f"http://127.0.0.1:{callback_port}",
            "KINETIC_ALERTS__CALLBACK_PORT": str(callback_port),
            "KINETIC_ALERTS__CALLBACK_SECRET": "s3cret",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = KineticSettings(
            mqtt=MqttSettings(host="127.0.0.1", port=mosquitto.port, topic_root=unique, client_id_prefix=unique),
            alerts=AlertsSettings(
                state_dir=tmp_path / "state",
                ntfy_url=ntfy.url,
                callback_url=f"http://127.0.0.1:{callback_port}",
                callback_port=callback_port,
                callback_secret="s3cret",  # type: ignore[arg-type]
            ),
        )
        stop = asyncio.Event()
        service = asyncio.create_task(run_alerts(settings, stop))
        async with (
            recording(settings, [topics.all_events()], f"{unique}-rec") as rec,
            aiohttp.ClientSession() as http,
        ):
            await until(lambda: _listening(callback_port), 20, "the callback server")
            assert await asyncio.to_thread(main, ["prompts", "ask", "ann"]) == 0
            await until(lambda: len(ntfy.ok) == 1, 20, "the ntfy question")
            message = json.loads(ntfy.ok[0].body)
            assert message["topic"] == "kinetic-ann" and message["title"] == "Check-in"
            urls = {a["label"]: a["url"] for a in message["actions"]}
            assert list(urls) == ["Low", "Medium", "High"]

            async with http.post(urls["High"].replace("sig=", "sig=0")) as response:  # a forged button
                assert response.status == 403
            forged = urls["High"].replace("stress-high", "pain-9")  # another answer under the same signature
            async with http.post(forged) as response:
                assert response.status == 403
            async with http.post(urls["High"].replace("stress-high", "stress-extreme")) as response:
                assert response.status == 404
            async with http.post(urls["High"]) as response:
                assert response.status == 202
            await until(lambda: len(rec.on("/events")) == 1, 20, "the check-in event")
            (event,) = [EventV1.model_validate_json(p) for p in rec.on("/events")]
            assert (event.kind, event.wearer, event.metrics, event.reason) == (
                "checkin",
                "ann",
                {"stress_level": 2},
                "stress high",
            )
        stop.set()
        await asyncio.wait_for(service, 20)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
