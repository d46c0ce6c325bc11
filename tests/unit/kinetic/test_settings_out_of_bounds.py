"""Settings that `kinetic config` accepts and a service then dies of, with a traceback.

KINETIC_CLOCK__MAX_AHEAD_S=inf (a natural way to write 'no limit'): `kinetic config` accepts and prints it, and then
`kinetic alerts`, `kinetic bridge` and `kinetic homeassistant` all stop at start-up with a traceback
(OverflowError: cannot convert float infinity to integer). README: a wrong setting stops with one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from alerts.engine import policy_book
from alerts.settings import AlertsSettings
from ingest.settings import BridgeSettings, ClockSettings
from ingest.store.spool import open_spool


@pytest.mark.parametrize("value", ["inf", "Infinity", "1e400"])
def test_an_infinite_limit_is_no_limit_or_refused_naming_the_setting(value: str) -> None:
    try:
        settings = ClockSettings(max_ahead_s=value)  # type: ignore[arg-type]
    except ValidationError as exc:  # refused as a wrong setting (one line, by the settings loader) is right too
        assert "max_ahead_s" in str(exc)
        return
    assert settings.max_ahead_ms is None or settings.max_ahead_ms > 0  # before: OverflowError


def test_an_infinite_spool_bound_is_no_bound_or_refused(tmp_path: Path) -> None:
    """KINETIC_BRIDGE__SPOOL_MAX_MB=inf: accepted by `kinetic config`; `kinetic bridge` died with OverflowError."""
    try:
        settings = BridgeSettings(spool_path=tmp_path / "spool.sqlite", spool_max_mb="inf")  # type: ignore[arg-type]
    except ValidationError as exc:
        assert "spool_max_mb" in str(exc)
        return
    open_spool(settings).close()


def test_a_prompt_lifetime_the_policy_refuses_is_refused_as_a_setting() -> None:
    """KINETIC_ALERTS__PROMPT_TTL_MIN=5000 (or inf): accepted by `kinetic config`; `kinetic alerts` died with a
    pydantic traceback ('1 validation error for PromptPolicy prompt_ttl_min'), the policy's bound being 1440."""
    try:
        settings = AlertsSettings(prompt_ttl_min=5000)
    except ValidationError as exc:
        assert "prompt_ttl_min" in str(exc)
        return
    policy_book(settings)
