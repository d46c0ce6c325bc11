"""Prompting, pure: the micro-movement catalog (data), the per-wearer policy and its planner (due, held, snooze,
re-prompt, caps), and response tracking (did the wearer move). Delivery is in ``alerts.channels``."""
