"""Home Assistant's documented MQTT discovery schema, for the components Kinetic publishes, as a checker for tests.

From Home Assistant's MQTT integration documentation: "MQTT Discovery" (topic format, the ``device`` and ``origin``
blocks, ``availability``) and the platform pages ``sensor.mqtt``, ``binary_sensor.mqtt``, ``button.mqtt``,
``number.mqtt`` and ``switch.mqtt`` (their configuration variables, which are required), plus the sensor entity
rules of the developer documentation (a device class's units; ``enum`` sensors take ``options`` and neither unit nor
state class; a ``timestamp`` takes neither). A config with a key a component does not document, or without one it
requires, fails: Home Assistant would refuse it (its schemas are strict) or silently ignore what was meant.
"""

from __future__ import annotations

import re
from typing import Any

DISCOVERY_TOPIC = re.compile(
    r"^(?P<prefix>.+)/(?P<component>[a-z_]+)/(?P<node>[A-Za-z0-9_-]+)/(?P<object>[A-Za-z0-9_-]+)/config$"
)

COMMON = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "default_entity_id",
    "device",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "entity_picture",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "name",
    "object_id",
    "origin",
    "payload_available",
    "payload_not_available",
    "platform",
    "qos",
    "unique_id",
}
KEYS: dict[str, set[str]] = {
    "sensor": COMMON
    | {
        "device_class",
        "expire_after",
        "force_update",
        "last_reset_value_template",
        "options",
        "state_class",
        "state_topic",
        "suggested_display_precision",
        "unit_of_measurement",
        "value_template",
    },
    "binary_sensor": COMMON
    | {
        "device_class",
        "expire_after",
        "force_update",
        "off_delay",
        "payload_off",
        "payload_on",
        "state_topic",
        "value_template",
    },
    "button": COMMON | {"command_template", "command_topic", "device_class", "payload_press", "retain"},
    "number": COMMON
    | {
        "command_template",
        "command_topic",
        "device_class",
        "max",
        "min",
        "mode",
        "optimistic",
        "payload_reset",
        "retain",
        "state_topic",
        "step",
        "unit_of_measurement",
        "value_template",
    },
    "switch": COMMON
    | {
        "command_template",
        "command_topic",
        "device_class",
        "optimistic",
        "payload_off",
        "payload_on",
        "retain",
        "state_off",
        "state_on",
        "state_topic",
        "value_template",
    },
}
REQUIRED = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "button": {"command_topic"},
    "number": {"command_topic"},
    "switch": {"command_topic"},  # the platform page's minimal example; without a state topic it is optimistic
}
DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
DURATION_UNITS = {"d", "h", "min", "s", "ms"}
SENSOR_DEVICE_CLASS_UNITS: dict[str, set[str] | None] = {  # None: no unit allowed
    "duration": DURATION_UNITS,
    "battery": {"%"},
    "enum": None,
    "timestamp": None,
}
BINARY_SENSOR_DEVICE_CLASSES = {"connectivity", "problem", "running", "occupancy", "presence"}


def _topic_ok(topic: object) -> bool:
    return isinstance(topic, str) and bool(topic) and "+" not in topic and "#" not in topic


def problems(topic: str, config: dict[str, Any]) -> list[str]:
    """What is wrong with one discovery message by Home Assistant's documented schema (empty: nothing)."""
    out: list[str] = []
    match = DISCOVERY_TOPIC.match(topic)
    if match is None:
        return [f"{topic}: not <prefix>/<component>/<node_id>/<object_id>/config"]
    component = match["component"]
    if component not in KEYS:
        return [f"{topic}: component {component!r} is not one checked here"]
    unknown = set(config) - KEYS[component]
    if unknown:
        out.append(f"{topic}: keys {sorted(unknown)} are not documented for {component}")
    missing = REQUIRED[component] - set(config)
    if missing:
        out.append(f"{topic}: required {sorted(missing)} missing")
    for key in ("state_topic", "command_topic", "json_attributes_topic"):
        if key in config and not _topic_ok(config[key]):
            out.append(f"{topic}: {key} {config[key]!r} is not a topic to publish on")
    if not config.get("unique_id") or not isinstance(config["unique_id"], str):
        out.append(f"{topic}: unique_id missing (HA keeps no discovered entity across restarts without it)")
    if not isinstance(config.get("name"), str) or not config["name"]:
        out.append(f"{topic}: name missing")
    device = config.get("device")
    if not isinstance(device, dict):
        out.append(f"{topic}: device block missing")
    else:
        if set(device) - DEVICE_KEYS:
            out.append(f"{topic}: device keys {sorted(set(device) - DEVICE_KEYS)} not documented")
        if not device.get("identifiers") and not device.get("connections"):
            out.append(f"{topic}: device needs identifiers or connections")
    origin = config.get("origin")
    if origin is not None and (not isinstance(origin, dict) or "name" not in origin or set(origin) - ORIGIN_KEYS):
        out.append(f"{topic}: origin must have a name and only {sorted(ORIGIN_KEYS)}")
    availability = config.get("availability")
    if not isinstance(availability, list) or not availability:
        out.append(f"{topic}: availability list missing")
    else:
        for entry in availability:
            if not isinstance(entry, dict) or "topic" not in entry or set(entry) - AVAILABILITY_KEYS:
                out.append(f"{topic}: availability entry {entry!r} is not {sorted(AVAILABILITY_KEYS)} with a topic")
            elif not _topic_ok(entry["topic"]):
                out.append(f"{topic}: availability topic {entry['topic']!r}")
        if "availability_topic" in config:
            out.append(f"{topic}: availability and availability_topic must not be used together")
    if config.get("availability_mode", "latest") not in ("all", "any", "latest"):
        out.append(f"{topic}: availability_mode {config['availability_mode']!r}")
    if config.get("entity_category", "config") not in ("config", "diagnostic"):
        out.append(f"{topic}: entity_category {config['entity_category']!r}")
    if config.get("qos", 0) not in (0, 1, 2):
        out.append(f"{topic}: qos {config['qos']!r}")
    if component == "sensor":
        out += _sensor_problems(topic, config)
    if component == "binary_sensor" and config.get("device_class", "connectivity") not in BINARY_SENSOR_DEVICE_CLASSES:
        out.append(f"{topic}: binary_sensor device_class {config['device_class']!r}")
    if component == "number":
        low, high, step = config.get("min", 1), config.get("max", 100), config.get("step", 1)
        if not low < high or not step > 0:
            out.append(f"{topic}: number min {low} / max {high} / step {step}")
        if config.get("mode", "auto") not in ("auto", "box", "slider"):
            out.append(f"{topic}: number mode {config['mode']!r}")
    return out


def _sensor_problems(topic: str, config: dict[str, Any]) -> list[str]:
    out = []
    device_class = config.get("device_class")
    unit = config.get("unit_of_measurement")
    if "state_class" in config and config["state_class"] not in STATE_CLASSES:
        out.append(f"{topic}: state_class {config['state_class']!r}")
    if device_class is not None:
        if device_class not in SENSOR_DEVICE_CLASS_UNITS:
            out.append(f"{topic}: sensor device_class {device_class!r} is not one checked here")
        else:
            units = SENSOR_DEVICE_CLASS_UNITS[device_class]
            if units is None and unit is not None:
                out.append(f"{topic}: a {device_class} sensor takes no unit")
            if units is not None and unit not in units:
                out.append(f"{topic}: a {device_class} sensor's unit is one of {sorted(units)}, not {unit!r}")
    if device_class in ("enum", "timestamp") and "state_class" in config:
        out.append(f"{topic}: a {device_class} sensor takes no state_class")
    if device_class == "enum" and not (isinstance(config.get("options"), list) and config["options"]):
        out.append(f"{topic}: an enum sensor needs options")
    if "options" in config and device_class != "enum":
        out.append(f"{topic}: options are for enum sensors")
    return out
