"""The micro-movement catalog: YAML data files validated into Exercise entries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from alerts.errors import CatalogError
from ingest.textfile import TextFileError, load_yaml
from ingest.wire import ID_PATTERN, PROMPT_TEXT_MAX, PROMPT_TITLE_MAX, Text, Trigger

CATALOG_DIR = Path(__file__).parent
DayType = Literal["capacity", "relief"]
Context = Literal["after_pause", "after_meeting"]
# A prompt's text is the engine's lead sentence ("Gentle reminder: you have been standing still for 35 min.", under
# 80 characters) and the exercise's text: the exercise gets what is left of the wire's bound, with a margin.
LEAD_SENTENCE_ROOM = 100
# YAML's two file name extensions (yaml.org FAQ: ".yaml" is preferred, ".yml" is common): a clinician's file named
# either way is read, never silently skipped
CATALOG_SUFFIXES = (".yaml", ".yml")


Verification = Literal["sit_to_stand", "hold", "mobility", "breathing"]


class Tempo(BaseModel):
    """Seconds per phase of one repetition (3 s down, 1 s pause, 3 s up: ``3-1-3``): a prescription's tempo
    (alerts/prompts/prescription.py) or an exercise's own (``Exercise.rep_tempo``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    down_s: float = Field(ge=0.5, le=10)
    pause_s: float = Field(default=0.0, ge=0, le=10)
    up_s: float = Field(ge=0.5, le=10)


class Exercise(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # text goes out in prompts and is stored: one line each, the wire's rule for free text (ingest.wire.Text)
    id: str = Field(pattern=ID_PATTERN)
    title: Text = Field(min_length=1, max_length=PROMPT_TITLE_MAX)
    duration_s: int = Field(ge=10, le=900)
    tempo: Text = Field(min_length=1, max_length=200)
    breathing: Text = Field(min_length=1, max_length=200)
    steps: list[Text] = Field(min_length=1, max_length=8)
    triggers: list[Trigger] = Field(min_length=1)
    day_types: list[DayType] = Field(min_length=1)
    safety: Text = Field(min_length=1, max_length=400)
    contexts: list[Context] = Field(
        default_factory=list,
        description="after_pause: suits a prompt held through a pause, a meeting or quiet hours; after_meeting: suits "
        "the prompt that follows a long meeting sat through (docs/prompts.md, Calendars)",
    )
    rep_tempo: Tempo | None = Field(
        default=None,
        description="the seconds of one repetition's phases its tempo words give, for exercises done in repetitions: "
        "what the guided session's timer follows when a prescription sets repetitions and no tempo",
    )
    verify: Verification | None = Field(
        default=None,
        description="how a session of it is verified from a trunk sensor (alerts/detect/exercise, docs/exercises.md); "
        "none: an isometric hold when prescribed as one, otherwise the wearer's own report",
    )

    @property
    def text(self) -> str:
        return " ".join(self.steps) + f" Breathing: {self.breathing}."

    @field_validator("steps")
    @classmethod
    def _steps_fit_a_prompt(cls, steps: list[str], info: ValidationInfo) -> list[str]:
        length = len(" ".join(steps) + f" Breathing: {info.data.get('breathing', '')}.")
        room = PROMPT_TEXT_MAX - LEAD_SENTENCE_ROOM
        if length > room:
            raise PydanticCustomError(
                "prompt_text_too_long",
                "steps and breathing make a prompt text of {length} characters, at most {room} fit",
                {"length": length, "room": room},
            )
        return steps


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exercises: list[dict[str, object]]


def load_catalog(extra_dirs: Iterable[Path] = ()) -> list[Exercise]:
    """The built-in catalog plus every ``*.yaml`` and ``*.yml`` file in ``extra_dirs``. A bad file or entry raises
    CatalogError naming the file, the entry and the reason."""
    files = _catalog_files(CATALOG_DIR)
    for folder in extra_dirs:
        if not folder.is_dir():
            raise CatalogError(f"catalog folder {folder} does not exist (KINETIC_ALERTS__CATALOG_DIRS)")
        files.extend(_catalog_files(folder))
    out: dict[str, Exercise] = {}
    for path in files:
        for exercise in _load_file(path):
            if exercise.id in out:
                raise CatalogError(f"{path}: entry {exercise.id!r}: the id is already defined in another file")
            out[exercise.id] = exercise
    return list(out.values())


def _catalog_files(folder: Path) -> list[Path]:
    """The catalog files of one folder, by name (either YAML extension, any case: ``clinic.YML`` too)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in CATALOG_SUFFIXES and p.is_file())


def _load_file(path: Path) -> list[Exercise]:
    try:
        data = load_yaml(path)
        parsed = _CatalogFile.model_validate(data)
    except TextFileError as exc:
        raise CatalogError(f"{path}: cannot read the catalog file ({exc})") from None
    except ValidationError as exc:
        raise CatalogError(f"{path}: expected 'exercises:' with a list of entries ({exc.errors()[0]['msg']})") from exc
    entries = []
    for index, raw in enumerate(parsed.exercises):
        name = str(raw.get("id", f"#{index + 1}"))
        try:
            entries.append(Exercise.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise CatalogError(f"{path}: entry {name!r}: {loc}: {err['msg']}") from exc
    return entries


def choose_exercise(
    catalog: Sequence[Exercise],
    trigger: Trigger,
    *,
    day_type: DayType = "relief",
    recent: Sequence[str] = (),
    no_repeat_last: int = 2,
    context: Context | None = None,
) -> Exercise:
    """The exercise for a prompt, deterministically: suits the trigger; suits the day type (capacity-building or
    control-and-relief) when any does; not among the last ``no_repeat_last`` suggestions when another is left;
    suits the context (after a pause) when any does; then the least recently suggested, in catalog order.
    ``after_meeting`` is a prescription (the exercise-therapy brief's "a short hip-opening sequence after meetings"),
    not a preference: it is applied before the no-repeat rule, so two long meetings in a day both end with it."""
    suitable = [e for e in catalog if trigger in e.triggers]
    if not suitable:
        raise CatalogError(f"the catalog has no exercise for trigger {trigger!r}")
    suitable = [e for e in suitable if day_type in e.day_types] or suitable
    if context == "after_meeting":
        suitable = [e for e in suitable if context in e.contexts] or suitable
    if no_repeat_last > 0:
        window = set(recent[-no_repeat_last:])
        suitable = [e for e in suitable if e.id not in window] or suitable
    if context is not None:
        suitable = [e for e in suitable if context in e.contexts] or suitable
    last_used = {exercise_id: i for i, exercise_id in enumerate(recent)}
    return min(suitable, key=lambda e: last_used.get(e.id, -1))
