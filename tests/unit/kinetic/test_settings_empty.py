"""An empty value for a path or a host setting (``KINETIC_BRIDGE__SPOOL_PATH=``: what an env file line with nothing
after ``=``, or a compose file's ``${UNSET}``, gives) is refused in one line naming the setting.

Before, it was taken as it reads: a path ``Path("")``, the working directory, which a service then failed to open as
its spool or queue with a traceback, or read as a directory of policies; a listening host ``""``, which asyncio's
``create_server`` takes as every interface, wider than the loopback default; the broker's host ``""``, a failure at
connect time. A setting where empty means something keeps it (``ALERTS__STATE_DIR``: memory only; the clock's
``MAX_AHEAD_S``: no limit), as docs/configuration.md says."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from ingest.errors import ConfigError
from kinetic.cli import main
from kinetic.settings import ENV_PREFIX, KineticSettings, load_settings

EMPTY_MEANS_SOMETHING = {"KINETIC_ALERTS__STATE_DIR"}  # memory only (tests below)


def leaves(model: type[BaseModel], prefix: str = ENV_PREFIX) -> Iterator[tuple[str, object]]:
    """Every setting's variable and its annotation, walking the sections. A list of models (``PHONE__PHONES``) is one
    setting, given as JSON: its items' fields are checked apart (``test_the_walk_finds_...``)."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaves(annotation, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}", annotation


def holds(annotation: object, kind: type) -> bool:
    """Whether ``annotation`` is ``kind``, or a union, list or ``Annotated`` with ``kind`` in it."""
    if annotation is kind:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return holds(typing.get_args(annotation)[0], kind)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (typing.Union, list):
        return any(holds(a, kind) for a in typing.get_args(annotation))
    return False


PATHS = [v for v, a in leaves(KineticSettings) if holds(a, Path) and v not in EMPTY_MEANS_SOMETHING]
HOSTS = [v for v, _ in leaves(KineticSettings) if v.endswith("HOST")]


def test_the_walk_finds_the_path_and_host_settings() -> None:
    items = [typing.get_args(a)[0] for _, a in leaves(KineticSettings) if typing.get_origin(a) is list]
    item_models = [m for m in items if isinstance(m, type) and issubclass(m, BaseModel)]
    assert len(item_models) >= 2  # the wearables and the phones: no path or host in them (were one added: refuse it)
    assert not [v for m in item_models for v, a in leaves(m, "") if holds(a, Path) or v.endswith("HOST")]
    assert len(PATHS) >= 20 and "KINETIC_BRIDGE__SPOOL_PATH" in PATHS and "KINETIC_ALERTS__CATALOG_DIRS" in PATHS
    assert set(HOSTS) == {
        "KINETIC_MQTT__HOST",
        "KINETIC_PHONE__HTTP_HOST",
        "KINETIC_ALERTS__CALLBACK_HOST",
        "KINETIC_WEB__HOST",
    }


@pytest.mark.parametrize("variable", PATHS)
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_path_is_refused_in_one_line_naming_the_setting(variable: str, value: str) -> None:
    listed = variable == "KINETIC_ALERTS__CATALOG_DIRS"  # a list of directories, in JSON; its item is named
    with pytest.raises(ConfigError) as info:
        load_settings(environ={variable: f'["{value}"]' if listed else value})
    line = str(info.value)
    named = f"{variable}__0" if listed else variable
    assert line.startswith(f"setting {named}: Value error, an empty path is no file or directory"), line
    assert "\n" not in line


@pytest.mark.parametrize("variable", HOSTS)
def test_an_empty_host_is_refused_in_one_line_naming_the_setting(variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={variable: ""})
    line = str(info.value)
    what = "host: give the broker's" if variable == "KINETIC_MQTT__HOST" else "address to listen on"
    assert line.startswith(f"setting {variable}: Value error, an empty {what}"), line
    assert "\n" not in line


def test_an_empty_path_in_the_toml_file_is_refused_too(tmp_path: Path) -> None:
    config = tmp_path / "kinetic.toml"
    config.write_text('[bridge]\nspool_path = ""\n')
    refused = r"^setting KINETIC_BRIDGE__SPOOL_PATH \(bridge.spool_path in .*kinetic.toml\): Value error, an empty path"
    with pytest.raises(ConfigError, match=refused):
        load_settings(config, environ={})


@pytest.mark.parametrize("value", ["", "  "])
def test_where_empty_means_something_it_still_does(value: str, tmp_path: Path) -> None:
    settings = load_settings(environ={"KINETIC_ALERTS__STATE_DIR": value, "KINETIC_CLOCK__MAX_AHEAD_S": value})
    assert settings.alerts.state_dir is None  # memory only (blank too: not a directory named "  ")
    assert settings.clock.max_ahead_ms is None  # no limit
    given = load_settings(environ={"KINETIC_BRIDGE__SPOOL_PATH": str(tmp_path / "s.sqlite")})
    assert given.bridge.spool_path == tmp_path / "s.sqlite"


@pytest.mark.parametrize("variable", ["KINETIC_WEB__HOST", "KINETIC_PHONE__HTTP_HOST", "KINETIC_ALERTS__CALLBACK_HOST"])
def test_a_listening_host_too_long_for_a_dns_name_is_refused_saying_so(variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^setting {variable}: String should have at most 253 characters "):
        load_settings(environ={variable: "a" * 254})


def test_kinetic_stops_in_one_line_exit_2_on_an_empty_spool_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KINETIC_BRIDGE__SPOOL_PATH", "")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetic: error: setting KINETIC_BRIDGE__SPOOL_PATH: Value error, an empty path")
    assert err.count("\n") == 1
