"""Static shards of the alert service (issue 18 item 5, alerts/shard.py): each wearer on exactly one of COUNT
instances by a stable hash of the id, another shard's messages acknowledged unread and never dead-lettered, a bad
setting refused in one line. Two real instances on Mosquitto: tests/integration/alerts/test_alerts_shards.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.run import service_state_file
from alerts.service import AlertService
from alerts.settings import AlertsSettings
from alerts.shard import Shard, parse_shard, shard_client_id, shard_of
from alerts.state import AlertState
from ingest.process import one_client
from ingest.settings import user_data_dir
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import ID_PATTERN, CommandV1, Topics, encode
from kinetic.cli import main
from tests.support.publisher import QueuedClient, until_handled

TOPICS = Topics("k")
T0 = datetime.fromisoformat("2026-11-23T09:00:00+00:00")


def test_the_shard_of_a_wearer_is_crc32_of_its_id_and_never_changes() -> None:
    """Pinned: a state file and a persistent session belong to a shard, so the assignment must be the same on every
    host, Python and release (crc32(b"ann") = 3877663347; Python's hash() of a str differs per process)."""
    assert [shard_of(w, 2) for w in ("ann", "bob", "cy", "w0")] == [1, 0, 1, 0]
    assert [shard_of(w, 3) for w in ("ann", "bob", "cy", "w0")] == [0, 2, 2, 1]
    assert sum(shard_of(f"w{i}", 2) for i in range(10_000)) == 5_000  # the bench's wearers: an even split


@given(st.from_regex(ID_PATTERN, fullmatch=True), st.from_regex(ID_PATTERN, fullmatch=True), st.integers(1, 64))
def test_every_message_of_a_wearer_is_owned_by_exactly_one_shard(wearer: str, device: str, count: int) -> None:
    topics = [
        TOPICS.features(wearer, device),
        TOPICS.session(wearer, device),
        TOPICS.commands(wearer),
        TOPICS.erasure(wearer),
    ]
    for topic in topics:
        owners = [i for i in range(count) if Shard(i, count).owns_topic(topic, TOPICS.base)]
        assert owners == [shard_of(wearer, count)]


def test_a_topic_outside_the_root_is_taken_by_every_shard_to_be_dead_lettered() -> None:
    # the service subscribes under its root only; were anything else delivered, the shard that reads it refuses it
    assert Shard(0, 2).owns_topic("other/v1/ann/d/features", TOPICS.base)
    assert Shard(1, 2).owns_topic("k/v1", TOPICS.base)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2/2", "a shard's INDEX is 0 to 1 for COUNT 2 (shards are numbered from 0)"),
        ("0/0", "a shard's COUNT is 1 to 1024"),
        ("1", "a shard is INDEX/COUNT, e.g. 0/2 and 1/2 for two alert-service instances"),
        ("-1/2", "a shard is INDEX/COUNT, e.g. 0/2 and 1/2 for two alert-service instances"),
    ],
)
def test_a_bad_shard_is_refused_saying_what_is_expected(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match="^" + expected.replace("(", r"\(").replace(")", r"\)") + "$"):
        parse_shard(text)


def test_kinetic_alerts_with_a_bad_shard_stops_in_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KINETIC_ALERTS__SHARD", "2/2")
    monkeypatch.setenv("KINETIC_ALERTS__STATE_DIR", str(tmp_path / "state"))
    assert main(["alerts"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "kinetic: error: setting KINETIC_ALERTS__SHARD: Value error, a shard's INDEX is 0 to 1 for COUNT 2 (shards are "
        "numbered from 0) (got '2/2')"
    ]
    assert not (tmp_path / "state").exists()  # stopped before it opened anything


def test_each_shard_has_its_own_client_id_and_state_file_and_a_wearer_is_found_in_its_shards(tmp_path: Path) -> None:
    one = AlertsSettings(state_dir=tmp_path)
    shard = AlertsSettings(state_dir=tmp_path, shard=" 1 / 2 ")
    assert shard.shard == "1/2"
    assert shard_client_id("kinetic", one.sharding) == "kinetic-alerts"
    assert shard_client_id("kinetic", shard.sharding) == "kinetic-alerts-shard-1-of-2"
    assert service_state_file(one, "kinetic") == tmp_path / "kinetic.sqlite"
    assert service_state_file(shard, "kinetic") == tmp_path / "kinetic.shard-1-of-2.sqlite"
    # kinetic data (delete, export) looks for bob's state in the file of bob's shard, whichever instance runs it
    assert service_state_file(shard, "kinetic", "bob") == tmp_path / "kinetic.shard-0-of-2.sqlite"
    assert service_state_file(AlertsSettings(state_dir=None, shard="0/2"), "kinetic") is None


SCENARIO = parse_scenario(
    "start: 2026-11-23T09:00:00+00:00\nwearers:\n"
    + "".join(f"  - wearer: {w}\n    placement: thigh\n    segments: [sit 12m]\n" for w in ("ann", "bob", "cy"))
)


def day() -> list[tuple[str, bytes]]:
    """Ann, bob and cy sitting 12 min, a minute a message, interleaved; a bad payload and a command for each."""
    streams = [list(batches_for(SCENARIO, script, 60)) for script in SCENARIO.wearers]
    messages = [(TOPICS.features(b.wearer, b.device), encode(b)) for step in zip(*streams, strict=True) for b in step]
    for wearer in ("ann", "bob", "cy"):
        messages.append((TOPICS.features(wearer, "d"), b"not json"))
        pause = CommandV1(kind="pause", wearer=wearer, at=T0, source="cli")
        messages.append((TOPICS.commands(wearer), encode(pause)))
    return messages


def service_of(shard: Shard, state: AlertState | None = None) -> AlertService:
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy(sitting_threshold_min=10)))
    return AlertService(topics=TOPICS, engine=engine, state=state, send_expired=True, shard=shard)


def run_take(service: AlertService, client: QueuedClient) -> None:
    count = client.incoming.qsize()

    async def run() -> None:
        consumer = asyncio.create_task(service._consume(client))  # type: ignore[arg-type]
        await until_handled(service, count, consumer)
        await service.flush()
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await service.checkpoint(client)  # type: ignore[arg-type]

    asyncio.run(run())


@pytest.mark.parametrize("index", [0, 1])
def test_an_instance_handles_its_shards_wearers_and_acknowledges_the_others_unread(index: int, tmp_path: Path) -> None:
    """Shard 1 of 2 owns ann and cy, shard 0 bob (pinned above). Each instance gets every message, as on one broker:
    only its wearers reach the engine, only their bad message is dead-lettered and only they are prompted; every
    message, its own or not, is acknowledged, in order, once its checkpoint stored the state."""
    shard = Shard(index, 2)
    mine = {w for w in ("ann", "bob", "cy") if shard.owns(w)}
    state = AlertState(tmp_path / "s.sqlite")
    service = service_of(shard, state)
    messages = day()
    client = QueuedClient(messages)
    run_take(service, client)

    assert set(service.engine.wearers) == mine
    assert set(state.load()) == mine
    assert service.others_ignored == sum(1 for topic, _ in messages if not shard.owns_topic(topic, TOPICS.base))
    assert client.acked == list(range(1, len(messages) + 1))
    dead = [json.loads(p) for t, p in client.published if t == TOPICS.dead_letter("alerts")]
    assert sorted(d["topic"] for d in dead) == sorted(TOPICS.features(w, "d") for w in mine)
    prompted = {json.loads(p)["wearer"] for t, p in client.published if t.endswith("/prompts")}
    assert prompted == mine
    touched = {Topics("k").parse(t).wearer for t, _ in client.published if not t.startswith("k/v1/_deadletter")}
    assert touched == mine


def test_a_state_file_of_another_sharding_gives_up_the_wearers_that_moved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A state file written by another sharding (moved or renamed by hand; a new COUNT has files of its own): its
    wearers that hash elsewhere are not taken up here, with a warning; the others are restored."""
    state = AlertState(tmp_path / "s.sqlite")
    everyone = service_of(Shard(0, 1), state)
    run_take(everyone, QueuedClient(day()))
    assert set(state.load()) == {"ann", "bob", "cy"}
    again = service_of(Shard(1, 2), state)
    assert set(again.engine.wearers) == {"ann", "cy"}
    assert "1 wearers in" in caplog.text
    assert "belong to other shards than shard-1-of-2" in caplog.text


def test_a_second_instance_of_one_shard_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each shard is a persistent session of its own: a second ``kinetic alerts`` of shard 1/2 on this host stops in
    one line naming that shard's client id (the first holder here is this test: the lock is the same whoever holds
    it); the client id of shard 0/2 is another."""
    port = 18831  # nothing listens: the command must stop before it tries the broker
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KINETIC_MQTT__PORT", str(port))
    monkeypatch.setenv("KINETIC_MQTT__CLIENT_ID_PREFIX", "k1")
    monkeypatch.setenv("KINETIC_ALERTS__STATE_DIR", str(tmp_path / "alerts"))
    monkeypatch.setenv("KINETIC_ALERTS__SHARD", "1/2")
    client_id = "k1-alerts-shard-1-of-2"
    with one_client("127.0.0.1", port, client_id, user_data_dir() / "locks"):
        code = main(["alerts"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"kinetic: error: a process already runs as MQTT client {client_id!r} at 127.0.0.1:{port}")
    assert err.count("\n") == 1
    assert shard_client_id("k1", Shard(0, 2)) != client_id
