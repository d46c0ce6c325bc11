"""Each wearer's discovery configs against Home Assistant's documented schema (tests/.../schema.py)."""

from __future__ import annotations

import json

import pytest

from alerts.detect.summary import POSTURES
from alerts.errors import PolicyError
from alerts.prompts.policy.model import PromptPolicy, merge
from dashboards.homeassistant.entities import (
    COMMAND_OBJECTS,
    DEVICE_ENTITIES,
    WEARER_ENTITIES,
    HaTopics,
    HomeAssistantError,
    device_configs,
    threshold_bounds,
    wearer_configs,
)
from tests.unit.dashboards.homeassistant.schema import problems

TOPICS = HaTopics("kinetic")


def _all_configs(topics: HaTopics = TOPICS) -> dict[str, dict[str, object]]:
    configs: dict[str, dict[str, object]] = {}
    for wearer, devices in (("ann", ("thigh", "trunk")), ("bob", ("bob-phone",))):
        configs.update(wearer_configs(topics, wearer, "0.1.0"))
        for device in devices:
            configs.update(device_configs(topics, wearer, device, "0.1.0"))
    return configs


def test_every_config_follows_home_assistants_documented_schema() -> None:
    configs = _all_configs()
    assert len(configs) == 2 * len(WEARER_ENTITIES) + 3 * len(DEVICE_ENTITIES)
    for topic, config in configs.items():
        assert problems(topic, json.loads(json.dumps(config))) == [], topic


def test_the_schema_check_catches_what_home_assistant_would_refuse() -> None:
    topic, config = next(iter(wearer_configs(TOPICS, "ann", "0").items()))
    assert problems(topic, {**config, "state_topc": "x"})  # a misspelt key
    assert problems(topic, {k: v for k, v in config.items() if k != "state_topic"})
    assert problems(topic, {**config, "unit_of_measurement": "min"})  # an enum with a unit
    assert problems(topic, {**config, "device": {"name": "no identifiers"}})
    assert problems(topic, {**config, "availability": [{"payload_available": "online"}]})
    assert problems("homeassistant/sensor/kinetic ann/posture/config", config)


def test_unique_ids_are_unique_and_a_wearer_is_one_device() -> None:
    configs = _all_configs()
    ids = [c["unique_id"] for c in configs.values()]
    assert len(set(ids)) == len(ids)
    by_device: dict[str, set[str]] = {}
    for topic, config in configs.items():
        device = config["device"]
        assert isinstance(device, dict)
        by_device.setdefault(device["identifiers"][0], set()).add(topic.split("/")[2])
    assert by_device == {"kinetic_ann": {"kinetic_ann"}, "kinetic_bob": {"kinetic_bob"}}


def test_two_installations_on_one_broker_do_not_collide() -> None:
    other = _all_configs(HaTopics("site-b/kinetic"))
    assert not set(other) & set(_all_configs())
    ids = {c["unique_id"] for c in other.values()} & {c["unique_id"] for c in _all_configs().values()}
    assert not ids
    assert all(problems(t, c) == [] for t, c in other.items())


def test_availability_follows_the_service_and_kinetics_status() -> None:
    configs = _all_configs()
    for topic, config in configs.items():
        availability = config["availability"]
        assert isinstance(availability, list)
        assert availability[0]["topic"] == "kinetic/ha/status", topic
        assert config["availability_mode"] == "all"
    posture = configs["homeassistant/sensor/kinetic_ann/posture/config"]["availability"]
    assert isinstance(posture, list) and posture[1] == {"topic": "kinetic/ha/ann/availability"}
    battery = configs["homeassistant/sensor/kinetic_ann/trunk_battery/config"]["availability"]
    assert isinstance(battery, list) and battery[1] == {"topic": "kinetic/ha/ann/trunk_availability"}


def test_the_posture_options_are_the_detectors_postures() -> None:
    posture = wearer_configs(TOPICS, "ann", "0")["homeassistant/sensor/kinetic_ann/posture/config"]
    assert posture["options"] == list(POSTURES)


def test_the_threshold_number_offers_exactly_what_the_policy_accepts() -> None:
    low, high, step = threshold_bounds()
    number = wearer_configs(TOPICS, "ann", "0")["homeassistant/number/kinetic_ann/sitting_threshold/config"]
    assert (number["min"], number["max"], number["step"]) == (low, high, step)
    for value in (low, high):
        merge(PromptPolicy(), {"sitting_threshold_min": value}, "test")
    for value in (low - step, high + step):
        if value > 0 and value <= high:
            continue
        with pytest.raises(PolicyError):
            merge(PromptPolicy(), {"sitting_threshold_min": value}, "test")


def test_command_topics_parse_back_and_nothing_else_does() -> None:
    configs = _all_configs()
    commands = {c["command_topic"] for c in configs.values() if "command_topic" in c}
    assert len(commands) == 2 * len(COMMAND_OBJECTS)
    for topic in commands:
        assert isinstance(topic, str)
        wearer, object_id = TOPICS.parse_command(topic)
        assert topic == TOPICS.command(wearer, object_id)
    for bad in (
        "kinetic/ha/ann/posture/set",
        "kinetic/ha/ANN/pause_1h/set",
        "kinetic/ha/ann/pause_1h",
        "kinetic/v1/ann/commands",
        "kinetic/ha/ann/pause_1h/set/more",
    ):
        with pytest.raises(HomeAssistantError):
            TOPICS.parse_command(bad)
