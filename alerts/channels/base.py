"""What a delivery channel is, and how it fails."""

from __future__ import annotations

from typing import Protocol

from alerts.errors import AlertsError
from ingest.wire import PromptV1


class ChannelError(AlertsError):
    """A delivery attempt failed in a way a retry may fix (down, timeout, 5xx, 429)."""


class ChannelRejected(ChannelError):
    """The receiver refused the prompt for good (a 4xx other than 408/429): retrying will not help."""


class Channel(Protocol):
    name: str

    async def deliver(self, prompt: PromptV1, target: str | None) -> None:
        """Deliver one prompt (``target``: a per-wearer address such as the ntfy topic). Raises ChannelError."""
        ...
