"""The README's and docs' examples are checked so they cannot rot."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ingest.simulate.scenario import parse_scenario
from kinetic.cli import build_parser
from kinetic.settings import KineticSettings

ROOT = Path(__file__).resolve().parents[2]


def code_blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(), re.S)


def test_readme_commands_parse() -> None:
    commands = [
        line.split("#")[0].strip() for block in code_blocks(ROOT / "README.md", "sh") for line in block.splitlines()
    ]
    kinetic = [c for c in commands if c.startswith("kinetic ")]
    assert len(kinetic) >= 5
    for command in kinetic:
        build_parser().parse_args(shlex.split(command)[1:])
    for script in [c.split()[0] for c in commands if c.startswith("./scripts/")]:
        assert (ROOT / script).is_file()
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_scenario_doc_example_parses() -> None:
    (example,) = code_blocks(ROOT / "docs" / "scenarios.md", "yaml")
    scenario = parse_scenario(example, "docs/scenarios.md")
    assert [w.wearer for w in scenario.wearers] == ["alice", "bob"]


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for name, field in KineticSettings.model_fields.items():
        sub = getattr(field.annotation, "model_fields", None)
        keys = [f"KINETIC_{name.upper()}__{k.upper()}" for k in sub] if sub else [f"KINETIC_{name.upper()}"]
        for key in keys:
            assert f"`{key}`" in doc, f"{key} is missing from docs/configuration.md"


@pytest.mark.parametrize("doc", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_docs_links_point_at_real_files(doc: str) -> None:
    text = (ROOT / "docs" / doc).read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (ROOT / "docs" / target).exists(), target


REPO_PATH = re.compile(r"`((?:ingest|alerts|dashboards|kinetic|tests|bench|deploy|scripts|docs)/[\w./-]+?)(?:::\w+)?`")
# not files of the repository: MQTT topics under the default root, and the secrets deploy/make_secrets.py writes
NOT_FILES = ("kinetic/v1/", "kinetic/ha/", "deploy/secrets/")  # MQTT topics, generated secrets


@pytest.mark.parametrize("doc", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_files_named_in_the_docs_exist(doc: str) -> None:
    path = ROOT / doc if doc == "README.md" else ROOT / "docs" / doc
    missing = [
        name
        for name in REPO_PATH.findall(path.read_text())
        if "*" not in name and not name.startswith(NOT_FILES) and not (ROOT / name.rstrip("/")).exists()
    ]
    assert not missing, f"{doc} names files that do not exist: {missing}"
