"""The ingest package's error root and its specific errors."""

from __future__ import annotations


class IngestError(Exception):
    """Root of every error the ingest package raises on purpose."""


class WireError(IngestError):
    """A topic or payload that breaks the wire contract."""


class DecodeError(IngestError):
    """Bytes from a wearable that do not decode (wrong length, unknown frame type, corrupted)."""


class ConfigError(IngestError):
    """A setting that cannot be used; the message names the setting and what is expected."""


class ScenarioError(IngestError):
    """A scenario file with an error; the message gives the file, the line and the problem."""


class SinkError(IngestError):
    """Writing points failed."""


class SinkUnavailable(SinkError):
    """The database could not be reached or answered 5xx: retry later, the data is still good."""


class SinkAuthError(SinkUnavailable):
    """The database refused our credentials: retried (an operator may fix it live), and said loudly."""


class SinkRejected(SinkError):
    """The database refused the data (HTTP 4xx): retrying the same lines will not help."""

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
