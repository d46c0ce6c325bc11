"""KINETIC_CLOCK__MAX_AHEAD_S=inf (a natural way to write 'no limit'): `kinetic config` accepts and prints it, and then
`kinetic alerts`, `kinetic bridge` and `kinetic homeassistant` all stop at start-up with a traceback
(OverflowError: cannot convert float infinity to integer). README: a wrong setting stops with one line naming it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ingest.settings import ClockSettings


@pytest.mark.parametrize("value", ["inf", "Infinity", "1e400"])
def test_an_infinite_limit_is_no_limit_or_refused_naming_the_setting(value: str) -> None:
    try:
        settings = ClockSettings(max_ahead_s=value)  # type: ignore[arg-type]
    except ValidationError as exc:  # refused as a wrong setting (one line, by the settings loader) is right too
        assert "max_ahead_s" in str(exc)
        return
    assert settings.max_ahead_ms is None or settings.max_ahead_ms > 0  # before: OverflowError
