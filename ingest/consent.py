"""A wearer's consent to share their data with a clinic (issue 20, item 3): the record, its changes, their events.

A record is the list of the wearer's changes, oldest first, in one JSON-lines file (``KINETIC_STORE__CONSENT_PATH``,
mode 600, only ever appended to: the history of what was granted when is itself part of what a wearer is shown).
A change grants or withdraws a clinic (a uid of the clinics file) some categories of data (``posture``,
``checkins``, ``exercise``: ingest/wall.py) from a time on (a grant: until a time, or open). Every change is also an
event on the wire (``EventV1`` kinds ``consent_granted`` / ``consent_withdrawn``), which the bridge applies to its
routing (ingest/wall.py) and stores in the wearer's private data.

The API the commands and the web app use (``ConsentLedger``: ``read``, ``grant``, ``withdraw``) checks a change the
same way for both (a known clinic, a grant that starts no later than now and ends after it starts, known categories,
a time the wire takes), writes the file and returns the event to publish; what a record means at a moment is
``ConsentBook`` (pure, ingest/wall.py). ``clinic_read_refusal`` is the one rule a clinic's read follows (the weekly
report for a clinic, the web app serving a clinic).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from ingest.clinics import ClinicsFile
from ingest.errors import ConfigError
from ingest.store.private import private_file
from ingest.textfile import CachedFile
from ingest.wall import CATEGORIES, Category, ConsentBook
from ingest.wire import ConsentV1, EventV1, check_id

Action = Literal["grant", "withdraw"]


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One change of a wearer's record: ``at_ms`` is when it takes effect (a grant's ``since``; a withdrawal's from
    when), ``until_ms`` a grant's end (None: open). Times in Unix ms."""

    wearer: str
    action: Action
    clinic: str
    data: tuple[Category, ...]
    at_ms: int
    until_ms: int | None = None

    def event(self) -> EventV1:
        """The change as the event every service sees (EventV1, ``t`` = ``at_ms``)."""
        until = None if self.until_ms is None else datetime.fromtimestamp(self.until_ms / 1000, UTC)
        return EventV1(
            kind="consent_granted" if self.action == "grant" else "consent_withdrawn",
            wearer=self.wearer,
            t=datetime.fromtimestamp(self.at_ms / 1000, UTC),
            consent=ConsentV1(clinic=self.clinic, data=list(self.data), until=until),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "wearer": self.wearer,
            "action": self.action,
            "clinic": self.clinic,
            "data": list(self.data),
            "at_ms": self.at_ms,
            "until_ms": self.until_ms,
        }


def apply(book: ConsentBook, change: ConsentChange) -> None:
    """``change`` into ``book`` (pure)."""
    data = frozenset(change.data)
    if change.action == "grant":
        book.grant(change.wearer, change.clinic, data, change.at_ms, change.until_ms)
    else:
        book.withdraw(change.wearer, change.clinic, data, change.at_ms)


def book_of(changes: list[ConsentChange]) -> ConsentBook:
    """Every wearer's grants as ``changes`` (in order) made them (pure)."""
    book = ConsentBook()
    for change in changes:
        apply(book, change)
    return book


def check_data(data: list[str]) -> tuple[Category, ...]:
    """Category words (``posture``, ``checkins``, ``exercise``), each once, in their order. Raises ConfigError."""
    unknown = [d for d in data if d not in CATEGORIES]
    if unknown or not data:
        raise ConfigError(f"data {unknown or data!r}: name one or more of {', '.join(CATEGORIES)}")
    return tuple(c for c in CATEGORIES if c in data)


def clinic_read_refusal(clinics: ClinicsFile, book: ConsentBook, wearer: str, clinic: str, now_ms: int) -> str | None:
    """Why ``clinic`` may not read ``wearer``'s data at ``now_ms`` (None: it may): the wearer must be on the clinic's
    roster (the clinics file) and grant it their posture data now (the record). Raises ConfigError for a clinic the
    file does not know. Pure."""
    if wearer not in clinics.clinic(clinic).patients:
        return f"{wearer} is not a patient of clinic {clinic}"
    if "posture" not in book.clinics_now(wearer, now_ms).get(clinic, set()):
        return f"{wearer} does not share their posture data with clinic {clinic} now"
    return None


class ConsentLedger:
    """The consent records in ``path`` (JSON lines, mode 600, append-only). Thread-safe within a process.
    ``clinics``: the clinics file, when there is one: a change for a clinic it does not know is refused."""

    def __init__(self, path: Path, clinics: ClinicsFile | None = None) -> None:
        self.path = path
        self.clinics = clinics
        self._lock = threading.Lock()
        # the file as last parsed, read again when its stat moves (a change by any process does): a clinic's web view
        # asks at every request, and re-reading an unchanged record each time would grow with its history
        self._file: CachedFile[tuple[tuple[ConsentChange, ...], ConsentBook]] = CachedFile(
            path, self._read, lambda: ((), ConsentBook())
        )

    def _all(self) -> tuple[tuple[ConsentChange, ...], ConsentBook]:
        """Every change and the book they make, read anew only when the file's stat moved since the last read
        (``ingest.textfile.CachedFile``: inode, size, modification and change time in ns; append-only, an append
        always grows it). Raises ConfigError as ``changes``."""
        with self._lock:
            return self._file.get()

    def _read(self, path: Path) -> tuple[tuple[ConsentChange, ...], ConsentBook]:
        changes = tuple(self._parse(path.read_text(encoding="utf-8")))
        return changes, book_of(list(changes))

    def _parse(self, text: str) -> list[ConsentChange]:
        out = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                change = ConsentChange(
                    check_id(raw["wearer"]),
                    "grant" if raw["action"] == "grant" else "withdraw",
                    check_id(raw["clinic"]),
                    check_data(raw["data"]),
                    int(raw["at_ms"]),
                    None if raw["until_ms"] is None else int(raw["until_ms"]),
                )
            except (ValueError, KeyError, TypeError, ConfigError) as exc:
                raise ConfigError(
                    f"setting KINETIC_STORE__CONSENT_PATH: {self.path} line {number} is no consent change ({exc})"
                ) from None
            out.append(change)
        return out

    def changes(self, wearer: str | None = None) -> list[ConsentChange]:
        """Every change (or ``wearer``'s), oldest first. Raises ConfigError naming a line that is not a change."""
        changes, _ = self._all()
        return [c for c in changes if wearer is None or c.wearer == wearer]

    def book(self) -> ConsentBook:
        """Every wearer's grants now recorded (a copy: the caller may change it). The file is parsed again only when
        it changed (``_all``), so a withdrawal counts from the next call on."""
        _, book = self._all()
        return ConsentBook({wearer: list(grants) for wearer, grants in book.grants.items()})

    def read(self, wearer: str, now_ms: int) -> dict[str, object]:
        """What the wearer is shown: the clinics that may see which of their data now, and every change."""
        changes = self.changes(check_id(wearer))
        now = book_of(changes).clinics_now(wearer, now_ms)
        return {
            "wearer": wearer,
            "now": {clinic: [c for c in CATEGORIES if c in data] for clinic, data in sorted(now.items())},
            "changes": [c.as_dict() for c in changes],
        }

    def grant(
        self,
        wearer: str,
        clinic: str,
        data: list[str],
        since_ms: int,
        until_ms: int | None = None,
        now_ms: int | None = None,
    ) -> ConsentChange:
        """Record a grant; returns it (publish ``.event()``). Raises ConfigError (a clinic the clinics file does not
        know, a bad category, since after ``now_ms`` when given, until <= since)."""
        clinic = self._known(clinic)
        if now_ms is not None and since_ms > now_ms:
            raise ConfigError("--since is in the future: grant when sharing should start")
        if until_ms is not None and until_ms <= since_ms:
            raise ConfigError("--until must be after --since: a grant that ends before it starts shares nothing")
        return self._append(ConsentChange(check_id(wearer), "grant", clinic, check_data(data), since_ms, until_ms))

    def withdraw(
        self, wearer: str, clinic: str, data: list[str], at_ms: int, delete_shared: bool = False
    ) -> ConsentChange:
        """Record a withdrawal from ``at_ms`` on; returns it (publish ``.event()``). ``delete_shared``: from the first
        grant to that clinic on instead (no earlier grant stands: what the clinic holds is then misplaced, and a
        rerouting, ``kinetic data move``, takes it back into the private database). Raises ConfigError."""
        clinic = self._known(clinic)
        wearer = check_id(wearer)
        if delete_shared:
            since = [c.at_ms for c in self.changes(wearer) if c.action == "grant" and c.clinic == clinic]
            at_ms = min([*since, at_ms])
        return self._append(ConsentChange(wearer, "withdraw", clinic, check_data(data), at_ms))

    def _known(self, clinic: str) -> str:
        clinic = check_id(clinic)
        if self.clinics is not None:
            self.clinics.clinic(clinic)  # ConfigError naming the clinics there are
        return clinic

    def _append(self, change: ConsentChange) -> ConsentChange:
        try:
            change.event()  # what cannot go on the wire is not recorded either (e.g. a time before 2015)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise ConfigError(f"consent change for {change.wearer}: {where}: {problem['msg']}") from None
        with self._lock, private_file(self.path).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(change.as_dict(), sort_keys=True) + "\n")
        return change
