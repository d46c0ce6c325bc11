"""Kinetic inside Home Assistant, by MQTT discovery (docs/home-assistant.md).

- ``entities``: what each wearer is in Home Assistant: the discovery configs (HA's documented schema), the topics
  the entities read and write. Pure.
- ``states``: Kinetic's events, prompts and status folded into the entities' states, in event time. Pure.
- ``commands``: a press or a number set in Home Assistant -> a Kinetic ``CommandV1``, checked like the CLI's. Pure.
- ``service``: ``kinetic homeassistant``, the thin MQTT adapter around them; ``cli``: the command.
"""
