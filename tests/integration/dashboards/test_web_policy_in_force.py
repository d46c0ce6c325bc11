"""Settings shows the policy the alert service applies, not the changes the web app happened to see (issue 16): the
real ``kinetic alerts`` on real Mosquitto publishes each wearer's policy in force, retained (``PolicyV1``), at its
start and after each change; a ``kinetic serve`` started after a change (sent by the command line while the app was
not running) reads it from the broker and shows its values and where each comes from."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from ingest.wire import PolicyV1, Topics
from tests.integration.dashboards.test_web import env, seed
from tests.support.processes import Proc, run_kinetic
from tests.support.servers import Server

pytestmark = pytest.mark.integration

POLICY = """
wearers:
  ann:
    timezone: Europe/Berlin
    max_per_day: 9
"""


def settings_page(url: str, wearer: str) -> str:
    with urllib.request.urlopen(f"{url}w/{wearer}/settings", timeout=20) as response:
        return str(response.read().decode())


def retained_policy(server: Server, topic: str) -> bytes | None:
    """The payload retained on ``topic`` (None: nothing retained), read by a fresh subscriber. The broker sends a
    subscription's retained message before anything published after its acknowledgement: a marker published then,
    once back, says that nothing more is coming."""
    got: list[bytes] = []
    marker = f"{topic}-marker"
    back = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.topic == marker:
            back.set()
        elif message.payload:
            got.append(bytes(message.payload))

    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_subscribe = lambda c, *args: c.publish(marker, b"x", qos=1)
    client.connect(server.host, server.port)
    client.loop_start()
    try:
        client.subscribe([(topic, 1), (marker, 1)])
        assert back.wait(20), f"the marker on {marker} did not come back"
    finally:
        client.loop_stop()
        client.disconnect()
    return got[0] if got else None


def test_a_change_sent_before_serve_starts_shows_in_settings(
    mosquitto: Server, tmp_path: Path, procs: list[Proc]
) -> None:
    root = "tpol" + os.urandom(4).hex()
    topics = Topics(root)
    store = tmp_path / "kinetic.sqlite"
    seed(store)  # a stored day (w1's): the pages read the store
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    environment = env(
        mosquitto,
        root,
        store,
        KINETIC_ALERTS__STATE_DIR=str(tmp_path / "alerts"),
        KINETIC_ALERTS__POLICY_FILE=str(policy_file),
    )
    alerts = Proc(["alerts"], environment, tmp_path / "alerts.log")
    procs.append(alerts)
    alerts.wait_for("watching")
    alerts.wait_for("alerts ann: policy in force published")  # at start: the wearers of the policy file

    # while no web app runs: the command line changes ann's threshold and sets bob's (no data from bob yet)
    for wearer, setting in (("ann", "sitting_threshold_min=25"), ("bob", "sitting_threshold_min=50")):
        sent = run_kinetic(["prompts", "policy", wearer, setting], environment)
        assert sent.returncode == 0, sent.stderr
    alerts.wait_for("alerts bob: policy in force published")
    retained = retained_policy(mosquitto, topics.policy("ann"))
    assert retained is not None
    ann = PolicyV1.model_validate_json(retained)
    assert ann.values["sitting_threshold_min"] == 25  # the change came before this subscriber: retained
    assert (ann.sources["sitting_threshold_min"], ann.sources["max_per_day"], ann.sources["snooze_min"]) == (
        "command",
        "file",
        "default",
    )
    assert (ann.timezone, ann.file) == ("Europe/Berlin", str(policy_file))

    serve = Proc(["serve"], environment, tmp_path / "serve.log")
    procs.append(serve)
    serve.wait_for("kinetic serve: open http://127.0.0.1:")
    serve.wait_for("web: following")
    url = serve.text().split("kinetic serve: open ", 1)[1].split()[0]

    deadline = time.monotonic() + 20
    page = settings_page(url, "ann")
    while "as the alert service published it" not in page and time.monotonic() < deadline:
        time.sleep(0.1)
        page = settings_page(url, "ann")
    assert "as the alert service published it" in page, page
    assert 'id="f-sitting_threshold_min" name="sitting_threshold_min" value="25"' in page
    assert 'id="s-sitting_threshold_min">(changed by a command)' in page
    assert 'id="f-max_per_day" name="max_per_day" value="9"' in page
    assert 'id="s-max_per_day">(policy file)' in page
    assert 'id="s-snooze_min">(default)' in page
    assert 'value="Europe/Berlin"' in page
    bob = settings_page(url, "bob")
    assert 'id="f-sitting_threshold_min" name="sitting_threshold_min" value="50"' in bob
    # a wearer stored but unknown to this alert service (no data, no policy): said so; this app's reading is shown
    unknown = settings_page(url, "w1")
    assert "has not published w1's policy yet" in unknown

    # kinetic data delete: the retained policy is cleared with the rest
    assert serve.terminate() == 0, serve.text()
    forget = run_kinetic(["data", "delete", "bob", "--yes"], environment)
    assert forget.returncode == 0, forget.stderr
    alerts.wait_for("alerts bob: forget")
    assert retained_policy(mosquitto, topics.policy("bob")) is None
    assert alerts.terminate() == 0, alerts.text()
