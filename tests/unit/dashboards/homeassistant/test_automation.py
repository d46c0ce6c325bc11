"""docs/home-assistant.md's actionable-notification automation publishes commands Kinetic takes.

Its ``mqtt.publish`` payloads are rendered with Jinja2 (Home Assistant's template engine; ``to_json`` and ``now()``
as HA defines them) for a prompt the engine really sent; each must pass the wire contract and be applied by the alert
engine as the CLI's ``done`` / ``snooze`` are. Not run: Home Assistant and its companion app themselves.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import yaml

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.wire import CommandV1, PromptV1, Topics, decode

DOC = Path(__file__).resolve().parents[4] / "docs" / "home-assistant.md"


def automation() -> dict[str, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    (block,) = [b for b in blocks if "mqtt.publish" in b]
    loaded = yaml.safe_load(block)
    assert isinstance(loaded, dict)
    return loaded


def publish_actions(node: Any) -> list[dict[str, Any]]:
    """Every ``mqtt.publish`` action anywhere in the automation."""
    if isinstance(node, dict):
        found = [node["data"]] if node.get("action") == "mqtt.publish" else []
        return found + [a for value in node.values() for a in publish_actions(value)]
    if isinstance(node, list):
        return [a for item in node for a in publish_actions(item)]
    return []


def engine_with_a_prompt() -> tuple[AlertEngine, PromptV1]:
    scenario = parse_scenario("wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [walk 2m, sit 32m]\n")
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy(escalate_after_min=None)))
    out = [o for batch in batches_for(scenario, scenario.wearers[0], 10) for o in engine.process(batch)]
    (prompt,) = [o for o in out if isinstance(o, PromptV1)]
    return engine, prompt


def render(template: str, prompt: PromptV1) -> bytes:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps  # HA's to_json: the value as JSON
    berlin = ZoneInfo("Europe/Berlin")  # HA's now(): aware, in HA's configured time zone
    payload_json = json.loads(prompt.model_dump_json(exclude_none=True))  # HA's trigger.payload_json
    return env.from_string(template).render(prompt=payload_json, now=lambda: datetime.now(berlin)).encode()


def test_the_automations_done_and_snooze_are_commands_the_alert_engine_applies() -> None:
    flow = automation()
    assert flow["triggers"][0] == {"trigger": "mqtt", "topic": "kinetic/v1/ann/prompts"}
    actions = publish_actions(flow)
    assert len(actions) == 2
    kinds = []
    for data in actions:
        assert data["retain"] is False and data["qos"] == 1
        engine, prompt = engine_with_a_prompt()
        payload = render(data["payload"], prompt)
        address, command = decode(Topics("kinetic"), data["topic"], payload)
        assert isinstance(command, CommandV1) and address.wearer == "ann"
        assert command.prompt_id == prompt.id and command.source == "homeassistant"
        applied, events = engine.command(command)
        assert applied, command
        kinds.append(command.kind)
        assert [e.kind for e in events] == [{"ack": "prompt_ack", "snooze": "prompt_snoozed"}[command.kind]]
    assert kinds == ["ack", "snooze"]
