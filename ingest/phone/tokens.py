"""Per-device push tokens for phones (issue 16, item 1): made on the web app's Settings page or by
``kinetic phone token add``, accepted by ``kinetic phone`` beside the tokens of the TOML settings.

A token is ``secrets.token_urlsafe(32)`` (32 random bytes, 43 characters), shown once when it is made and stored only
as its SHA-256 (hex): a token of 256 random bits needs no slow hash (a slow hash such as scrypt protects guessable
passwords; nobody can enumerate 2**256 tokens), and a push is then checked in microseconds. A token given to
``lookup`` is compared with every stored hash with ``hmac.compare_digest`` (constant time, every entry compared).

The file (``KINETIC_PHONE__TOKENS_PATH``, default ``phone-tokens.json`` in the user's data directory beside the
embedded store) is JSON: ``{"version": 1, "devices": [{wearer, device, platform, placement, standardised, sha256,
created_ms, last_used_ms}]}``, mode 600. Writers (the web app, the CLI, the phone service noting last use) take an
exclusive ``flock`` on ``<file>.lock`` and replace the file atomically; readers see a change by its inode, size and
mtime and read it again, so a running ``kinetic phone`` takes tokens added or revoked while it runs at its next push.
A file that is not this shape raises ``TokenStoreError`` naming the file and what is expected.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.errors import IngestError
from ingest.store.private import private_file, replace_private
from ingest.textfile import CachedFile
from ingest.wire import ID_PATTERN, describe_validation_error

_LOGGER = logging.getLogger(__name__)

TOKEN_BYTES = 32
FILE_VERSION = 1
MAX_DEVICES = 1000

Platform = Literal["ios", "android"]
Placement = Literal["thigh", "trunk"]


class TokenStoreError(IngestError):
    """The token file cannot be read or written, or a request to it is refused (a device added twice)."""


class PhoneDevice(BaseModel):
    """One phone with a push token: whose, which device id, how it is worn, its token's hash and its times (Unix ms,
    the writer's clock)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wearer: str = Field(pattern=ID_PATTERN)
    device: str = Field(pattern=ID_PATTERN)
    platform: Platform
    placement: Placement = "thigh"
    standardised: bool = False
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_ms: int = Field(ge=0)
    last_used_ms: int | None = Field(default=None, ge=0)


class _TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    devices: list[PhoneDevice] = Field(max_length=MAX_DEVICES)


def token_hash(token: str) -> str:
    """The SHA-256 of a token's UTF-8 bytes, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The phone tokens in ``path`` (created with mode 600 at the first write). Thread-safe; processes share it
    through a lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: CachedFile[list[PhoneDevice]] = CachedFile(path, self._parse, list)

    # --- reading --------------------------------------------------------------------------------------------------
    def devices(self, wearer: str | None = None) -> list[PhoneDevice]:
        """The devices with a token (of ``wearer``, or all), oldest first; the file read again if it changed."""
        with self._lock:
            devices = self._refreshed()
            return [d for d in devices if wearer is None or d.wearer == wearer]

    def lookup(self, token: str) -> PhoneDevice | None:
        """The device whose token this is, or None. Every stored hash is compared in constant time."""
        given = token_hash(token)
        found = None
        for device in self.devices():
            if hmac.compare_digest(device.sha256, given):
                found = device
        return found

    # --- writing --------------------------------------------------------------------------------------------------
    def add(
        self,
        wearer: str,
        device: str,
        platform: Platform,
        placement: Placement = "thigh",
        *,
        standardised: bool = False,
        now_ms: int | None = None,
    ) -> str:
        """Make ``device`` of ``wearer`` a token and return it (the only time it is seen; only its hash is kept).
        TokenStoreError if the wearer already has a device of that id (revoke it first) or the ids are invalid."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        try:
            entry = PhoneDevice(
                wearer=wearer,
                device=device,
                platform=platform,
                placement=placement,
                standardised=standardised,
                sha256=token_hash(token),
                created_ms=_now_ms(now_ms),
            )
        except ValidationError as exc:
            raise TokenStoreError(f"phone device {wearer!r}/{device!r}: {describe_validation_error(exc)}") from None
        with self._writing() as devices:
            if any(d.wearer == wearer and d.device == device for d in devices):
                raise TokenStoreError(
                    f"wearer {wearer!r} already has a phone {device!r}: revoke it first or choose another name"
                )
            if len(devices) >= MAX_DEVICES:
                raise TokenStoreError(f"{self.path}: at most {MAX_DEVICES} phone devices")
            devices.append(entry)
        _LOGGER.info("phone %s: token made for device %s", wearer, device)
        return token

    def revoke(self, wearer: str, device: str) -> bool:
        """Remove the device and its token (pushes with it are refused from then on); False if there was none."""
        with self._writing() as devices:
            kept = [d for d in devices if not (d.wearer == wearer and d.device == device)]
            gone = len(kept) != len(devices)
            devices[:] = kept
        if gone:
            _LOGGER.info("phone %s: token of device %s revoked", wearer, device)
        return gone

    def touch(self, wearer: str, device: str, now_ms: int | None = None) -> None:
        """Note the device's last use (a push it made); nothing if it was revoked meanwhile."""
        at = _now_ms(now_ms)
        with self._writing() as devices:
            devices[:] = [
                d.model_copy(update={"last_used_ms": at}) if d.wearer == wearer and d.device == device else d
                for d in devices
            ]

    # --- the file ---------------------------------------------------------------------------------------------------
    def _refreshed(self) -> list[PhoneDevice]:
        """The devices, the file read again if it changed since the last read (caller holds ``_lock``)."""
        try:
            return self._file.get()
        except OSError as exc:
            raise TokenStoreError(f"phone token file {self.path}: cannot be read ({exc.strerror})") from None

    def _parse(self, path: Path) -> list[PhoneDevice]:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenStoreError(f"phone token file {self.path}: cannot be read ({exc})") from None
        if not text.strip():
            return []  # made by private_file, nothing written yet
        try:
            return _TokenFile.model_validate_json(text).devices
        except ValidationError as exc:
            raise TokenStoreError(
                f"phone token file {self.path} is not Kinetic's list of phone tokens ({describe_validation_error(exc)})"
                ': expected JSON {"version": 1, "devices": [...]} as `kinetic phone token add` writes it; '
                "fix it or move it away and make the tokens again"
            ) from None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[list[PhoneDevice]]:
        """The current devices under the exclusive file lock, written back atomically (mode 600) on exit."""
        lock_path = private_file(self.path.with_name(self.path.name + ".lock"))
        with self._lock, lock_path.open("r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                devices = list(self._parse(self.path))
                yield devices
                self._write(devices)
                self._file.forget()  # read back at the next look (its own write included)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, devices: list[PhoneDevice]) -> None:
        body = json.dumps(
            {"version": FILE_VERSION, "devices": [d.model_dump() for d in devices]}, indent=1, sort_keys=True
        )
        try:
            replace_private(self.path, body + "\n")
        except OSError as exc:
            raise TokenStoreError(f"phone token file {self.path}: cannot be written ({exc.strerror})") from None


def _now_ms(now_ms: int | None) -> int:
    return round(time.time() * 1000) if now_ms is None else now_ms
