"""Reading a person's text files (policy, catalog, scenario, clinics, dataset descriptions, the TOML settings file).

Whatever a file holds, reading it gives its data or one ``TextFileError`` naming what is wrong and what is
expected: not readable, over ``MAX_TEXT_FILE_BYTES``, not UTF-8 (the byte offset named), not YAML/TOML (the
parser's line), or nested deeper than ``MAX_NESTING`` (a hostile or broken file that would exhaust the parser's or
the validator's recursion: a ``RecursionError`` traceback before). Callers put the file's role in front
(``policy file x.yaml: ...``).

``CachedFile`` keeps what was read from a file that other processes change (the logins, the phone tokens, the
consent record) and reads it again only when the file's stat says it changed: one stat per look otherwise.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

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


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What a file's stat says of the version of its content: the inode (a file replaced by a rename, as atomic
    writers do, is a new one), the size, and the modification and status change times in nanoseconds (two writes of
    the same size within one second differ there, where a time in seconds would not; the change time moves with
    every write, also when a writer sets the modification time back)."""

    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def file_stamp(path: Path) -> FileStamp | None:
    """``path``'s stamp (one ``stat``), None when there is no file. Raises OSError when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return FileStamp(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class CachedFile(Generic[T]):
    """What ``read(path)`` made of a file, made again only when the file's stamp (``FileStamp``) changed since.
    ``get`` costs one stat when nothing changed: cheap enough for every web request on the event loop. The stat comes
    before the read, so a write between them is seen by the next ``get`` (never a stale value kept). ``missing()``
    is the value while there is no file. Not locked: the owner serialises ``get`` and ``forget``."""

    def __init__(self, path: Path, read: Callable[[Path], T], missing: Callable[[], T]) -> None:
        self.path = path
        self._read = read
        self._missing = missing
        self._cached: tuple[FileStamp, T] | None = None

    def get(self) -> T:
        """The value for the file as it is now. Raises OSError (not FileNotFoundError) when the file cannot be
        stat'ed, and whatever ``read`` raises (nothing is cached then: the next ``get`` tries again)."""
        stamp = file_stamp(self.path)
        if stamp is None:
            self._cached = None
            return self._missing()
        if self._cached is not None and self._cached[0] == stamp:
            return self._cached[1]
        value = self._read(self.path)
        self._cached = (stamp, value)
        return value

    def forget(self) -> None:
        """Read the file again at the next ``get`` (after the owner's own write)."""
        self._cached = None
