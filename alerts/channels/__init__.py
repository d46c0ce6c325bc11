"""Delivery channels for prompts: the MQTT prompts topic (published by the service itself, and relayed to wearables
by the collector), ntfy, and a generic webhook; the dispatcher retries each on its own; the callback server turns
ntfy's Done / Snooze buttons into commands."""
