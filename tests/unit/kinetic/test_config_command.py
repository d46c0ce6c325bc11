"""`kinetic config` prints the settings as an environment file would hold them (h-mend12, item 2). Before, an unset
optional printed as ``KINETIC_MQTT__USERNAME=None`` (the text "None" as a user name, if copied), a boolean as
``False`` and a list as Python's ``['a']`` (not the JSON pydantic-settings reads). Now every optional that is unset
is a comment saying so, and the lines, read back as the environment, give the same settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kinetic.cli import main
from kinetic.settings import load_settings

GIVEN = {
    "KINETIC_MQTT__USERNAME": "bridge",
    "KINETIC_MQTT__TLS": "true",
    "KINETIC_ALERTS__CATALOG_DIRS": '["/etc/kinetic/catalog", "/srv/more prompts"]',
    "KINETIC_PHONE__PHONES": '[{"wearer": "ann", "platform": "ios", "standardised": true}]',
    "KINETIC_SIMULATE__SPEED": "2.5",
}


def config_lines(
    environ: dict[str, str], secrets: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    for name in [n for n in os.environ if n.startswith("KINETIC_")]:
        monkeypatch.delenv(name)
    for name, value in {**environ, "KINETIC_SECRETS_DIR": str(secrets)}.items():
        monkeypatch.setenv(name, value)
    assert main(["config"]) == 0
    return capsys.readouterr().out.splitlines()


def test_unset_optionals_are_marked_unset_and_the_lines_read_back_as_the_same_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = config_lines(GIVEN, tmp_path, monkeypatch, capsys)
    assert "=None" not in "\n".join(lines)
    assert "# KINETIC_INFLUX__USERNAME: unset" in lines and "KINETIC_MQTT__USERNAME=bridge" in lines
    assert "KINETIC_MQTT__TLS=true" in lines
    assert 'KINETIC_ALERTS__CATALOG_DIRS=["/etc/kinetic/catalog", "/srv/more prompts"]' in lines

    data = load_settings().model_dump(mode="json")  # what the command printed: this environment's settings
    unset = {  # None here is the default of every optional (the case of a None that is not: below)
        f"KINETIC_{s.upper()}__{k.upper()}" for s, v in data.items() if isinstance(v, dict) for k in v if v[k] is None
    }
    assert unset and unset == {line[2:].removesuffix(": unset") for line in lines if line.startswith("# ")}

    environ = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
    assert load_settings(secrets_dir=tmp_path, environ=environ).model_dump(mode="json") == data


def test_a_none_that_is_not_the_default_is_printed_as_the_empty_value_that_gives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``KINETIC_ALERTS__STATE_DIR=`` (memory only) and ``KINETIC_CLOCK__MAX_AHEAD_S=`` (no limit) are None in the
    settings, whose defaults are a directory and 300 s. Before, `kinetic config` printed them as "unset" comments,
    which read back as the defaults: a state file and a 300-s limit the settings printed did not have."""
    empties = {"KINETIC_ALERTS__STATE_DIR": "", "KINETIC_CLOCK__MAX_AHEAD_S": ""}
    lines = config_lines(empties, tmp_path, monkeypatch, capsys)
    assert "KINETIC_ALERTS__STATE_DIR=" in lines and "KINETIC_CLOCK__MAX_AHEAD_S=" in lines
    assert "# KINETIC_INFLUX__USERNAME: unset" in lines  # None by default: still a comment
    data = load_settings().model_dump(mode="json")
    assert data["alerts"]["state_dir"] is None and data["clock"]["max_ahead_s"] is None
    environ = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
    assert load_settings(secrets_dir=tmp_path, environ=environ).model_dump(mode="json") == data
