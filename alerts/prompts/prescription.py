"""Prescriptions as data (issue 19, item 1): what a clinician prescribes a wearer, from the catalog, with its dose.

A prescriptions file (YAML) maps wearer ids to entries::

    wearers:
      ann:
        - exercise: side-plank-hold        # a catalog id (the built-in catalog or the clinic's own files)
          sets: 3
          hold_s: 20                       # an isometric hold; or reps (with a tempo)
          rest_s: 60
          per_week: 3                      # or per_day
          day_types: [capacity]            # which days of the wearer's plan (capacity / relief)
          progression:                     # optional: proposed weekly, accepted by the clinician
            add_hold_s: 5                  # or add_reps
            max_hold_s: 60                 # or max_reps
            while_pain_at_most: 3          # 0-10, reported after sessions
            step_back_when_pain_above: 5
        - exercise: controlled-sit-to-stand
          sets: 2
          reps: 8
          tempo: {down_s: 3, pause_s: 1, up_s: 3}
          per_day: 1

Validated like policy files: a wrong entry raises PrescriptionError naming the file, the wearer, the entry and the
reason. The bounds are safety limits for a home programme (a 5-minute hold, 50 repetitions, 6 sessions a day at
most), not clinical advice.

Editing (``kinetic prescription set|remove``, the accepted progression): ``edit_prescriptions`` changes one entry of
the file's data and validates the whole file again, so an edit can never leave a file the services refuse;
``change_event`` is the ``prescription_changed`` event every change publishes (docs/wire.md). One code path for
the CLI (``kinetic prescription``) and the web app's Prescriptions page: ``plan_change`` (set, remove) and
``plan_decision`` (accept or reject a pending progression proposal) validate and make the event without touching
the file; the caller publishes ``PlannedChange.event`` and only then ``commit``s (every change is an event: with
the broker unreachable, nothing changes).
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.errors import PolicyError
from alerts.prompts.catalog import DayType, Tempo
from ingest.textfile import FileStamp, TextFileError, file_stamp, load_yaml
from ingest.wire import ID_PATTERN, EventV1

_LOGGER = logging.getLogger(__name__)
_ID = re.compile(ID_PATTERN)
ALL_DAY_TYPES: tuple[DayType, ...] = ("capacity", "relief")


class PrescriptionError(PolicyError):
    """A prescriptions file or entry Kinetic cannot use; the message names the file, wearer, entry and reason."""


class Progression(BaseModel):
    """The weekly step a clinician allows: up while pain stays low, back when it rises; never past the maximum."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    add_hold_s: float | None = Field(default=None, gt=0, le=30)
    max_hold_s: float | None = Field(default=None, ge=5, le=300)
    add_reps: int | None = Field(default=None, ge=1, le=5)
    max_reps: int | None = Field(default=None, ge=1, le=50)
    while_pain_at_most: int = Field(default=3, ge=0, le=10)
    step_back_when_pain_above: int = Field(default=5, ge=0, le=10)
    automatic: bool = Field(default=False, description="applied without the clinician's acceptance")

    @model_validator(mode="after")
    def _one_kind_of_step(self) -> Progression:
        holds = self.add_hold_s is not None or self.max_hold_s is not None
        reps = self.add_reps is not None or self.max_reps is not None
        if holds == reps:
            raise ValueError("a progression steps holds (add_hold_s, max_hold_s) or repetitions (add_reps, max_reps)")
        if (self.add_hold_s is None) != (self.max_hold_s is None) or (self.add_reps is None) != (self.max_reps is None):
            raise ValueError("a progression needs both its step and its maximum")
        if self.step_back_when_pain_above < self.while_pain_at_most:
            raise ValueError("step_back_when_pain_above must not be below while_pain_at_most")
        return self


class Prescribed(BaseModel):
    """One prescribed exercise and its dose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exercise: str = Field(pattern=ID_PATTERN)
    sets: int = Field(default=1, ge=1, le=10)
    reps: int | None = Field(default=None, ge=1, le=50)
    hold_s: float | None = Field(default=None, ge=5, le=300)
    tempo: Tempo | None = None
    rest_s: float = Field(default=30, ge=0, le=600)
    per_day: int | None = Field(default=None, ge=1, le=6)
    per_week: int | None = Field(default=None, ge=1, le=14)
    day_types: list[DayType] = Field(default_factory=lambda: list(ALL_DAY_TYPES), min_length=1)
    progression: Progression | None = None

    @model_validator(mode="after")
    def _a_dose(self) -> Prescribed:
        if (self.reps is None) == (self.hold_s is None):
            raise ValueError("give reps (repetitions) or hold_s (an isometric hold), one of them")
        if self.tempo is not None and self.reps is None:
            raise ValueError("a tempo is for repetitions (reps)")
        if (self.per_day is None) == (self.per_week is None):
            raise ValueError("give per_day or per_week, one of them")
        p = self.progression
        if p is not None:
            if self.hold_s is not None and p.max_hold_s is None:
                raise ValueError("a hold progresses by add_hold_s / max_hold_s")
            if self.reps is not None and p.max_reps is None:
                raise ValueError("repetitions progress by add_reps / max_reps")
            if p.max_hold_s is not None and self.hold_s is not None and p.max_hold_s < self.hold_s:
                raise ValueError(f"max_hold_s {p.max_hold_s:g} is below the prescribed hold_s {self.hold_s:g}")
            if p.max_reps is not None and self.reps is not None and p.max_reps < self.reps:
                raise ValueError(f"max_reps {p.max_reps} is below the prescribed reps {self.reps}")
        return self

    @property
    def kind(self) -> Literal["hold", "reps"]:
        return "hold" if self.hold_s is not None else "reps"


def parse_prescriptions(data: Any, source: str, catalog_ids: Collection[str]) -> dict[str, list[Prescribed]]:
    """``{wearers: {id: [entry, ...]}}`` -> each wearer's prescriptions. Raises PrescriptionError naming the source,
    the wearer, the entry (its index and exercise) and the reason; an exercise must be in ``catalog_ids``."""
    if not isinstance(data, Mapping) or set(data) - {"wearers"} or not isinstance(data.get("wearers", {}), Mapping):
        raise PrescriptionError(f"{source}: expected 'wearers:' mapping wearer ids to lists of prescribed exercises")
    out: dict[str, list[Prescribed]] = {}
    for wearer, entries in (data.get("wearers") or {}).items():
        if not isinstance(wearer, str) or not _ID.match(wearer):
            raise PrescriptionError(f"{source}: wearer {wearer!r} is no wearer id ({ID_PATTERN}); quote it in YAML")
        if not isinstance(entries, list):
            raise PrescriptionError(f"{source}: wearer {wearer!r}: expected a list of prescribed exercises")
        prescribed: list[Prescribed] = []
        for index, raw in enumerate(entries, start=1):
            name = raw.get("exercise", "?") if isinstance(raw, Mapping) else "?"
            where = f"{source}: wearer {wearer!r}, entry {index} ({name})"
            try:
                entry = Prescribed.model_validate(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"])
                reason = str(err["msg"]).removeprefix("Value error, ")
                raise PrescriptionError(f"{where}: {field}: {reason}" if field else f"{where}: {reason}") from None
            if entry.exercise not in catalog_ids:
                raise PrescriptionError(f"{where}: exercise {entry.exercise!r} is not in the catalog")
            if any(p.exercise == entry.exercise for p in prescribed):
                raise PrescriptionError(f"{where}: {entry.exercise!r} is prescribed twice for this wearer")
            prescribed.append(entry)
        out[wearer] = prescribed
    return out


def load_prescriptions(path: Path, catalog_ids: Collection[str]) -> dict[str, list[Prescribed]]:
    """A prescriptions file. Raises PrescriptionError naming the file and what is wrong."""
    try:
        data = load_yaml(path)
    except TextFileError as exc:
        raise PrescriptionError(f"{path}: cannot read the prescriptions file ({exc})") from None
    return parse_prescriptions(data, str(path), catalog_ids)


class PrescriptionsFile:
    """A prescriptions file a service keeps reading: ``current()`` is the file's content, read again when its stat
    changed (``FileStamp``) (``kinetic prescription`` edits it while the alert service runs). A file
    that became invalid is reported once (warning) and the last valid content kept: a slip in an edit never stops
    the service. The first read raises PrescriptionError (a service should not start on a bad file)."""

    def __init__(self, path: Path, catalog_ids: Collection[str]) -> None:
        self.path = path
        self.catalog_ids = catalog_ids
        self._stamp = self._stat()
        self._content = load_prescriptions(path, catalog_ids)

    def _stat(self) -> FileStamp | None:
        """The file's stamp (``ingest.textfile.file_stamp``: inode, size, modification and change times in ns, so an
        edit saved by a rename with its time set back is seen too); None when it cannot be stat'ed."""
        try:
            return file_stamp(self.path)
        except OSError:
            return None

    def current(self) -> dict[str, list[Prescribed]]:
        stamp = self._stat()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._content = load_prescriptions(self.path, self.catalog_ids)
                _LOGGER.info("%s: prescriptions read again (%d wearers)", self.path, len(self._content))
            except PrescriptionError as exc:
                _LOGGER.warning("%s; the prescriptions read before stay in force", exc)
        return self._content


def edit_prescriptions(
    data: Any, wearer: str, exercise: str, changes: Mapping[str, Any] | None, source: str, catalog_ids: Collection[str]
) -> tuple[dict[str, Any], Prescribed | None, Prescribed | None]:
    """One entry of a prescriptions file's data (as read from YAML; None: an empty file) changed: ``changes`` maps
    field names (``hold_s``; dotted for nested ones: ``tempo.down_s``, ``progression.add_hold_s``) to new values,
    None removing a field; a new entry (``exercise`` not yet prescribed) takes them as its fields; ``changes`` None
    removes the entry. Returns (the new data, the entry before, the entry after; None where there is none). The whole
    file is validated again (``parse_prescriptions``); raises PrescriptionError naming ``source``, the wearer, the
    entry and the reason. The input is not modified."""
    if not _ID.match(wearer):
        raise PrescriptionError(f"{source}: wearer {wearer!r} is no wearer id ({ID_PATTERN})")
    before = parse_prescriptions(data if data is not None else {"wearers": {}}, source, catalog_ids)
    new = copy.deepcopy(data) if data is not None else {}
    wearers = new.setdefault("wearers", {})
    if wearers is None:
        wearers = new["wearers"] = {}
    entries: list[Any] = wearers.setdefault(wearer, [])
    index = next((i for i, e in enumerate(entries) if isinstance(e, Mapping) and e.get("exercise") == exercise), None)
    old = before.get(wearer, [])[index] if index is not None else None
    if changes is None:
        if index is None:
            raise PrescriptionError(f"{source}: wearer {wearer!r}: {exercise!r} is not prescribed, nothing to remove")
        del entries[index]
        if not entries:
            del wearers[wearer]
        parse_prescriptions(new, source, catalog_ids)
        return new, old, None
    entry: dict[str, Any] = dict(entries[index]) if index is not None else {"exercise": exercise}
    for key, value in changes.items():
        path = key.split(".")
        if path[0] == "exercise" or len(path) > 2 or not all(path):
            raise PrescriptionError(f"{source}: wearer {wearer!r}, {exercise}: {key!r} is not a field that can be set")
        target = entry
        if len(path) == 2:
            nested = entry.get(path[0])
            target = entry[path[0]] = dict(nested) if isinstance(nested, Mapping) else {}
        if value is None:
            target.pop(path[-1], None)
            if len(path) == 2 and not target:
                del entry[path[0]]
        else:
            target[path[-1]] = value
    if index is None:
        entries.append(entry)
    else:
        entries[index] = entry
    after = parse_prescriptions(new, source, catalog_ids)
    return new, old, next(p for p in after[wearer] if p.exercise == exercise)


def dose_text(p: Prescribed) -> str:
    """The dose in words: ``3 x 20 s hold, rest 60 s, 3 per week`` / ``2 x 8 reps at 3-1-3 s, rest 30 s, 1 per day``."""
    if p.hold_s is not None:
        what = f"{p.sets} x {p.hold_s:g} s hold"
    else:
        tempo = f" at {p.tempo.down_s:g}-{p.tempo.pause_s:g}-{p.tempo.up_s:g} s" if p.tempo is not None else ""
        what = f"{p.sets} x {p.reps} reps{tempo}"
    often = f"{p.per_day} per day" if p.per_day is not None else f"{p.per_week} per week"
    return f"{what}, rest {p.rest_s:g} s, {often}"


def dose_metrics(p: Prescribed) -> dict[str, float]:
    """The dose as event metrics (docs/wire.md, ``prescription_changed``): sets, reps or hold_s, rest_s, per_day or
    per_week, tempo_down_s / tempo_pause_s / tempo_up_s."""
    out = {"sets": float(p.sets), "rest_s": float(p.rest_s)}
    for name in ("reps", "hold_s", "per_day", "per_week"):
        value = getattr(p, name)
        if value is not None:
            out[name] = float(value)
    if p.tempo is not None:
        out |= {"tempo_down_s": p.tempo.down_s, "tempo_pause_s": p.tempo.pause_s, "tempo_up_s": p.tempo.up_s}
    return out


def describe_change(old: Prescribed | None, new: Prescribed | None) -> str:
    """What changed, in one line: ``hold_s 20 -> 25, rest_s 30 -> 60``; ``prescribed: <dose>``; ``removed``."""
    if new is None:
        return "removed" if old is not None else "nothing"
    if old is None:
        return f"prescribed: {dose_text(new)}"
    a, b = _flat(old.model_dump(exclude_none=True)), _flat(new.model_dump(exclude_none=True))
    changed = [
        f"{k} {_word(a.get(k))} -> {_word(b.get(k))}" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)
    ]
    return ", ".join(changed) or "unchanged"


def change_event(
    wearer: str, exercise: str, old: Prescribed | None, new: Prescribed | None, at: datetime, why: str
) -> EventV1:
    """The ``prescription_changed`` event for one change at ``at`` (timezone-aware): ``reason`` is the change and
    ``why`` (who or what made it: ``set by the clinician (cli)``, ``progression accepted``), ``metrics`` the new dose
    (``removed`` 1 when the entry was removed)."""
    reason = f"{describe_change(old, new)}; {why}"
    return EventV1(
        kind="prescription_changed",
        wearer=wearer,
        t=at,
        exercise=exercise,
        reason=reason if len(reason) <= 200 else reason[:199] + "…",
        metrics=dose_metrics(new) if new is not None else {"removed": 1.0},
    )


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _word(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- changing the file: one code path for the CLI and the web app ----------------------------------------------------
def read_prescriptions_data(path: Path) -> Any:
    """The file's data as YAML gives it (None: no file yet). Raises PrescriptionError when it cannot be read."""
    if not path.exists():
        return None
    try:
        return load_yaml(path)
    except TextFileError as exc:
        raise PrescriptionError(f"{path}: cannot read the prescriptions file ({exc})") from None


def write_whole(path: Path, data: Any) -> None:
    """Written whole, then renamed over the file: a reader sees the old file or the new one (YAML comments go)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, path)


def pending_path(path: Path) -> Path:
    """Where the proposals waiting for the clinician are kept: beside the prescriptions file."""
    return path.with_name(f"{path.stem}.proposals.yaml")


def load_pending(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The pending proposals of prescriptions file ``path``: wearer -> exercise -> {week, change, hold_s or reps,
    reason, proposed}. Raises PrescriptionError when the file of proposals cannot be read."""
    where = pending_path(path)
    if not where.exists():
        return {}
    try:
        data = load_yaml(where)
    except TextFileError as exc:
        raise PrescriptionError(f"{where}: cannot read the pending proposals ({exc})") from None
    proposals = (data or {}).get("proposals") if isinstance(data, Mapping) else None
    if not isinstance(proposals, Mapping):
        raise PrescriptionError(f"{where}: expected 'proposals:' mapping wearers to exercises (written by Kinetic)")
    return {str(w): {str(e): dict(p) for e, p in (byex or {}).items()} for w, byex in proposals.items()}


def save_pending(path: Path, pending: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
    kept = {w: dict(byex) for w, byex in pending.items() if byex}
    write_whole(pending_path(path), {"proposals": kept})


@dataclass(frozen=True)
class PlannedChange:
    """A validated change of a prescriptions file, not made yet: publish ``event`` (the ``prescription_changed``
    event), then ``commit()`` writes the file (and the pending proposals, for an accept or reject). ``text``: what
    changed, in one line."""

    path: Path
    data: dict[str, Any]
    event: EventV1
    text: str
    pending: dict[str, dict[str, dict[str, Any]]] | None = None

    def commit(self) -> None:
        write_whole(self.path, self.data)
        if self.pending is not None:
            save_pending(self.path, self.pending)


def plan_change(
    path: Path,
    catalog_ids: Collection[str],
    wearer: str,
    exercise: str,
    changes: Mapping[str, Any] | None,
    why: str,
    at: datetime,
) -> PlannedChange:
    """``edit_prescriptions`` on the file at ``path`` (``changes`` None: the entry removed) and its event at ``at``,
    ``why`` saying who made it (``set by the clinician (cli)``). Raises PrescriptionError (file, wearer, entry,
    reason); nothing is written."""
    new, old, after = edit_prescriptions(
        read_prescriptions_data(path), wearer, exercise, changes, str(path), catalog_ids
    )
    event = change_event(wearer, exercise, old, after, at, why)
    return PlannedChange(path, new, event, f"{wearer} / {exercise}: {describe_change(old, after)}")


def plan_decision(
    path: Path,
    catalog_ids: Collection[str],
    wearer: str,
    exercise: str,
    accept: bool,
    edits: Mapping[str, Any],
    at: datetime,
    who: str = "the clinician",
) -> PlannedChange:
    """Accept (edited by ``edits``: the same keys as ``plan_change``'s changes) or reject the pending progression
    proposal of ``wearer``'s ``exercise``: a ``prescription_changed`` event either way (a rejection is recorded as
    "unchanged; progression of <week> rejected by <who>", so the report stops showing the proposal as pending), and
    the proposal dropped at ``commit``. Raises PrescriptionError when none is pending or the edited dose is refused."""
    pending = load_pending(path)
    proposal = pending.get(wearer, {}).get(exercise)
    if proposal is None:
        raise PrescriptionError(
            f"{pending_path(path)}: no pending proposal for {wearer} / {exercise} (kinetic prescription show)"
        )
    if accept:
        changes = {k: v for k, v in proposal.items() if k in ("hold_s", "reps")} | dict(edits)
        why = f"progression of {proposal['week']} {'edited and ' if edits else ''}accepted by {who}"
    else:
        changes, why = {}, f"progression of {proposal['week']} rejected by {who}"
    planned = plan_change(path, catalog_ids, wearer, exercise, changes, why, at)
    rest = {w: {e: p for e, p in byex.items() if (w, e) != (wearer, exercise)} for w, byex in pending.items()}
    return PlannedChange(planned.path, planned.data, planned.event, planned.text, rest)
