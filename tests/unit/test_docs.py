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


README = ROOT / "README.md"
PACKAGES = ("ingest", "alerts", "dashboards", "kinetic")


def inline_code(path: Path) -> list[str]:
    """The `code spans` of a Markdown file outside its fenced blocks, joined over line breaks."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", text)]


def test_readme_inline_commands_parse_and_their_modules_exist() -> None:
    """The tour's commands in running text (`kinetic serve`, `kinetic demo --serve --speed 60`, ...) parse too, and a
    `python -m module ...` names a module of the repository."""
    spans = inline_code(README)
    kinetic = [c for c in spans if c.startswith("kinetic ")]
    assert "kinetic serve" in kinetic and "kinetic demo --serve --speed 60" in kinetic
    for command in kinetic:
        args = shlex.split(command)[1:]
        if "--help" in args:  # argparse prints the help and exits 0: the command before it must parse
            with pytest.raises(SystemExit, match="0"):
                build_parser().parse_args(args)
        else:
            build_parser().parse_args(args)
    modules = [c.split()[2] for c in spans if c.startswith("python -m ")]
    assert modules, "the README names how its screenshot is made"
    for module in modules:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def readme_paths() -> list[str]:
    """Every repository path the README names: links and images, `code spans` that are paths, and the file
    arguments of its shell examples (not an --out folder a command writes, nor ../ beside the clone)."""
    text = README.read_text()
    named = [t for t in re.findall(r"\]\(([^)#]+)\)", text) if not t.startswith("http")]
    for span in inline_code(README):
        if re.fullmatch(r"\.?[\w-]+(?:/[\w.-]*)*(?:\.\w+|/)", span) and not span.startswith(".venv"):
            named.append(span)
    for block in code_blocks(README, "sh"):
        for line in block.splitlines():
            words = shlex.split(line.split("#")[0])
            named += [w for i, w in enumerate(words) if "/" in w and "=" not in w and words[i - 1] != "--out"]
    return [n for n in named if not n.startswith(("../", "http", "/", "~", "$"))]


def test_every_file_and_folder_the_readme_names_exists() -> None:
    missing = []
    for name in readme_paths():
        bare = name.rstrip("/")
        # named in the layout paragraph relative to a package (`detect/`, `web/`, each package's `cli.py`)
        if not (ROOT / bare).exists() and not ("/" not in bare and any((ROOT / p / bare).exists() for p in PACKAGES)):
            missing.append(name)
    assert not missing, f"README.md names files that do not exist: {missing}"
    assert {"docs/img/web-today.png", "docker-compose.yml", "ingest/simulate/scenarios/workday.yaml"} <= set(
        readme_paths()
    )


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
