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


class Unreachable(IngestError):
    """A server did not answer (connection refused, timed out, unknown host): a later attempt may succeed.

    The message names the server, how often it was tried, the underlying error and the setting to check;
    ``reason`` keeps the underlying error alone, for loops that say the rest themselves.
    """

    def __init__(self, where: str, reason: str, settings: str, attempts: int = 1) -> None:
        tried = "" if attempts == 1 else f" after {attempts} attempts"
        super().__init__(f"{where} unreachable{tried} ({reason}): check {settings}")
        self.where = where
        self.reason = reason
        self.settings = settings
        self.attempts = attempts


class StoreUnreachable(SinkUnavailable, Unreachable):
    """The database did not answer: a sink error the bridge retries like any unavailability."""
