"""docs/phone.md's examples are checked so they cannot rot: the TOML settings load, the commands parse."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from ingest.settings import PhoneSettings
from kinetic.cli import build_parser

DOC = Path(__file__).resolve().parents[4] / "docs" / "phone.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def test_the_toml_example_is_valid_phone_settings() -> None:
    (example,) = blocks("toml")
    text = re.sub(r'^(\s*)token = ".*"', r'\1token = "an-example-token-of-32-characters"', example, flags=re.M)
    settings = PhoneSettings.model_validate(tomllib.loads(text)["phone"])
    (phone,) = settings.phones
    assert (phone.wearer, phone.device, phone.platform, phone.standardised) == ("ann", "ann-phone", "ios", True)


def test_the_commands_parse() -> None:
    commands = [line.split("#")[0].strip() for block in blocks("sh") for line in block.splitlines()]
    kinetic = [c for c in commands if c.startswith("kinetic ")]
    assert len(kinetic) == 2
    for command in kinetic:
        build_parser().parse_args(shlex.split(command)[1:])
