"""Settings that `kinetic config` accepts and a service then dies of, with a traceback.

KINETIC_CLOCK__MAX_AHEAD_S=inf (a natural way to write 'no limit'): `kinetic config` accepts and prints it, and then
`kinetic alerts`, `kinetic bridge` and `kinetic homeassistant` all stop at start-up with a traceback
(OverflowError: cannot convert float infinity to integer). README: a wrong setting stops with one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from alerts.engine import policy_book
from alerts.prompts.policy.model import PromptPolicy
from alerts.settings import AlertsSettings
from ingest.errors import ConfigError
from ingest.settings import BridgeSettings, ClockSettings
from ingest.store.spool import open_spool
from kinetic.settings import KineticSettings, load_settings


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


@pytest.mark.parametrize(
    "variable",
    [
        "KINETIC_BRIDGE__SPOOL_MAX_MB",
        "KINETIC_COLLECTOR__QUEUE_MAX_MB",
        "KINETIC_PHONE__QUEUE_MAX_MB",
        "KINETIC_ALERTS__PROMPT_TTL_MIN",
        "KINETIC_ALERTS__CHECKPOINT_S",
        "KINETIC_MQTT__CONNECT_TIMEOUT_S",
        "KINETIC_SIMULATE__SPEED",
    ],
)
@pytest.mark.parametrize("value", ["inf", "nan", "1e300"])
def test_a_size_or_time_no_service_can_use_is_refused_in_one_line_naming_it(variable: str, value: str) -> None:
    """Before: `kinetic config` took them and the service died with a traceback (int(inf), a policy's bound)."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={variable: value})
    line = str(info.value)
    assert line.startswith(f"setting {variable}: ") and "\n" not in line


def test_every_float_setting_of_every_section_refuses_infinity() -> None:
    """The rule is the sections' own (``allow_inf_nan=False``), not a list of known fields: a new float setting
    gets it too."""
    floats = [
        (section, name)
        for section, info in KineticSettings.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        for name, field in info.annotation.model_fields.items()
        if field.annotation in (float, float | None)
    ]
    assert len(floats) > 15
    for section, name in floats:
        if (section, name) == ("clock", "max_ahead_s"):
            continue  # inf is "no limit" there (above)
        variable = f"KINETIC_{section.upper()}__{name.upper()}"
        with pytest.raises(ConfigError, match=f"^setting {variable}: "):
            load_settings(environ={variable: "inf"})


def test_max_ahead_inf_is_no_limit_and_a_year_is_the_largest() -> None:
    assert load_settings(environ={"KINETIC_CLOCK__MAX_AHEAD_S": "inf"}).clock.max_ahead_ms is None
    assert load_settings(environ={"KINETIC_CLOCK__MAX_AHEAD_S": ""}).clock.max_ahead_ms is None
    with pytest.raises(ConfigError, match=r"^setting KINETIC_CLOCK__MAX_AHEAD_S: "):
        load_settings(environ={"KINETIC_CLOCK__MAX_AHEAD_S": "1e300"})


def test_the_alert_settings_that_seed_the_policy_have_the_policys_bounds() -> None:
    """A setting the policy would refuse at start-up (prompt_ttl_min 5000) is refused as the setting instead."""
    for name in ("sitting_threshold_min", "prompt_ttl_min"):
        assert AlertsSettings.model_fields[name].metadata == PromptPolicy.model_fields[name].metadata, name
