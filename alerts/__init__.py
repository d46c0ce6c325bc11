"""Kinetic alerts: posture per second, sitting bouts in event time, prompts. Talks to ingest only via the wire."""
