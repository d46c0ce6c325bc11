"""Each wearer as a Home Assistant device: its entities, their discovery configs and topics. Pure.

Home Assistant's MQTT discovery (its MQTT integration's documentation, "MQTT Discovery", and each platform's page:
``sensor``, ``binary_sensor``, ``button``, ``number``, ``switch``): a retained JSON config on
``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` creates an entity, an empty retained message on the
same topic removes it. Every config here carries a ``unique_id`` (so HA keeps the entity across restarts), a
``device`` block with ``identifiers`` (so a wearer's entities form one device), an ``origin`` block and an
``availability`` list. One wearer is one node: ``<node prefix>_<wearer>``, the node prefix being Kinetic's topic root
made safe for a topic level, so two installations sharing a broker do not collide.

Topics Kinetic publishes for Home Assistant live under ``<root>/ha/`` (never under ``<root>/v1/``, which is the wire
contract's and which the bridge reads)::

    <root>/ha/status                         the service's availability: online, or offline (its MQTT last will)
    <root>/ha/<wearer>/availability          online while one of the wearer's sensors is (Kinetic's status topics)
    <root>/ha/<wearer>/<device>_availability online while that sensor is, and its collector
    <root>/ha/<wearer>/<object_id>           an entity's state (retained)
    <root>/ha/<wearer>/<object_id>/attributes  its attributes as JSON (the last prompt's text)
    <root>/ha/<wearer>/<object_id>/set       what Home Assistant publishes when a button is pressed or a number set
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types

from alerts.detect.summary import POSTURES
from alerts.prompts.policy.model import PromptPolicy
from ingest.errors import WireError
from ingest.wire import check_id

Component = Literal["sensor", "binary_sensor", "button", "number", "switch"]
Availability = Literal["service", "wearer", "device"]

ONLINE, OFFLINE = "online", "offline"  # HA's default payload_available / payload_not_available
PRESS = "PRESS"  # HA's default payload_press of a button
ON, OFF = "ON", "OFF"  # HA's default payload_on / payload_off of a binary sensor
MANUFACTURER = "Kinetic"
MODEL = "Posture coach"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class HomeAssistantError(ValueError):
    """Something Home Assistant sent that Kinetic cannot take: the message says what and what is expected."""


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity of a wearer's device (or of one of its sensors, ``per_device``)."""

    object_id: str
    component: Component
    name: str
    availability: Availability
    state: bool = True  # has a state topic
    command: bool = False  # has a command topic
    attributes: bool = False  # has a JSON attributes topic
    per_device: bool = False  # one per sensor: object id <device>_<object_id>
    extra: tuple[tuple[str, Any], ...] = ()


def threshold_bounds() -> tuple[float, float, float]:
    """min, max and step of the sitting threshold's number entity, from the policy's own validation
    (``PromptPolicy.sitting_threshold_min``: above 0, at most a day): HA never offers a value the policy refuses."""
    step = 1.0
    low, high = step, 24 * 60.0
    for rule in PromptPolicy.model_fields["sitting_threshold_min"].metadata:
        if isinstance(rule, annotated_types.Gt):
            low = float(rule.gt) + step  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Ge):
            low = float(rule.ge)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Le):
            high = float(rule.le)  # type: ignore[arg-type]
    return low, high, step


_MIN, _MAX, _STEP = threshold_bounds()

# The day's figures use state_class "total" (HA: a total that can go down as well as up), not "total_increasing":
# they can be corrected down (an open hour counted from the bouts replaced by its summary, a sensor found not worn);
# HA reads every decrease of a "total_increasing" sensor as a meter reset. A "total" restarts when its last_reset
# changes (HA's sensor documentation): each carries the start of the wearer's local day as last_reset, in its JSON
# attributes, read by last_reset_value_template, so HA's long-term statistics begin a new cycle at midnight.
_LAST_RESET = ("last_reset_value_template", "{{ state_attr(entity_id, 'last_reset') }}")
WEARER_ENTITIES: tuple[Entity, ...] = (
    Entity(
        "posture",
        "sensor",
        "Posture",
        "wearer",
        extra=(("device_class", "enum"), ("options", list(POSTURES)), ("icon", "mdi:human-handsdown")),
    ),
    Entity(
        "sitting_today",
        "sensor",
        "Sitting today",
        "service",
        attributes=True,
        extra=(
            ("device_class", "duration"),
            ("unit_of_measurement", "min"),
            ("state_class", "total"),
            _LAST_RESET,
            ("suggested_display_precision", 0),
        ),
    ),
    Entity(
        "sitting_bout",
        "sensor",
        "Current sitting bout",
        "wearer",
        extra=(
            ("device_class", "duration"),
            ("unit_of_measurement", "min"),
            ("state_class", "measurement"),
            ("suggested_display_precision", 0),
        ),
    ),
    Entity(
        "breaks_today",
        "sensor",
        "Breaks today",
        "service",
        attributes=True,
        extra=(("state_class", "total"), _LAST_RESET, ("icon", "mdi:human-greeting")),
    ),
    Entity(
        "lean_today",
        "sensor",
        "Leaning 10° or more today",
        "service",
        attributes=True,
        extra=(
            ("device_class", "duration"),
            ("unit_of_measurement", "min"),
            ("state_class", "total"),
            _LAST_RESET,
            ("suggested_display_precision", 0),
        ),
    ),
    Entity("last_prompt", "sensor", "Last prompt", "service", attributes=True, extra=(("icon", "mdi:message-alert"),)),
    Entity("last_prompt_time", "sensor", "Last prompt time", "service", extra=(("device_class", "timestamp"),)),
    Entity(
        "response_rate_week",
        "sensor",
        "Prompt response this week",
        "service",
        attributes=True,
        extra=(("unit_of_measurement", "%"), ("state_class", "measurement"), ("suggested_display_precision", 0)),
    ),
    Entity("prompts_paused", "binary_sensor", "Prompts paused", "service", extra=(("icon", "mdi:bell-sleep"),)),
    Entity(
        "pause_1h",
        "button",
        "Pause prompts 1 h",
        "service",
        state=False,
        command=True,
        extra=(("icon", "mdi:bell-off"),),
    ),
    Entity("resume", "button", "Resume prompts", "service", state=False, command=True, extra=(("icon", "mdi:bell"),)),
    # a do-not-disturb switch (issue 17): an automation can turn it on with HA's own focus / DND entities
    Entity(
        "do_not_disturb", "switch", "Do not disturb", "service", command=True, extra=(("icon", "mdi:minus-circle"),)
    ),
    Entity(
        "sitting_threshold",
        "number",
        "Sitting threshold",
        "service",
        command=True,
        extra=(
            ("min", _MIN),
            ("max", _MAX),
            ("step", _STEP),
            ("mode", "box"),
            ("unit_of_measurement", "min"),
            ("entity_category", "config"),
            ("icon", "mdi:timer-cog"),
        ),
    ),
)

DEVICE_ENTITIES: tuple[Entity, ...] = (
    Entity(
        "battery",
        "sensor",
        "battery",
        "device",
        per_device=True,
        extra=(
            ("device_class", "battery"),
            ("unit_of_measurement", "%"),
            ("state_class", "measurement"),
            ("entity_category", "diagnostic"),
        ),
    ),
    Entity(
        "connection",
        "binary_sensor",
        "connection",
        "service",
        per_device=True,
        extra=(("device_class", "connectivity"), ("entity_category", "diagnostic")),
    ),
)

COMMAND_OBJECTS = frozenset(e.object_id for e in WEARER_ENTITIES if e.command)


@dataclass(frozen=True, slots=True)
class HaTopics:
    """Every topic of Kinetic's Home Assistant side, from Kinetic's topic root and HA's discovery prefix."""

    root: str = "kinetic"
    discovery_prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"{self.root}/ha"

    @property
    def node_prefix(self) -> str:
        return _UNSAFE.sub("_", self.root)

    def node_id(self, wearer: str) -> str:
        return f"{self.node_prefix}_{check_id(wearer)}"

    def service_status(self) -> str:
        return f"{self.base}/status"

    def availability(self, wearer: str) -> str:
        return f"{self.base}/{check_id(wearer)}/availability"

    def device_availability(self, wearer: str, device: str) -> str:
        return f"{self.base}/{check_id(wearer)}/{check_id(device)}_availability"

    def state(self, wearer: str, object_id: str) -> str:
        return f"{self.base}/{check_id(wearer)}/{object_id}"

    def attributes(self, wearer: str, object_id: str) -> str:
        return f"{self.state(wearer, object_id)}/attributes"

    def command(self, wearer: str, object_id: str) -> str:
        return f"{self.state(wearer, object_id)}/set"

    def config(self, component: Component, wearer: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node_id(wearer)}/{object_id}/config"

    # Subscription filters
    def all_commands(self) -> str:
        return f"{self.base}/+/+/set"

    def wearer_configs(self, wearer: str) -> str:
        """Every discovery config of one wearer's device (any component, any entity)."""
        return f"{self.discovery_prefix}/+/{self.node_id(wearer)}/+/config"

    def wearer_states(self, wearer: str) -> str:
        """Every state, attribute and availability topic of one wearer."""
        return f"{self.base}/{check_id(wearer)}/#"

    def parse_command(self, topic: str) -> tuple[str, str]:
        """``<root>/ha/<wearer>/<object_id>/set`` -> (wearer, object_id); HomeAssistantError for any other topic."""
        prefix = self.base + "/"
        parts = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
        if len(parts) != 3 or parts[2] != "set":
            raise HomeAssistantError(f"topic {topic!r} is not a command topic ({prefix}<wearer>/<entity>/set)")
        wearer, object_id = parts[0], parts[1]
        try:
            check_id(wearer)
        except WireError as exc:
            raise HomeAssistantError(f"topic {topic!r}: {exc}") from None
        if object_id not in COMMAND_OBJECTS:
            raise HomeAssistantError(
                f"topic {topic!r}: {object_id!r} takes no command (commands: {', '.join(sorted(COMMAND_OBJECTS))})"
            )
        return wearer, object_id


def object_id(entity: Entity, device: str | None = None) -> str:
    if entity.per_device:
        if device is None:
            raise ValueError(f"entity {entity.object_id!r} is per sensor: a device is needed")
        return f"{check_id(device)}_{entity.object_id}"
    return entity.object_id


def device_block(topics: HaTopics, wearer: str, sw_version: str) -> dict[str, Any]:
    """The ``device`` block every entity of a wearer carries: one HA device per wearer."""
    return {
        "identifiers": [topics.node_id(wearer)],
        "name": f"Kinetic {wearer}",
        "manufacturer": MANUFACTURER,
        "model": MODEL,
        "sw_version": sw_version,
    }


def discovery_config(
    topics: HaTopics, wearer: str, entity: Entity, sw_version: str, device: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The discovery topic and config of one entity (of ``device`` for a per-sensor entity).

    Availability: every entity needs the service (``<root>/ha/status``, online while ``kinetic homeassistant``
    runs); what a sensor measures now (posture, the current bout) also needs one of the wearer's sensors online, and a
    sensor's battery that sensor (``availability_mode: all``)."""
    oid = object_id(entity, device)
    availability = [{"topic": topics.service_status(), "payload_available": ONLINE, "payload_not_available": OFFLINE}]
    if entity.availability == "wearer":
        availability.append({"topic": topics.availability(wearer)})
    elif entity.availability == "device":
        assert device is not None
        availability.append({"topic": topics.device_availability(wearer, device)})
    name = f"{device} {entity.name}" if entity.per_device else entity.name
    config: dict[str, Any] = {
        "name": name,
        "unique_id": f"{topics.node_id(wearer)}_{oid}",
        "device": device_block(topics, wearer, sw_version),
        "origin": {"name": MANUFACTURER, "sw_version": sw_version},
        "availability": availability,
        "availability_mode": "all",
        "qos": 1,
    }
    if entity.state:
        config["state_topic"] = topics.state(wearer, oid)
    if entity.command:
        config["command_topic"] = topics.command(wearer, oid)
    if entity.attributes:
        config["json_attributes_topic"] = topics.attributes(wearer, oid)
    config.update(dict(entity.extra))
    return topics.config(entity.component, wearer, oid), config


def wearer_configs(topics: HaTopics, wearer: str, sw_version: str) -> dict[str, dict[str, Any]]:
    """topic -> config of a wearer's own entities (not the per-sensor ones)."""
    return dict(discovery_config(topics, wearer, e, sw_version) for e in WEARER_ENTITIES)


def device_configs(topics: HaTopics, wearer: str, device: str, sw_version: str) -> dict[str, dict[str, Any]]:
    """topic -> config of one sensor's entities (battery, connection) on its wearer's device."""
    return dict(discovery_config(topics, wearer, e, sw_version, device) for e in DEVICE_ENTITIES)
