"""Reading a person's text files (policy, catalog, scenario, clinics, dataset descriptions, the TOML settings file).

Whatever a file holds, reading it gives its data or one ``TextFileError`` naming what is wrong and what is
expected: not readable, over ``MAX_TEXT_FILE_BYTES``, not UTF-8 (the byte offset named), not YAML/TOML (the
parser's line), or nested deeper than ``MAX_NESTING`` (a hostile or broken file that would exhaust the parser's or
the validator's recursion: a ``RecursionError`` traceback before). Callers put the file's role in front
(``policy file x.yaml: ...``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

MAX_TEXT_FILE_BYTES = 10 * 1024 * 1024  # the largest settings or scenario file is a few kB: 10 MB is no such file
MAX_NESTING = 32  # lists and mappings inside one another; Kinetic's files need 4


class TextFileError(ValueError):
    """A text file that cannot be read as what it should be; the message is one line."""


def read_text(path: Path) -> str:
    """The file's text. Raises TextFileError."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TEXT_FILE_BYTES + 1)
    except OSError as exc:
        raise TextFileError(f"cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > MAX_TEXT_FILE_BYTES:
        raise TextFileError(f"it is over {MAX_TEXT_FILE_BYTES // (1024 * 1024)} MB; expected a text file of a few kB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFileError(f"not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x}); save it as UTF-8") from None


def nesting_problem(data: object) -> str | None:
    """Why ``data`` is nested too deeply to be one of Kinetic's files (None when it is not). Iterative."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            return f"lists and mappings are nested more than {MAX_NESTING} deep"
        if isinstance(item, dict):
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((value, depth + 1) for value in item)
    return None


def _parsed(text: str, parse: Callable[[str], Any], language: str, errors: tuple[type[Exception], ...]) -> Any:
    """``parse(text)``, its errors and too deep a nesting (recursion in the parser, or after it) as TextFileError."""
    try:
        data = parse(text)
    except errors as exc:
        raise TextFileError(f"not {language} ({' '.join(str(exc).split())})") from None
    except RecursionError:
        raise TextFileError(f"lists and mappings are nested more than {MAX_NESTING} deep") from None
    problem = nesting_problem(data)
    if problem is not None:
        raise TextFileError(problem)
    return data


def parse_yaml(text: str) -> Any:
    """YAML text (safe subset) -> data. Raises TextFileError."""
    return _parsed(text, yaml.safe_load, "YAML", (yaml.YAMLError,))


def load_yaml(path: Path) -> Any:
    """A YAML file's data. Raises TextFileError."""
    return parse_yaml(read_text(path))


def load_toml(path: Path) -> dict[str, Any]:
    """A TOML file's data. Raises TextFileError."""
    data: dict[str, Any] = _parsed(read_text(path), tomllib.loads, "TOML", (tomllib.TOMLDecodeError,))
    return data
