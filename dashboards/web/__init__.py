"""``kinetic serve``: a personal web app over the query layer and the MQTT topics (docs/web.md)."""
