"""Each persistent-session process refuses to start beside another of its MQTT client id on this host (issue 16):
``kinetic collect``, ``kinetic phone``, ``kinetic bridge`` and ``kinetic alerts`` take ``one_client``'s lock before
they open their queue, port, radio, spool, state or broker connection; the second says so in one line, exit 2.
The first holder here is this test (the lock is the same whoever holds it); a real second ``kinetic phone``:
tests/integration/kinetic/test_started_twice.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ingest.process import client_lock_path, one_client
from ingest.settings import user_data_dir
from kinetic.cli import main

PORT = 18830  # nothing listens: the command must stop before it tries the broker


@pytest.mark.parametrize(
    ("command", "role"),
    [(["collect"], "collector"), (["phone"], "phone"), (["bridge"], "bridge"), (["alerts"], "alerts")],
)
def test_a_second_instance_is_refused_in_one_line_before_it_opens_anything(
    command: list[str], role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KINETIC_MQTT__PORT", str(PORT))
    monkeypatch.setenv("KINETIC_MQTT__CLIENT_ID_PREFIX", "k1")
    monkeypatch.setenv("KINETIC_STORE__KIND", "embedded")
    monkeypatch.setenv("KINETIC_STORE__EMBEDDED_PATH", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("KINETIC_BRIDGE__SPOOL_PATH", str(tmp_path / "spool.sqlite"))
    monkeypatch.setenv("KINETIC_ALERTS__STATE_DIR", str(tmp_path / "alerts"))
    monkeypatch.setenv("KINETIC_PHONE__HTTP_PORT", "0")
    monkeypatch.setenv("KINETIC_PHONE__PHONES", json.dumps([{"wearer": "ann", "platform": "android"}]))
    wearable = {"wearer": "ann", "device": "ann-thigh", "profile": "kinetic-diy", "placement": "thigh", "name": "x"}
    monkeypatch.setenv("KINETIC_COLLECTOR__WEARABLES", json.dumps([wearable]))
    client_id = f"k1-{role}"
    with one_client("127.0.0.1", PORT, client_id, user_data_dir() / "locks"):
        code = main(command)
    err = capsys.readouterr().err
    lock = client_lock_path("127.0.0.1", PORT, client_id, user_data_dir() / "locks")
    assert code == 2, err
    assert err == (
        f"kinetic: error: a process already runs as MQTT client {client_id!r} at 127.0.0.1:{PORT} (a persistent "
        f"session) (process {os.getpid()} holds {lock}): stop it first, or give this one its own "
        "KINETIC_MQTT__CLIENT_ID_PREFIX\n"
    )
    # nothing opened but the lock beside its own file (the bridge's spool, the alert service's state): that one first
    opened = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert [p for p in opened if not p.endswith(".lock")] == [], f"{command[0]} opened {opened} before refusing"
