"""A person's text files (issue 13, "text from devices and users"): whatever bytes a policy, catalog, scenario,
clinics or settings file holds, reading it gives its data or one line naming the file and what is wrong. Found after
the named cases: a file that was not UTF-8 or was nested thousands deep gave a UnicodeDecodeError or RecursionError
traceback from every command that read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.prompts.catalog import CatalogError, load_catalog
from alerts.prompts.policy.model import PolicyBook, PolicyError
from dashboards.grafana.push import load_clinics
from ingest.errors import ConfigError, ScenarioError
from ingest.simulate.scenario import load_scenario
from ingest.textfile import MAX_TEXT_FILE_BYTES, TextFileError, load_toml, load_yaml
from kinetic.settings import load_settings

LATIN1 = b"defaults:\n  sitting_threshold_min: 30\n  quiet_hours: [\xe9t\xe9]\n"
DEEP_YAML = b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n"
DEEP_TOML = b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n"

READERS: dict[str, tuple[Callable[[Path], object], type[Exception]]] = {
    "policy": (PolicyBook.load, PolicyError),
    "catalog": (lambda p: load_catalog([p.parent]), CatalogError),
    "scenario": (load_scenario, ScenarioError),
    "clinics": (load_clinics, ConfigError),
    "settings": (lambda p: load_settings(p, environ={}), ConfigError),
}


CASES = (
    [(reader, LATIN1, r"not UTF-8 text \(byte 54 is 0xe9\)") for reader in sorted(READERS)]
    + [(reader, DEEP_YAML, "nested") for reader in sorted(READERS) if reader != "settings"]
    + [("settings", DEEP_TOML, "nested more than 32 deep")]
)


@pytest.mark.parametrize(("reader", "content", "expected"), CASES)
def test_a_file_that_is_not_utf8_or_nested_too_deep_is_one_line(
    tmp_path: Path, reader: str, content: bytes, expected: str
) -> None:
    read, error = READERS[reader]
    name = "kinetic.toml" if reader == "settings" else "file.yaml"
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=expected) as raised:
        read(path)
    message = str(raised.value)
    assert "\n" not in message and str(path.name) in message and len(message) < 400


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_TEXT_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(TextFileError, match="over 10 MB"):
        load_yaml(path)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_read_as_data_or_one_text_file_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "any"
    path.write_bytes(content)
    for load in (load_yaml, load_toml):
        try:
            load(path)
        except TextFileError as exc:
            assert "\n" not in str(exc)
