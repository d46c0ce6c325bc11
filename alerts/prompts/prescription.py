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
most), not clinical advice. Not built yet: editing from the CLI and the web app, and change events (issue 19).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.errors import PolicyError
from alerts.prompts.catalog import DayType
from ingest.textfile import TextFileError, load_yaml
from ingest.wire import ID_PATTERN

_ID = re.compile(ID_PATTERN)
ALL_DAY_TYPES: tuple[DayType, ...] = ("capacity", "relief")


class PrescriptionError(PolicyError):
    """A prescriptions file or entry Kinetic cannot use; the message names the file, wearer, entry and reason."""


class Tempo(BaseModel):
    """Seconds per phase of one repetition (3 s down, 1 s pause, 3 s up: ``3-1-3``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    down_s: float = Field(ge=0.5, le=10)
    pause_s: float = Field(default=0.0, ge=0, le=10)
    up_s: float = Field(ge=0.5, le=10)


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
