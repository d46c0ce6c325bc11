"""What Home Assistant publishes on a command topic -> a Kinetic ``CommandV1``, with the CLI's checks. Pure.

- ``pause_1h`` (a button, payload ``PRESS``): ``pause`` for 60 min from ``at`` (a span, ``for_min``; ``kinetic prompts
  pause W --for 60``);
- ``resume`` (a button): ``resume`` (``kinetic prompts resume W``);
- ``do_not_disturb`` (a switch, payload ``ON`` or ``OFF``): ``dnd_on`` / ``dnd_off`` (issue 17; apart from a pause);
- ``sitting_threshold`` (a number, payload the value in minutes as text): ``policy`` with ``sitting_threshold_min``
  (``kinetic prompts policy W sitting_threshold_min=V``), checked against the wearer's policy first, as the CLI does.

Anything else raises HomeAssistantError with one line naming the topic, what came and what is expected; the service
dead-letters it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from alerts.errors import PolicyError
from alerts.prompts.policy.model import PromptPolicy, merge
from dashboards.homeassistant.entities import OFF, ON, PRESS, HaTopics, HomeAssistantError
from ingest.wire import CommandV1, describe_validation_error

PAUSE_MIN = 60.0
SOURCE = "homeassistant"
_MAX_NUMBER_TEXT = 32


def command_for(topics: HaTopics, topic: str, payload: bytes, at: datetime, policy: PromptPolicy) -> CommandV1:
    """The Kinetic command a Home Assistant command message asks for, at ``at`` (this host's clock, as the CLI's);
    ``policy``: the wearer's effective policy, which a new threshold must pass."""
    wearer, object_id = topics.parse_command(topic)
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise HomeAssistantError(f"{topic}: the payload is not UTF-8 text") from None
    fields: dict[str, Any] = {}
    if object_id in ("pause_1h", "resume"):
        if text != PRESS:
            raise HomeAssistantError(f"{topic}: payload {text[:40]!r}, expected {PRESS!r} (a button press)")
        kind = "pause" if object_id == "pause_1h" else "resume"
        if kind == "pause":  # a span: it moves with at where commands are judged on the data's clock
            fields["for_min"] = PAUSE_MIN
    elif object_id == "do_not_disturb":
        if text not in (ON, OFF):
            raise HomeAssistantError(f"{topic}: payload {text[:40]!r}, expected {ON!r} or {OFF!r} (a switch)")
        kind = "dnd_on" if text == ON else "dnd_off"
    else:  # sitting_threshold
        kind = "policy"
        minutes = _minutes(topic, text)
        try:
            merge(policy, {"sitting_threshold_min": minutes}, f"{topic}")
        except PolicyError as exc:
            raise HomeAssistantError(str(exc)) from None
        fields["settings"] = {"sitting_threshold_min": minutes}
    try:
        return CommandV1(kind=kind, wearer=wearer, at=at, source=SOURCE, **fields)
    except ValidationError as exc:
        raise HomeAssistantError(f"{topic}: {describe_validation_error(exc)}") from None


def _minutes(topic: str, text: str) -> float:
    """A number entity's value: HA sends it as text ('25' or '25.0')."""
    expected = "a number of minutes (e.g. '25')"
    if len(text) > _MAX_NUMBER_TEXT:
        raise HomeAssistantError(f"{topic}: a payload of {len(text)} characters, expected {expected}")
    try:
        value = float(text)
    except ValueError:
        raise HomeAssistantError(f"{topic}: payload {text!r}, expected {expected}") from None
    if not math.isfinite(value):
        raise HomeAssistantError(f"{topic}: payload {text!r}, expected {expected}")
    return int(value) if value.is_integer() else value
