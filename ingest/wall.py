"""The wall between clinics (issue 20, items 2 and 3): which database each of a wearer's points lives in. Pure.

With the wall on (``KINETIC_STORE__CLINIC_WALL``), each clinic's patients' data lives in that clinic's own InfluxDB
1.x database, ``<database>_<clinic uid>`` (``-`` as ``_``), readable only with that clinic's credential
(``ingest/store/access.py``); everything else a wearer produces goes to ``<database>_private``, which no clinic can
read; points without a wearer (the bridge's own ``bridge_stats``) stay in ``<database>``, the operations database.

A point goes to clinic C's database only when both hold:

- the roster (the clinics file, ``ingest/clinics.py``) lists the wearer as C's patient, and
- the wearer's consent record grants C the point's category of data at the point's own time (``since`` inclusive,
  ``until`` exclusive): routing reads the time from the data, so a backlog the bridge writes late lands where the
  consent in force *then* said, and the same points always land in the same place.

Categories (what a wearer grants, one word each): ``posture`` (per-second features, minute rollups, hourly
summaries, posture and prompt events, prompts and their outcomes, device status), ``checkins`` (events whose kind
starts with ``checkin`` or is ``readiness``, and the ``checkins`` and ``readiness`` measurements: pain and stress
check-ins and the daily readiness decisions made from them, whose reasons quote them) and ``exercise`` (events
whose kind starts with ``exercise``, ``session``, ``prescription`` or ``progression``, and the
``session_outcomes`` and ``prescriptions`` measurements: exercise sessions and prescriptions). Consent events
themselves are the wearer's own record: always private.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from ingest.clinics import PRIVATE

Category = Literal["posture", "checkins", "exercise"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
CONSENT_KINDS = ("consent_granted", "consent_withdrawn")
# kinds of the ``events`` measurement by category (InfluxQL regexes too: ``kinetic data move`` filters by them)
CHECKIN_KINDS = r"^(checkin|readiness)"
EXERCISE_KINDS = r"^(exercise|session|prescription|progression)"
# measurements of check-in and exercise data beside the ``events`` points (issues 17 and 19)
CHECKIN_MEASUREMENTS = ("checkins", "readiness")
EXERCISE_MEASUREMENTS = ("session_outcomes", "prescriptions")
CONSENT_KIND_RE = r"^consent_"
_CHECKIN = re.compile(CHECKIN_KINDS)
_EXERCISE = re.compile(EXERCISE_KINDS)
NEVER = None  # an open-ended grant's ``until``


def category_of(measurement: str, kind: str | None) -> Category | None:
    """The category of a point of ``measurement`` (with tag ``kind``, for ``events``); None: never shared (consent)."""
    if measurement in EXERCISE_MEASUREMENTS:
        return "exercise"
    if measurement in CHECKIN_MEASUREMENTS:
        return "checkins"
    if measurement == "events" and kind is not None:
        if kind.startswith("consent_"):
            return None
        if _CHECKIN.match(kind):
            return "checkins"
        if _EXERCISE.match(kind):
            return "exercise"
    return "posture"


@dataclass(frozen=True, slots=True)
class ConsentGrant:
    """The wearer lets ``clinic`` see ``data`` recorded from ``since_ms`` until ``until_ms`` (Unix ms; None: open)."""

    clinic: str
    data: frozenset[Category]
    since_ms: int
    until_ms: int | None = NEVER

    def covers(self, clinic: str, category: Category, t_ms: int) -> bool:
        return (
            clinic == self.clinic
            and category in self.data
            and self.since_ms <= t_ms
            and (self.until_ms is None or t_ms < self.until_ms)
        )

    def as_dict(self) -> dict[str, object]:
        return {"clinic": self.clinic, "data": sorted(self.data), "since_ms": self.since_ms, "until_ms": self.until_ms}

    @staticmethod
    def from_dict(item: dict[str, object]) -> ConsentGrant:
        data = item["data"]
        since, until = item["since_ms"], item["until_ms"]
        if not isinstance(data, list) or not isinstance(since, int) or not (until is None or isinstance(until, int)):
            raise ValueError(f"not a consent grant: {item!r}")
        return ConsentGrant(str(item["clinic"]), frozenset(c for c in CATEGORIES if c in data), since, until)


@dataclass
class ConsentBook:
    """Every wearer's consent grants, as the consent events made them (``grant`` / ``withdraw``)."""

    grants: dict[str, list[ConsentGrant]] = field(default_factory=dict)

    def grant(self, wearer: str, clinic: str, data: frozenset[Category], since_ms: int, until_ms: int | None) -> None:
        """Add a grant. Granting again what is granted adds a period; periods may overlap (the union counts)."""
        self.grants.setdefault(wearer, []).append(ConsentGrant(clinic, data, since_ms, until_ms))

    def withdraw(self, wearer: str, clinic: str, data: frozenset[Category], at_ms: int) -> None:
        """From ``at_ms`` on, ``clinic`` is not granted ``data`` of the wearer any more (what came before stays
        granted: sharing stops from then on; ``kinetic consent withdraw --delete-shared`` takes back the copy)."""
        kept: list[ConsentGrant] = []
        for g in self.grants.get(wearer, []):
            if g.clinic != clinic or not (g.data & data) or (g.until_ms is not None and g.until_ms <= at_ms):
                kept.append(g)
                continue
            if g.since_ms < at_ms:  # the part before the withdrawal stays as it was
                kept.append(ConsentGrant(g.clinic, g.data, g.since_ms, at_ms))
            rest = g.data - data
            if rest:  # what was not withdrawn goes on
                kept.append(ConsentGrant(g.clinic, frozenset(rest), max(g.since_ms, at_ms), g.until_ms))
        self.grants[wearer] = kept

    def allows(self, wearer: str, clinic: str, category: Category, t_ms: int) -> bool:
        return any(g.covers(clinic, category, t_ms) for g in self.grants.get(wearer, []))

    def periods(self, wearer: str, clinic: str, category: Category) -> list[tuple[int, int | None]]:
        """When ``clinic`` is granted ``category`` of the wearer's data: ``(since_ms, until_ms)`` periods (None: open),
        overlapping ones merged, in time order (what ``allows`` says, as intervals)."""
        spans = sorted(
            (g.since_ms, g.until_ms) for g in self.grants.get(wearer, []) if g.clinic == clinic and category in g.data
        )
        merged: list[tuple[int, int | None]] = []
        for since, until in spans:
            if merged:
                last_since, last_until = merged[-1]
                if last_until is None or since <= last_until:
                    end = None if last_until is None or until is None else max(last_until, until)
                    merged[-1] = (last_since, end)
                    continue
            merged.append((since, until))
        return merged

    def clinics_now(self, wearer: str, t_ms: int) -> dict[str, set[Category]]:
        """clinic -> the categories granted to it at ``t_ms``."""
        out: dict[str, set[Category]] = {}
        for g in self.grants.get(wearer, []):
            if g.since_ms <= t_ms and (g.until_ms is None or t_ms < g.until_ms):
                out.setdefault(g.clinic, set()).update(g.data)
        return out

    def state(self) -> str:
        """JSON (the bridge keeps it in its spool, committed with the batch that carried the change)."""
        return json.dumps({w: [g.as_dict() for g in gs] for w, gs in sorted(self.grants.items())}, sort_keys=True)

    @staticmethod
    def from_state(text: str | None) -> ConsentBook:
        if not text:
            return ConsentBook()
        raw = json.loads(text)
        return ConsentBook({str(w): [ConsentGrant.from_dict(g) for g in gs] for w, gs in raw.items()})


def within(periods: list[tuple[int, int | None]], start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """The parts of ``[start_ms, end_ms)`` inside ``periods`` (``ConsentBook.periods``), in order; empty ones left
    out."""
    out = []
    for since, until in periods:
        lo, hi = max(start_ms, since), end_ms if until is None else min(end_ms, until)
        if lo < hi:
            out.append((lo, hi))
    return out


def database_name(base: str, clinic: str) -> str:
    """The database of ``clinic`` (or ``PRIVATE``) under the wall: ``<base>_<clinic>``, ``-`` as ``_``."""
    return f"{base}_{clinic.replace('-', '_')}"


@dataclass
class Wall:
    """Where each point goes: ``base`` (the operations database), ``roster`` (wearer -> clinic uid) and ``consent``."""

    base: str
    roster: dict[str, str]
    consent: ConsentBook = field(default_factory=ConsentBook)

    @property
    def private(self) -> str:
        return database_name(self.base, PRIVATE)

    def clinic_databases(self) -> dict[str, str]:
        """clinic uid -> its database, for every clinic of the roster."""
        return {clinic: database_name(self.base, clinic) for clinic in sorted(set(self.roster.values()))}

    def databases(self) -> list[str]:
        """Every database a wearer's point can be in."""
        return [*self.clinic_databases().values(), self.private]

    def database_for(self, wearer: str | None, category: Category | None, t_ms: int) -> str:
        if wearer is None:
            return self.base
        clinic = self.roster.get(wearer)
        if clinic is None or category is None or not self.consent.allows(wearer, clinic, category, t_ms):
            return self.private
        return database_name(self.base, clinic)

    def route(self, body: bytes) -> dict[str, bytes]:
        """Line protocol -> database -> the lines that go there, each database's lines in their order.

        The bridge's hot path, so it works by runs: consecutive lines of one series (a feature batch's frames) have
        their series key parsed once, and their times read only when the wearer's consent changes at some time
        (a grant's since or until) - else every line of the run goes where the first does."""
        out: dict[str, list[bytes]] = {}
        keys: dict[bytes, tuple[str | None, Category | None]] = {}
        lines = body.splitlines(keepends=True)
        if lines and not lines[-1].endswith(b"\n"):
            lines[-1] += b"\n"
        i, n = 0, len(lines)
        while i < n:
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            series = _series_key(line)
            prefix = series + b" "
            j = i + 1
            while j < n and lines[j].startswith(prefix):
                j += 1
            known = keys.get(series)
            if known is None:
                measurement, tags, _ = line_key(prefix + b"x=0 0")
                known = keys[series] = (tags.get("wearer"), category_of(measurement, tags.get("kind")))
            wearer, category = known
            if self._timeless(wearer, category):
                out.setdefault(self.database_for(wearer, category, 0), []).extend(lines[i:j])
            else:
                for each in lines[i:j]:
                    out.setdefault(self.database_for(wearer, category, _line_time(each)), []).append(each)
            i = j
        return {db: b"".join(chunk) for db, chunk in out.items()}

    def _timeless(self, wearer: str | None, category: Category | None) -> bool:
        """Whether the wearer's points of ``category`` go to one database whatever their time."""
        if wearer is None or category is None:
            return True
        clinic = self.roster.get(wearer)
        return clinic is None or not any(g.clinic == clinic for g in self.consent.grants.get(wearer, ()))


def _series_key(line: bytes) -> bytes:
    """The measurement and tags of a line: up to the first space no backslash escapes."""
    i = line.find(b" ")
    if b"\\" not in line[:i]:
        return line[:i]
    return _split_unescaped(line.rstrip(b"\n"), 0x20)[0]


def _line_time(line: bytes) -> int:
    """The timestamp (ms) at the end of a line; 0 when it has none (Kinetic always writes one)."""
    last = line.rstrip(b"\n").rsplit(b" ", 1)[-1]
    return int(last) if last.isdigit() and line.count(b" ") >= 2 else 0


def _unescape(raw: bytes) -> str:
    return re.sub(rb"\\(.)", rb"\1", raw).decode("utf-8", "replace")


def _split_unescaped(raw: bytes, sep: int) -> list[bytes]:
    parts: list[bytes] = []
    start, i = 0, 0
    while i < len(raw):
        if raw[i] == 0x5C:  # a backslash escapes the next byte
            i += 2
            continue
        if raw[i] == sep:
            parts.append(raw[start:i])
            start = i + 1
        i += 1
    parts.append(raw[start:])
    return parts


def line_key(line: bytes) -> tuple[str, dict[str, str], int]:
    """One line of InfluxDB line protocol (ms precision) -> (measurement, tags, timestamp ms). The series key runs to
    the first unescaped space; the timestamp is the last field after the last space (field values may hold quoted
    spaces, never a space after the timestamp). A line without a timestamp gets 0."""
    line = line.rstrip(b"\n")
    series = _split_unescaped(line, 0x20)[0]
    head, *pairs = _split_unescaped(series, 0x2C)
    tags = {}
    for pair in pairs:
        key, _, value = pair.partition(b"=")
        tags[_unescape(key)] = _unescape(value)
    last = line.rsplit(b" ", 1)[-1]
    t_ms = int(last) if last.isdigit() and line.count(b" ") >= 2 else 0
    return _unescape(head), tags, t_ms
