"""The clinics file is text from people: refused at load with the file and the field when it cannot be right."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.grafana.push import load_clinics
from ingest.errors import ConfigError

DEPLOY = Path(__file__).resolve().parents[4] / "deploy" / "clinics.yaml"


def test_the_shipped_clinics_file_loads() -> None:
    clinics = load_clinics(DEPLOY)
    assert [c.uid for c in clinics.clinics] == ["physio-north", "back-clinic-south"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", '"Physio\\nNorth"', r"name\s+control character U\+000A"),
        ("timezone", "Europe/Atlantis", r"unknown time zone 'Europe/Atlantis'"),
        ("timezone", "Europe", r"unknown time zone 'Europe'"),  # a folder of the tz database: IsADirectoryError
        ("timezone", "x" * 300, r"unknown time zone 'xxx"),
        ("clinicians", '["anna\\u0000@x.example"]', r"clinicians\.0\s+control character U\+0000"),
        ("patients", "[Ann Smith]", r"patients\.0"),
    ],
)
def test_a_field_that_cannot_be_right_names_the_file_and_the_field(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    clinic = {"uid": "c1", "name": "C1", "timezone": "UTC", "clinicians": "[]", "patients": "[ann]"}
    clinic[field] = value
    body = "clinics:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in clinic.items()) + "\n"
    path = tmp_path / "clinics.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message) as exc:
        load_clinics(path)
    assert str(exc.value).startswith(f"clinics file {path}: ")
