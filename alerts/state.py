"""The alert service's durable state: the prompt outbox in one SQLite file, the per-wearer snapshots in a second one
beside it (``snapshots_file``).

Restart safety (docs/prompts.md, "Restart safety"): the service consumes feature batches at QoS 1 with a persistent
session and acknowledges them only after a checkpoint has stored the state of every wearer they touched. After a
kill -9 it loads the last checkpoint and the broker redelivers exactly the messages processed after it, so the
engine ends up in the same state as if nothing had happened. Prompts are deterministic (id = wearer, trigger, event
time), so a prompt decided again during that replay is recognised here (``record_prompt`` says it is known) and not
sent twice; a prompt recorded but not yet delivered on a channel is delivered after the restart (at-least-once,
idempotent ids).

WAL with ``synchronous=NORMAL``: a commit survives the process being killed (it is in the OS), not a power cut.

Two files (layout version 2, issue 18 item 1): SQLite lets one writer at a time per file, and a checkpoint's
snapshots (thousands of rows, written by a worker thread) held every outbox write of the event loop (a prompt decided
meanwhile, a PUBACK's mark) until they were committed, and the event loop with it. The snapshots live in
``<state>.snapshots.sqlite``, attached to the outbox's connection as ``snap`` for reading, loading and erasing; the
worker writes them on a connection of its own to that file, so the outbox never waits for it. Nothing needs the two
in one transaction: the outbox is written before a prompt is published and the snapshots before the messages that
produced them are acknowledged, each on its own. A file of layout 1 (snapshots in the outbox's file) is moved over
when opened: the snapshots are copied, then their table dropped (a crash in between copies them again).

A wearer's snapshot (the ``wearers`` table's ``state``) is versioned on its own (docs/prompts.md, "Restart safety"):

- format 3 (issue 18): ``b"KWS"``, one byte of format version (3), then MessagePack of the ``WearerState`` itself,
  written by msgspec in one call (C): the wearer's state is kept in ``msgspec.Struct`` classes with
  ``array_like=True`` (alerts/engine.py ``WearerState`` and the state classes of alerts/detect, alerts/prompts and
  alerts/readiness.py), each written as the array of its fields in the order declared; the calibration reservoir
  as its quantised bytes, times as integer ms, readiness' nights and decided day as day ordinals (a decision's day
  as ISO 8601 text), floats as float64 (so a snapshot round-trips exactly: the detectors carry on as if
  uninterrupted). Two parts are written in another form than they are held,
  through ``_ENCODER``'s hook: a frame held as a possible clock jump as its JSON (as on the wire), the night's lying
  RR intervals packed (6 bytes a beat, ``alerts.readiness.BeatsSnapshot``). Decoded into those classes (msgspec):
  a blob that does not fit them (or whose still run names an hour the wearer does not hold:
  ``WearerDetection.check``) is refused, not half-loaded. A field added, removed or moved in any of these
  classes changes the format: a new format byte, and a reader for the old one.
- format 2 (issue 18, sessions 10-11): ``b"KWS\x02"``, then MessagePack of nested arrays built field by field
  (``WearerSnapshot`` of alerts/engine.py and the ``*Snapshot`` types of alerts/detect: the primary sensor as its
  index, dates as ordinals, the still run's hours as 0 = current, 1 = previous). Still read
  (``WearerState.from_snapshot``); rewritten in format 3 at the wearer's next checkpoint.
- format 1: a pickle of the ``WearerState`` (every snapshot written before issue 18; they start with the pickle
  protocol byte 0x80). Still read, with the classes moved since (``_MOVED_MODULES``) and into the classes that have
  become ``msgspec.Struct`` since (each defines ``__setstate__``); rewritten in format 3 at the wearer's next
  checkpoint.

A snapshot of another format (written by a newer Kinetic) or one that cannot be decoded is refused with one line
naming the file, the wearer and the formats; that wearer starts afresh (counted in ``unrestorable``) and the others
are restored.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import io
import json
import logging
import math
import pickle
import sqlite3
import threading
import time
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from alerts.engine import WearerSnapshot, WearerState
from alerts.errors import AlertsError
from alerts.readiness import BeatsSnapshot, LyingBeats
from ingest.store.private import private_file
from ingest.wire import FeatureFrameV1, PromptV1, one_line

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
    id TEXT PRIMARY KEY,
    wearer TEXT NOT NULL,
    payload TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    prompt_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,            -- pending | done | expired
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (prompt_id, channel)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (state) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    wearer TEXT NOT NULL,
    session TEXT NOT NULL,
    header TEXT NOT NULL,           -- JSON: alerts.prompts.sessions.SessionVerifier.records
    PRIMARY KEY (wearer, session)
) WITHOUT ROWID;
"""
# each table of _SCHEMA by name (a read-only open stands an empty one in for a table an older file lacks)
_TABLES = {
    statement.split()[5]: statement.strip()
    for statement in _SCHEMA.split(";")
    if statement.strip().startswith("CREATE TABLE IF NOT EXISTS")
}
STATE_VERSION = "2"  # the files' layout (2: the snapshots in a file of their own); each snapshot says its format
_SNAPSHOT_SCHEMA = "CREATE TABLE IF NOT EXISTS {schema}wearers (wearer TEXT PRIMARY KEY, state BLOB NOT NULL)"
SNAPSHOT_MAGIC = b"KWS"
SNAPSHOT_FORMAT = 3
FORMAT_2 = 2
READ_FORMATS = "1 (pickle, before issue 18), 2 and 3"
_HEADER = SNAPSHOT_MAGIC + bytes([SNAPSHOT_FORMAT])
_PICKLE_PROTOCOL_BYTE = 0x80


def _written_as(obj: Any) -> Any:
    """msgspec's hook for the parts of a wearer's state written in another form than they are held (module
    docstring): a held frame as its JSON, the lying RR intervals packed."""
    if isinstance(obj, LyingBeats):
        return obj.packed()
    if isinstance(obj, FeatureFrameV1):
        return obj.model_dump_json().encode()
    raise NotImplementedError(f"a wearer's state holds a {type(obj).__name__}, which no snapshot format writes")


def _read_as(kind: type, obj: Any) -> Any:
    """msgspec's hook for the parts ``_written_as`` writes (raises ``ValueError`` / pydantic's error on a part
    that does not fit)."""
    if kind is LyingBeats:
        if obj is None:  # most wearers (no night's RR intervals)
            return LyingBeats()
        return LyingBeats.unpacked(msgspec.convert(obj, BeatsSnapshot))
    if kind is FeatureFrameV1:
        if not isinstance(obj, bytes):
            raise ValueError(f"a held frame as its JSON (bytes), not {type(obj).__name__}")
        return FeatureFrameV1.model_validate_json(obj)
    raise NotImplementedError(f"no snapshot format reads a {kind.__name__}")


_ENCODER = msgspec.msgpack.Encoder(enc_hook=_written_as)
_DECODER = msgspec.msgpack.Decoder(WearerState, dec_hook=_read_as)
_FORMAT_2_DECODER = msgspec.msgpack.Decoder(WearerSnapshot)

# Where classes of a version-1 snapshot live now: the layout of session 4 moved detection to alerts.detect and
# prompting to alerts.prompts (WearerState.__setstate__ folds the old flat wearer state into its new shape).
_MOVED_MODULES = {
    "alerts.calibration": "alerts.detect.calibration",
    "alerts.posture": "alerts.detect.posture",
    "alerts.bouts": "alerts.detect.bouts",
    "alerts.asymmetry": "alerts.detect.asymmetry",
    "alerts.summary": "alerts.detect.summary",
    "alerts.catalog": "alerts.prompts.catalog",
    "alerts.policy.model": "alerts.prompts.policy.model",
    "alerts.policy.planner": "alerts.prompts.policy.planner",
    "alerts.response": "alerts.prompts.response",
}
_MOVED_CLASSES = {("alerts.engine", "DeviceState"): ("alerts.detect.device", "DeviceState")}


class _Unpickler(pickle.Unpickler):
    """Loads snapshots written before classes moved (same classes and fields, new modules), and into classes that
    have become ``msgspec.Struct`` since (``_struct_maker``)."""

    def find_class(self, module: str, name: str) -> Any:
        module, name = _MOVED_CLASSES.get((module, name), (_MOVED_MODULES.get(module, module), name))
        found = getattr(importlib.import_module(module), name)
        if isinstance(found, type) and issubclass(found, msgspec.Struct):
            return _struct_maker(found)
        return found


@functools.cache
def _struct_maker(cls: type[msgspec.Struct]) -> type:
    """What a format-1 pickle of ``cls`` (a dataclass when it was written, a ``msgspec.Struct`` now) makes its object
    with: pickle makes it with ``__new__`` of the class it names (which a Struct does not offer) and then hands it
    the state it held (``cls.__setstate__``, which each such Struct defines); this class's ``__new__`` gives that
    Struct with its defaults and placeholders for its required fields, for the state to fill."""
    required = sum(1 for f in msgspec.structs.fields(cls) if f.required)

    class Maker:
        def __new__(maker: type, *args: Any) -> Any:
            return cls(*[None] * required)

    Maker.__qualname__ = Maker.__name__ = f"{cls.__name__}Maker"
    return Maker


class StateError(AlertsError):
    """The state file cannot be used (unreadable, or written by an incompatible version)."""


class SnapshotFormatError(StateError):
    """A wearer's snapshot is of a format this Kinetic does not read (written by a newer one)."""

    def __init__(self, found: str) -> None:
        super().__init__(f"snapshot format {found}, this Kinetic reads formats {READ_FORMATS}")
        self.found = found


def encode_snapshot(state: WearerState) -> bytes:
    """A wearer's state as a format-3 snapshot (module docstring): ``b"KWS\x03"`` + MessagePack, one msgspec call."""
    return _HEADER + _ENCODER.encode(state)


def encode_part(part: Any) -> bytes:
    """MessagePack of a part of a wearer's state as a format-3 snapshot writes it (bench/state_size.py's profile)."""
    return _ENCODER.encode(part)


def decode_snapshot(blob: bytes) -> WearerState:
    """A wearer's state from a snapshot of format 3, 2 or 1 (pickle). Raises ``SnapshotFormatError`` for another
    format, msgspec's ``DecodeError`` / ``ValidationError`` or ``ValueError`` for a blob that does not fit its
    format, and whatever unpickling raises for a broken pickle."""
    if blob[:3] == SNAPSHOT_MAGIC:
        found = blob[3] if len(blob) > 3 else None
        if found == SNAPSHOT_FORMAT:
            state = _DECODER.decode(memoryview(blob)[4:])
            state.detection.check()
            return state
        if found == FORMAT_2:
            return WearerState.from_snapshot(_FORMAT_2_DECODER.decode(memoryview(blob)[4:]))
        raise SnapshotFormatError(str(found) if found is not None else "(none: the blob ends after its magic)")
    if blob[:1] == bytes([_PICKLE_PROTOCOL_BYTE]):
        state = _Unpickler(io.BytesIO(blob)).load()
        if not isinstance(state, WearerState):
            raise TypeError(f"a format-1 snapshot holds a {type(state).__name__}, not a WearerState")
        return state
    raise SnapshotFormatError(f"unknown (the blob starts {bytes(blob[:4])!r})")


@dataclass(frozen=True, slots=True)
class Delivery:
    prompt: PromptV1
    channel: str
    attempts: int


def state_file(state_dir: Path, topic_root: str) -> Path:
    """The alert service's state file: one per topic root, so two deployments on one host do not share wearers."""
    return state_dir / f"{topic_root.replace('/', '_')}.sqlite"


def snapshots_file(path: Path) -> Path:
    """The file of the wearers' snapshots beside the state file ``path`` (module docstring): ``kinetic.sqlite`` ->
    ``kinetic.snapshots.sqlite``."""
    return path.with_name(f"{path.stem}.snapshots{path.suffix or '.sqlite'}")


class AlertState:
    def __init__(self, path: Path, *, read_only: bool = False, create: bool = True) -> None:
        """The state file ``path`` and its snapshots file beside it (``snapshots_file``), opened for the alert service:
        created if missing, a file of layout 1 moved over to layout 2 (module docstring). ``read_only`` (``kinetic
        data export``): neither file is written (SQLite may add its empty ``-wal`` / ``-shm`` beside a file in WAL
        mode), a file of layout 1 is read as it is, and a file missing reads as empty. ``create=False`` (``kinetic
        data delete``): a state file that does not exist is not created (its snapshots file alone, orphaned, is
        opened with an empty outbox in memory). Raises StateError (unreadable, or of a newer layout)."""
        self.path = path
        self.snapshots_path = snapshots_file(path)
        self.read_only = read_only
        try:
            self._db = self._open_read_only() if read_only else self._open(create)
        except sqlite3.Error as exc:
            raise StateError(f"alert state {path}: {exc} (KINETIC_ALERTS__STATE_DIR)") from exc
        self._copier: sqlite3.Connection | None = None  # copy_outbox's connection, opened at its first copy
        self._copying = threading.Lock()  # one copy at a time, and none once closed
        self._closed = False
        self.checkpoints = 0
        self.last_checkpoint_s = 0.0
        self.unrestorable: list[str] = []  # wearers whose snapshot the last load could not read (they start afresh)

    def _open(self, create: bool) -> sqlite3.Connection:
        outbox = str(private_file(self.path)) if create or self.path.exists() else ":memory:"
        self._db = sqlite3.connect(outbox, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # the outbox's WAL is copied into its file by a worker thread (``copy_outbox``), not by whichever outbox
        # write crosses SQLite's 1,000 pages: that copy syncs the disk twice, and this connection is the event loop's
        self._db.execute("PRAGMA main.wal_autocheckpoint=0")
        self._db.executescript(_SCHEMA)
        version = self._version()
        if version == STATE_VERSION and not self.snapshots_path.exists():
            _LOGGER.warning(
                "alert state %s: its snapshots file %s is missing (the state restored or copied without it?): "
                "every wearer starts afresh (calibration again, no open bout); keep the two files together",
                self.path,
                self.snapshots_path,
            )
        self._db.execute("ATTACH DATABASE ? AS snap", (str(private_file(self.snapshots_path)),))
        self._db.execute("PRAGMA snap.journal_mode=WAL")
        self._db.execute("PRAGMA snap.synchronous=NORMAL")
        self._db.execute(_SNAPSHOT_SCHEMA.format(schema="snap."))
        self._snapshots_moved_over()
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (STATE_VERSION,))
        return self._db

    def _open_read_only(self) -> sqlite3.Connection:
        """Both files as they are, read-only (``read_only``): the snapshots are those of the state file's own
        ``wearers`` table in a file of layout 1, else of the snapshots file; what is missing (a file, or a table an
        older Kinetic did not write) reads as empty (a table of its name in this connection's TEMP schema)."""
        if self.path.is_file():
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        else:  # a snapshots file alone (orphaned), or nothing
            self._db = sqlite3.connect(":memory:", isolation_level=None)
        self._version()
        tables = {str(r[0]) for r in self._db.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
        for name, create in _TABLES.items():
            if name not in tables:
                self._db.execute(create.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE", 1))
        if "wearers" in tables:  # layout 1: the snapshots in the state file
            self._db.execute("ATTACH DATABASE ? AS snap", (f"{self.path.resolve().as_uri()}?mode=ro",))
        elif self.snapshots_path.is_file():
            self._db.execute("ATTACH DATABASE ? AS snap", (f"{self.snapshots_path.resolve().as_uri()}?mode=ro",))
        else:
            self._db.execute("ATTACH DATABASE ':memory:' AS snap")
            self._db.execute(_SNAPSHOT_SCHEMA.format(schema="snap."))
        return self._db

    def _version(self) -> str | None:
        """The files' layout the state file says (None: a new file, or none); raises StateError for one this Kinetic
        does not read (the connection closed)."""
        has_meta = self._db.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'meta'")
        if has_meta.fetchone() is None:
            return None
        row = self._db.execute("SELECT value FROM main.meta WHERE key = 'version'").fetchone()
        if row is not None and row[0] not in ("1", STATE_VERSION):
            self._db.close()
            raise StateError(
                f"alert state {self.path} has version {row[0]}, this Kinetic reads 1 and {STATE_VERSION} (the files' "
                "layout; a newer Kinetic's state is not read by an older one)"
            )
        return None if row is None else str(row[0])

    def _snapshots_moved_over(self) -> None:
        """A state file of layout 1 keeps its snapshots in its own ``wearers`` table: copied into the snapshots' file
        (a rowid table: a WITHOUT ROWID one, in files from before issue 18, wrote about twice the bytes per checkpoint,
        ``bench.state_size``), committed, and only then dropped from the state file."""
        found = self._db.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'wearers'")
        if found.fetchone() is None:
            return
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO snap.wearers SELECT wearer, state FROM main.wearers")
        with self._transaction():
            self._db.execute("DROP TABLE main.wearers")

    def load(self) -> dict[str, WearerState]:
        """Every wearer's last checkpointed state that can be read. A snapshot that cannot (a write truncated by a
        full disk, a blob of an incompatible version) costs that wearer only: they start afresh (as a wearer new to
        the service: detection calibrates again), which is logged and counted in ``unrestorable``; the others are
        restored. Their old snapshot stays until their first checkpoint replaces it."""
        out = {}
        self.unrestorable = []
        for wearer, blob in self._db.execute("SELECT wearer, CAST(state AS BLOB) FROM snap.wearers"):
            try:
                out[wearer] = decode_snapshot(blob)
            except Exception as exc:  # whatever decoding or unpickling raises: this wearer's snapshot is unreadable
                self.unrestorable.append(wearer)
                _LOGGER.warning(
                    "alert state %s: wearer %r cannot be restored (%s): they start afresh, the others are restored",
                    self.path,
                    wearer,
                    one_line(f"{type(exc).__name__}: {exc}", 200),
                )
        return out

    def checkpoint(self, states: Mapping[str, WearerState]) -> None:
        """Store these wearers' states in one transaction, as format-3 snapshots."""
        started = time.perf_counter()
        rows = [(w, encode_snapshot(s)) for w, s in states.items()]
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO snap.wearers VALUES (?, ?)", rows)
        self.checkpoints += 1
        self.last_checkpoint_s = time.perf_counter() - started

    @staticmethod
    def encode(state: WearerState) -> bytes:
        """One wearer's state as ``checkpoint`` stores it (a format-3 snapshot, ``encode_snapshot``), for
        ``store_apart``."""
        return encode_snapshot(state)

    def store_apart(self, snapshots: Iterable[tuple[str, bytes]]) -> None:
        """Store these wearers' encoded states (``encode``) in one transaction, on a connection of its own to the
        snapshots' file, for a worker thread (the alert service's checkpoints, which encode them as they were at
        their cut): the event loop goes on meanwhile, and its outbox writes, in the other file, do not wait for this
        one (module docstring). Raises StateError when SQLite refuses."""
        started = time.perf_counter()
        try:
            db = sqlite3.connect(self.snapshots_path, isolation_level=None, timeout=60)
        except sqlite3.Error as exc:
            raise StateError(f"alert state {self.snapshots_path}: {exc} (KINETIC_ALERTS__STATE_DIR)") from exc
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            with _Tx(db):
                db.executemany("INSERT OR REPLACE INTO wearers VALUES (?, ?)", snapshots)
        except sqlite3.Error as exc:
            raise StateError(f"alert state {self.snapshots_path}: checkpoint not stored: {exc}") from exc
        finally:
            db.close()
        self.checkpoints += 1
        self.last_checkpoint_s = time.perf_counter() - started

    def copy_outbox(self) -> None:
        """Copy the outbox's WAL into its file (SQLite's PASSIVE checkpoint: it waits for no reader or writer, and
        what it cannot copy now waits for the next), for a worker thread: the alert service calls it every few
        seconds (``OUTBOX_COPY_S``, its tick), and nothing else does. On a connection of its own, opened at the first
        copy and kept until ``close`` (one copy at a time, from whichever thread: ``asyncio.to_thread`` runs each on
        any worker of its pool); after ``close`` it does nothing. A failure is logged; the WAL waits for the next
        one."""
        with self._copying:
            if self._closed:
                return
            try:
                if self._copier is None:
                    self._copier = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=False)
                self._copier.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                _LOGGER.warning(
                    "alert state %s: the outbox's WAL not copied into the file this time: %s", self.path, exc
                )

    def drop_snapshots(self, wearers: Iterable[str]) -> None:
        """Delete these wearers' snapshots (erased while a checkpoint stored theirs apart: it must not bring them
        back); their prompts are gone already."""
        self._db.executemany("DELETE FROM snap.wearers WHERE wearer = ?", [(w,) for w in wearers])

    def record_prompt(self, prompt: PromptV1, channels: Iterable[str]) -> bool:
        """Put a prompt in the outbox, pending on each channel. False if it is known already (a replay)."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO prompts VALUES (?, ?, ?, ?)",
                (prompt.id, prompt.wearer, prompt.model_dump_json(), round(prompt.expires.timestamp() * 1000)),
            )
            if cursor.rowcount == 0:
                return False
            self._db.executemany(
                "INSERT INTO deliveries (prompt_id, channel, state) VALUES (?, ?, 'pending')",
                [(prompt.id, c) for c in channels],
            )
        return True

    def pending(self) -> list[Delivery]:
        """Deliveries not done yet (after a restart: what the crash interrupted)."""
        rows = self._db.execute(
            "SELECT p.payload, d.channel, d.attempts FROM deliveries d JOIN prompts p ON p.id = d.prompt_id "
            "WHERE d.state = 'pending' ORDER BY p.expires_ms"
        ).fetchall()
        return [
            Delivery(PromptV1.model_validate_json(payload), channel, attempts) for payload, channel, attempts in rows
        ]

    def mark(self, prompt_id: str, channel: str, state: str, error: str | None = None) -> None:
        self._db.execute(
            "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_error = ? "
            "WHERE prompt_id = ? AND channel = ?",
            (state, error, prompt_id, channel),
        )

    def failed_attempt(self, prompt_id: str, channel: str, error: str) -> None:
        self._db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ? WHERE prompt_id = ? AND channel = ?",
            (error, prompt_id, channel),
        )

    def delivery_states(self, prompt_id: str) -> dict[str, str]:
        rows = self._db.execute("SELECT channel, state FROM deliveries WHERE prompt_id = ?", (prompt_id,))
        return dict(rows.fetchall())

    def prune(self, keep_ms: int) -> int:
        """Forget prompts that expired more than ``keep_ms`` before the newest prompt's expiry (event time, never
        the wall clock, so a replay of old data prunes the same way); their outcome events are in the store."""
        with self._transaction():
            old = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM prompts WHERE expires_ms < (SELECT MAX(expires_ms) FROM prompts) - ?", (keep_ms,)
                )
            ]
            self._db.executemany("DELETE FROM deliveries WHERE prompt_id = ?", [(i,) for i in old])
            self._db.executemany("DELETE FROM prompts WHERE id = ?", [(i,) for i in old])
        return len(old)

    def sessions(self) -> dict[tuple[str, str], str]:
        """The exercise sessions running (or ended, waiting for their stream) at the last ``store_sessions``:
        (wearer, session) -> header (JSON), for the alert service to take up again after a restart (issue 19)."""
        rows = self._db.execute("SELECT wearer, session, header FROM sessions")
        return {(str(w), str(s)): str(h) for w, s, h in rows}

    def store_sessions(self, headers: Mapping[tuple[str, str], str]) -> None:
        """Replace the stored sessions with ``headers`` (the few running at once), in one transaction."""
        with self._transaction():
            self._db.execute("DELETE FROM sessions")
            self._db.executemany("INSERT INTO sessions VALUES (?, ?, ?)", [(w, s, h) for (w, s), h in headers.items()])

    def wearers(self) -> list[str]:
        """Every wearer the state holds anything for (a snapshot, prompts in the outbox, a running session)."""
        rows = self._db.execute(
            "SELECT wearer FROM snap.wearers UNION SELECT wearer FROM prompts UNION SELECT wearer FROM sessions "
            "ORDER BY 1"
        )
        return [str(r[0]) for r in rows]

    def holdings(self, wearer: str) -> dict[str, Any]:
        """Everything held for one wearer, as plain JSON values (data rights: ``kinetic data export``):
        ``snapshot`` (the wearer's last checkpointed state, or None) and ``outbox`` (one row per prompt and channel:
        the prompt's fields, the delivery's channel, state, attempts and last error), and ``sessions`` when an exercise
        session of the wearer is running (its id, exercise and start)."""
        row = self._db.execute("SELECT CAST(state AS BLOB) FROM snap.wearers WHERE wearer = ?", (wearer,)).fetchone()
        snapshot = None
        if row is not None:
            try:
                snapshot = plain(decode_snapshot(row[0]))
            except Exception as exc:  # an export must not pass it off as empty: say which wearer
                raise StateError(f"alert state {self.path}: wearer {wearer!r} cannot be read ({exc})") from exc
        rows = self._db.execute(
            "SELECT p.payload, d.channel, d.state, d.attempts, d.last_error FROM prompts p "
            "LEFT JOIN deliveries d ON d.prompt_id = p.id WHERE p.wearer = ? ORDER BY p.expires_ms, p.id, d.channel",
            (wearer,),
        )
        outbox = [
            {**json.loads(payload), "channel": channel, "delivery": state, "attempts": attempts, "last_error": error}
            for payload, channel, state, attempts, error in rows
        ]
        held: dict[str, Any] = {"snapshot": snapshot, "outbox": outbox}
        sessions = [json.loads(h) for (w, _), h in sorted(self.sessions().items()) if w == wearer]
        if sessions:  # an exercise session running when the state was last stored
            held["sessions"] = sessions
        return held

    def forget(self, wearer: str) -> int:
        """Delete the wearer's snapshot, prompts, deliveries and running sessions; returns the rows deleted. One
        transaction over both files, atomic in each (SQLite in WAL mode commits attached files one by one): a crash
        in between leaves the snapshot or the rest, and the erasure, run again, deletes it. Raises StateError when
        SQLite refuses (a file locked by another writer past the busy timeout, a full disk): nothing, or the part of
        one file, is deleted; run it again."""
        try:
            with self._transaction():
                deleted = self._db.execute(
                    "DELETE FROM deliveries WHERE prompt_id IN (SELECT id FROM prompts WHERE wearer = ?)", (wearer,)
                ).rowcount
                deleted += self._db.execute("DELETE FROM prompts WHERE wearer = ?", (wearer,)).rowcount
                deleted += self._db.execute("DELETE FROM snap.wearers WHERE wearer = ?", (wearer,)).rowcount
                deleted += self._db.execute("DELETE FROM sessions WHERE wearer = ?", (wearer,)).rowcount
        except sqlite3.Error as exc:
            raise StateError(f"alert state {self.path}: wearer {wearer!r} not erased: {exc}") from exc
        return deleted

    def _transaction(self) -> _Tx:
        return _Tx(self._db)

    def close(self) -> None:
        """Close both connections (a copy under way in a worker thread is waited for)."""
        with self._copying:
            self._closed = True
            if self._copier is not None:
                self._copier.close()
                self._copier = None
        self._db.close()


def open_existing(path: Path, *, read_only: bool = False) -> AlertState | None:
    """The state at ``path`` if there is any: its state file, or its snapshots file alone (orphaned: the state file
    lost, moved or not restored), said in one line; None if neither exists. A command that reads or erases it does not
    create the state file (``AlertState``'s ``create=False``); ``read_only`` to read it without changing either file
    (``kinetic data export``)."""
    if not path.is_file():
        if not snapshots_file(path).is_file():
            return None
        _LOGGER.warning(
            "alert state %s: not there, its snapshots file %s is (orphaned: the state file lost, moved or not "
            "restored): its wearers are read and erased there",
            path,
            snapshots_file(path),
        )
    return AlertState(path, read_only=read_only, create=False)


def plain(value: Any) -> Any:
    """A snapshot's objects as JSON values: dataclasses and msgspec structures as dicts of their fields, other objects
    as what pickle stores of them (their attributes, slots included), sequences and sets as lists, non-finite floats
    as text."""
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, bytearray):  # the calibration's reservoir: signed bytes (alerts.detect.calibration.quantised)
        return list(memoryview(value).cast("b"))
    if isinstance(value, list | tuple | deque | array):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float):
        return value
    state = value.__getstate__() if hasattr(value, "__getstate__") else None
    if isinstance(state, tuple) and len(state) == 2:  # (__dict__, __slots__ values)
        return plain({**(state[0] or {}), **(state[1] or {})})
    if isinstance(state, dict):
        return plain(state)
    return repr(value)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
