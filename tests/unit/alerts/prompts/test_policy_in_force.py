"""The policy in force as a retained wire message (issue 16): what the alert service applies to each wearer, the
source of each value, published at its start, after each change and cleared by ``forget``; and the web app's fold
of it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.in_force import policy_from_message, policy_message
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.service import AlertService
from dashboards.web.live import LiveBoard
from ingest.errors import WireError
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, PolicyV1, Topics, decode, encode

T_MS = 1_796_000_000_000  # 2026-11-29: after the scenario (not ahead of this clock)
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def book(tmp_path: Path) -> PolicyBook:
    path = tmp_path / "policy.yaml"
    path.write_text("defaults:\n  max_per_hour: 3\nwearers:\n  ann:\n    timezone: Europe/Berlin\n")
    return PolicyBook.load(path, PromptPolicy())


def test_the_message_names_each_values_source_and_crosses_the_wire(tmp_path: Path) -> None:
    policies = book(tmp_path)
    live = {"sitting_threshold_min": 25}
    message = policy_message(policies, "ann", live, policies.for_wearer("ann", live), T_MS)
    topics = Topics("t")
    address, decoded = decode(topics, topics.policy("ann"), encode(message))
    assert (address.kind, address.wearer) == ("policy", "ann")
    assert decoded == message
    assert isinstance(decoded, PolicyV1)
    assert decoded.sources["sitting_threshold_min"] == "command"
    assert decoded.sources["timezone"] == "file"  # the wearer's section
    assert decoded.sources["max_per_hour"] == "file"  # the file's defaults
    assert decoded.sources["snooze_min"] == "default"
    assert (decoded.timezone, decoded.file) == ("Europe/Berlin", str(tmp_path / "policy.yaml"))
    assert policy_from_message(decoded) == policies.for_wearer("ann", live)


def test_a_message_without_a_source_for_each_value_is_refused() -> None:
    message = policy_message(PolicyBook(), "ann", None, PromptPolicy(), T_MS)
    sources = dict(message.sources)
    del sources["snooze_min"]
    bad = message.model_dump_json().replace('"snooze_min":"default",', "")
    assert '"snooze_min":"default"' not in bad
    topics = Topics("t")
    with pytest.raises(WireError, match="sources must name the source of each key"):
        decode(topics, topics.policy("ann"), bad.encode())


class Broker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, payload, retain))

    def policies(self, topic: str) -> list[bytes]:
        return [payload for t, payload, retain in self.sent if t == topic and retain]


def test_the_alert_service_retains_each_change_once_and_forget_clears_it(tmp_path: Path) -> None:
    topics = Topics("t")
    engine = AlertEngine(EngineConfig(), load_catalog(), book(tmp_path))
    service = AlertService(topics=topics, engine=engine)
    scenario = parse_scenario(
        "start: 2026-11-23T09:00:00+01:00\nwearers:\n  - wearer: bob\n    placement: thigh\n    segments: [sit 3m]\n"
    )
    batches = [b for s in scenario.wearers for b in batches_for(scenario, s, 30)]
    broker = Broker()

    async def run() -> None:
        await service.publish_policy(broker, "ann")  # at start: ann is in the policy file
        await service.publish_policy(broker, "zed")  # not known: nothing
        for batch in batches:  # bob's first data: his policy, once
            await service.handle(broker, topics.features(batch.wearer, batch.device), encode(batch), T_MS)
        command = CommandV1(kind="policy", wearer="bob", at=AT, settings={"sitting_threshold_min": 40})
        await service.handle(broker, topics.commands("bob"), encode(command), T_MS)
        same = CommandV1(kind="policy", wearer="bob", at=AT, settings={"sitting_threshold_min": 40})
        await service.handle(broker, topics.commands("bob"), encode(same), T_MS)  # no change: nothing new
        forget = CommandV1(kind="forget", wearer="bob", at=AT)
        await service.handle(broker, topics.erasure("bob"), encode(forget), T_MS)

    asyncio.run(run())
    assert len(broker.policies(topics.policy("ann"))) == 1
    assert broker.policies(topics.policy("zed")) == []
    bob = broker.policies(topics.policy("bob"))
    assert len(bob) == 3 and bob[2] == b""  # first data, the change, then cleared by forget
    first, changed = (PolicyV1.model_validate_json(p) for p in bob[:2])
    assert first.values["sitting_threshold_min"] == 30.0 and first.sources["sitting_threshold_min"] == "default"
    assert changed.values["sitting_threshold_min"] == 40 and changed.sources["sitting_threshold_min"] == "command"


def test_the_web_board_shows_the_published_policy_then_the_commands_sent_since(tmp_path: Path) -> None:
    policies = book(tmp_path)
    board = LiveBoard(PolicyBook())  # this app does not read the service's policy file
    assert board.policy_origin("ann")["published_ms"] is None
    live = {"sitting_threshold_min": 25}
    board.feed(policy_message(policies, "ann", live, policies.for_wearer("ann", live), T_MS))
    assert board.policy("ann").sitting_threshold_min == 25 and board.policy("ann").timezone == "Europe/Berlin"
    origin = board.policy_origin("ann")
    assert origin["published_ms"] == T_MS and origin["sources"]["max_per_hour"] == "file"
    board.feed(CommandV1(kind="policy", wearer="ann", at=AT, settings={"snooze_min": 5}, source="web"))
    assert board.policy("ann").snooze_min == 5 and board.policy("ann").sitting_threshold_min == 25
    origin = board.policy_origin("ann")
    assert origin["sources"]["snooze_min"] == "command" and len(origin["changes"]) == 1
    live = {**live, "snooze_min": 5}
    board.feed(policy_message(policies, "ann", live, policies.for_wearer("ann", live), T_MS + 1000))
    assert board.policy_origin("ann")["changes"] == []  # applied: the service's message says so now
