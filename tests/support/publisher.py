"""A publisher port that keeps what a service publishes (the services take any object with ``publish``)."""

from __future__ import annotations

import json


class PublishedMessages:
    """Every ``publish`` call as ``(topic, payload)``, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, payload))

    def last(self, topic: str) -> str | None:
        """The last payload published on ``topic``, as text."""
        values = [p.decode() for t, p in self.sent if t == topic]
        return values[-1] if values else None

    def dead_letters(self) -> list[str]:
        """The reasons of the dead letters published, in order."""
        return [json.loads(p)["reason"] for t, p in self.sent if "/_deadletter/" in t]
