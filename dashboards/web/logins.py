"""Per-person logins to the web app (issue 20, item 1): a login name and a password per person, stored hashed, each
scoped to one wearer (their pages, their sharing, their commands) or, for the operator or a clinician, to every wearer
the server serves (``staff``: all of them, or in a clinic's view the clinic's patients who share with it now).

A password is ``secrets.token_urlsafe(18)`` (144 random bits, 24 characters), shown once when it is made
(``kinetic web-login add WEARER`` or ``deploy/make_secrets.py --wearer``) and stored only as its scrypt hash. A person
may type it, so it gets a slow, memory-hard hash: scrypt (RFC 7914) with N=2**14, r=8, p=5, one of the equivalent
settings OWASP's Password Storage Cheat Sheet lists for scrypt (16 MiB per check; its time: ``python -m
bench.web_login``, docs/web.md); the parameters are stored in each hash (``scrypt$N$r$p$salt$key``, base64), so
raising them later keeps the old hashes readable. A check of an unknown name still computes a hash (``DUMMY``), so
the time does not tell whether a name exists.

The file (``KINETIC_WEB__LOGINS_PATH``) is JSON ``{"version": 1, "logins": [{name, role, wearer, hash, created_ms}]}``
of mode 600, written atomically under a lock (``<file>.lock``); ``Logins`` reads it again when its inode, size or
mtime change, so a login added or removed while ``kinetic serve`` runs counts at the next request (a removed login's
open sessions end then too). An entry that is not this shape is named with the file and what is expected
(``LoginsFileError``): at start the server refuses to run; a file that goes bad while it runs keeps only its good
entries (fail closed for the bad ones) and logs each bad one once.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingest.errors import ConfigError
from ingest.store.private import private_file, replace_private
from ingest.textfile import CachedFile
from ingest.wire import ID_PATTERN, describe_validation_error

_LOGGER = logging.getLogger(__name__)

FILE_VERSION = 1
MAX_LOGINS = 10_000
PASSWORD_BYTES = 18
NAME_PATTERN = r"^[a-z0-9][a-z0-9._@-]{0,63}$"  # a wearer id, or a clinician's e-mail address
# OWASP Password Storage Cheat Sheet, scrypt: N=2^17 r=8 p=1 or an equivalent; N=2^14 r=8 p=5 needs 16 MiB per check
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 5
SCRYPT_KEY_BYTES = 32
SCRYPT_MAXMEM = 64 * 1024 * 1024
HASH_PATTERN = r"^scrypt\$[0-9]{1,8}\$[0-9]{1,3}\$[0-9]{1,3}\$[A-Za-z0-9+/=]{16,64}\$[A-Za-z0-9+/=]{40,90}$"
EXPECTED = (
    'expected {"name": a login name (lower-case letters, digits, . _ @ -), "role": "wearer" with "wearer": '
    'their wearer id, or "staff" without one, "hash": scrypt$N$r$p$salt$key as `kinetic web-login add` writes it}'
)

Role = Literal["wearer", "staff"]


class LoginsFileError(ConfigError):
    """The logins file cannot be read or written, an entry in it is not a login, or a change to it is refused."""


class Login(BaseModel):
    """One person's login: ``name`` (what they type), ``role`` (``wearer``: only ``wearer``'s pages; ``staff``: every
    wearer the server serves), the password's scrypt ``hash`` and when it was made (Unix ms)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    wearer: str | None = Field(default=None, pattern=ID_PATTERN)
    hash: str = Field(pattern=HASH_PATTERN, repr=False)
    created_ms: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _scoped(self) -> Login:
        if (self.role == "wearer") != (self.wearer is not None):
            raise ValueError("a wearer login names its wearer; a staff login names none")
        return self

    @property
    def actor(self) -> str:
        """How the audit trail names this person: ``web login ann`` (``web login anna@clinic.example (staff)``)."""
        return f"web login {self.name}" + (" (staff)" if self.role == "staff" else "")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$key`` (base64) of ``password`` with this module's parameters and a random 16-byte salt."""
    salt = salt if salt is not None else os.urandom(16)
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM, dklen=SCRYPT_KEY_BYTES
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (its own parameters; compared in constant time). A hash that cannot
    be computed (parameters beyond SCRYPT_MAXMEM) never matches."""
    try:
        _, n, r, p, salt, key = stored.split("$")
        expected = base64.b64decode(key)
        given = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(given, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# checked for an unknown name (the same parameters: the same time as a real check); its key is no password's
DUMMY = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(b'kinetic-no-login')}${_b64(bytes(SCRYPT_KEY_BYTES))}"


def parse_logins(path: Path, text: str) -> tuple[list[Login], list[str]]:
    """The good logins of the file's ``text`` and one line per bad entry (naming ``path``, the entry and what is
    expected). A text that is not the file's JSON shape at all is one problem and no login."""
    if not text.strip():
        return [], []
    try:
        raw = json.loads(text)
    except ValueError as exc:
        return [], [f'logins file {path}: not JSON ({exc}): expected {{"version": 1, "logins": [...]}}']
    if not isinstance(raw, dict) or raw.get("version") != FILE_VERSION or not isinstance(raw.get("logins"), list):
        return [], [f'logins file {path}: expected {{"version": 1, "logins": [...]}} as `kinetic web-login` writes it']
    logins: list[Login] = []
    problems: list[str] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw["logins"][:MAX_LOGINS], start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"entry {n}" + (f" ({str(name)[:64]!r})" if isinstance(name, str) else "")
        try:
            login = Login.model_validate(entry)
        except ValidationError as exc:
            problems.append(f"logins file {path}, {label}: {describe_validation_error(exc)}: {EXPECTED}")
            continue
        if login.name in seen:
            problems.append(f"logins file {path}, {label}: the name is given twice: expected one entry per login")
            continue
        seen.add(login.name)
        logins.append(login)
    return logins, problems


class Logins:
    """The logins in ``path``, read again when the file changes. Thread-safe; processes share it through a lock
    file. ``check`` raises LoginsFileError naming the first bad entry (at start); later reads keep the good entries
    and log each bad one once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: CachedFile[dict[str, Login]] = CachedFile(path, self._parse, dict)
        self._logged: set[str] = set()

    def check(self) -> None:
        """Refuse (LoginsFileError, one line) a file that cannot be read or has a bad entry."""
        _, problems = parse_logins(self.path, self._text())
        if problems:
            raise LoginsFileError(problems[0])

    def get(self, name: str) -> Login | None:
        """The login called ``name`` in the file as it is now (None: no such login)."""
        with self._lock:
            return self._refreshed().get(name)

    def all(self) -> list[Login]:
        with self._lock:
            return sorted(self._refreshed().values(), key=lambda login: login.name)

    def verify(self, name: str, password: str) -> Login | None:
        """The login ``name`` if ``password`` is its password, else None (an unknown name costs the same hash)."""
        login = self.get(name)
        matches = password_matches(password, login.hash if login is not None else DUMMY)
        return login if matches and login is not None else None

    def add(self, name: str, role: Role, wearer: str | None, now_ms: int | None = None) -> str:
        """A new login; returns its password (shown once, never stored). LoginsFileError: the name exists, or the
        entry is not a login (a bad name or wearer id)."""
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        try:
            login = Login(
                name=name,
                role=role,
                wearer=wearer,
                hash=hash_password(password),
                created_ms=round(time.time() * 1000) if now_ms is None else now_ms,
            )
        except ValidationError as exc:
            raise LoginsFileError(f"login {name[:64]!r}: {describe_validation_error(exc)}: {EXPECTED}") from None
        with self._writing() as logins:
            if any(existing.name == name for existing in logins):
                raise LoginsFileError(f"logins file {self.path}: login {name!r} exists: remove it first to renew it")
            logins.append(login)
        return password

    def remove(self, name: str) -> bool:
        """Remove the login ``name`` (its open sessions end at their next request); False if there is none."""
        with self._writing() as logins:
            kept = [login for login in logins if login.name != name]
            removed = len(kept) != len(logins)
            logins[:] = kept
        return removed

    # --- the file ---------------------------------------------------------------------------------------------------
    def _text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            raise LoginsFileError(f"logins file {self.path}: cannot be read ({exc})") from None

    def _refreshed(self) -> dict[str, Login]:
        """The good logins by name, the file read again if it changed (one stat when it did not: the web app asks at
        every request, on its event loop). A file that cannot be read accepts no login (logged)."""
        try:
            return self._file.get()
        except OSError as exc:
            _LOGGER.warning("logins file %s: cannot be read (%s): no login is accepted", self.path, exc.strerror)
            return {}

    def _parse(self, path: Path) -> dict[str, Login]:
        """The file's good logins; each bad entry logged once (LoginsFileError: it cannot be read)."""
        try:
            logins, problems = parse_logins(path, self._text())
        except LoginsFileError as exc:
            logins, problems = [], [str(exc)]
        for problem in problems:
            if problem not in self._logged:
                _LOGGER.warning("%s (that entry is not accepted)", problem)
                self._logged.add(problem)
        return {login.name: login for login in logins}

    @contextlib.contextmanager
    def _writing(self) -> Iterator[list[Login]]:
        """The file's logins under the exclusive file lock, written back atomically (mode 600) on exit. A file with a
        bad entry is not rewritten (LoginsFileError): the operator fixes it first."""
        lock_path = private_file(self.path.with_name(self.path.name + ".lock"))
        with self._lock, lock_path.open("r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                logins, problems = parse_logins(self.path, self._text())
                if problems:
                    raise LoginsFileError(problems[0])
                yield logins
                self._write(logins)
                self._file.forget()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, logins: list[Login]) -> None:
        body: dict[str, Any] = {"version": FILE_VERSION, "logins": [login.model_dump() for login in logins]}
        try:
            replace_private(self.path, json.dumps(body, indent=1, sort_keys=True) + "\n")
        except OSError as exc:
            raise LoginsFileError(f"logins file {self.path}: cannot be written ({exc.strerror})") from None
