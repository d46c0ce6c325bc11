"""The alerts package's error root."""

from __future__ import annotations


class AlertsError(Exception):
    """Root of every error the alerts package raises on purpose."""


class CatalogError(AlertsError):
    """A catalog file or entry that cannot be used; the message names the file, the entry and the reason."""


class PolicyError(AlertsError):
    """A policy file, entry or live override that cannot be used; the message names where and why."""
