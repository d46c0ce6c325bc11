"""No setting's default file is relative to the folder a command happens to be started from. The fresh-clone pass
found the bridge's spool and the phone's queue made in the current folder while the store, consent and audit were in
the user's data directory: `kinetic data export` run from another folder missed the spooled points (and a bridge run
in the repository left its files there). Every default path is absolute: the user's data or state directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from kinetic.settings import KineticSettings


def default_paths(model: type[BaseModel], prefix: str) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}__{name.upper()}" if prefix else f"KINETIC_{name.upper()}"
        annotation: Any = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += default_paths(annotation, key)
            continue
        value = default_of(field)
        if isinstance(value, Path):
            found.append((key, value))
    return found


def default_of(field: FieldInfo) -> object:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


# relative on purpose: the repository's deploy/ folder, for commands a deployer runs from the repository
FROM_THE_REPOSITORY = {"KINETIC_GRAFANA__CLINIC_SECRETS": "deploy/secrets, made by deploy/make_secrets.py"}


def test_there_are_default_paths_to_check() -> None:
    keys = {key for key, _ in default_paths(KineticSettings, "")}
    assert {"KINETIC_BRIDGE__SPOOL_PATH", "KINETIC_PHONE__QUEUE_PATH", "KINETIC_STORE__EMBEDDED_PATH"} <= keys


@pytest.mark.parametrize(("key", "path"), default_paths(KineticSettings, ""), ids=str)
def test_every_default_path_is_absolute(key: str, path: Path) -> None:
    if key in FROM_THE_REPOSITORY:
        assert str(path) == FROM_THE_REPOSITORY[key].split(",")[0]
        return
    assert path.is_absolute(), f"{key} defaults to {path}, relative to whatever folder the command starts in"
