"""Sit-to-stand repetition counting and timing (``alerts.detect.exercise.sit_to_stand``) on labelled recordings.

``python -m alerts.evaluate.sit_to_stand ../shared/data/uci-hapt-waist [--json]``

A labelled dataset holds no exercise sessions, but UCI HAPT's scripted protocol has the part a sit-to-stand set is
made of: standing, sitting down (``STAND_TO_SIT``), sitting, standing up (``SIT_TO_STAND``), standing. Each maximal
run of labelled segments that are sitting, standing or one of those two transitions (unlabelled gaps under
``MAX_GAP_MS`` inside) and holds at least one transition is taken as one **session**, from its first sample to its
last, and its trunk samples go through the session detector as the alert service would run it. The reference is
the labelled transitions: ``SIT_TO_STAND`` is a rise (a repetition), ``STAND_TO_SIT`` a lowering.

- a detected movement **matches** a labelled transition of its kind when its lean peak lies within the labelled
  segment or ``MATCH_TOLERANCE_MS`` of it (as ``alerts.evaluate.transitions``); **sensitivity** and **PPV** per kind;
  every detection lies in labelled sit/stand time by construction (or a short unlabelled gap), so each unmatched
  one is a false positive;
- **count**: sessions whose repetitions (rises) equal the labelled sit-to-stands;
- **timing**: for matched movements, the detected duration minus the labelled segment's (the annotators marked the
  transitions from video; their boundaries are a convention, not the movement's physics): median, median absolute
  and 90th percentile absolute error. **Leave-one-subject-out**: the one number that could be fitted, a constant
  offset between the two duration conventions, is fitted on the other subjects (their median error) and applied to
  the held-out subject's; the detector itself has no parameter fitted to these recordings, and applies no offset.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alerts.detect.exercise.sit_to_stand import Movement, MovementKind, movements
from alerts.evaluate.transitions import Segment, label_names, segments, transition_codes
from ingest.errors import ConfigError
from ingest.phone.export import read_export_recording
from ingest.recordings.datasets import Recording, load_description, read_recordings

MATCH_TOLERANCE_MS = 1_000
MAX_GAP_MS = 5_000
KIND_OF: dict[str, MovementKind] = {"sit_to_stand": "rise", "stand_to_sit": "lowering"}


@dataclass(frozen=True, slots=True)
class Session:
    subject: str
    recording: str
    start_ms: int
    end_ms: int
    labelled: tuple[tuple[MovementKind, Segment], ...]


@dataclass
class Scores:
    """Pooled over sessions; ``errors_s`` per subject: (kind, detected - labelled duration)."""

    reference: dict[str, int] = field(default_factory=lambda: {"rise": 0, "lowering": 0})
    found: dict[str, int] = field(default_factory=lambda: {"rise": 0, "lowering": 0})
    detected: dict[str, int] = field(default_factory=lambda: {"rise": 0, "lowering": 0})
    true_positive: dict[str, int] = field(default_factory=lambda: {"rise": 0, "lowering": 0})
    sessions: int = 0
    count_exact: int = 0
    errors_s: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def sessions(recording: Recording, names: dict[int, str]) -> list[Session]:
    """The recording's sit/stand sessions (see the module docstring)."""
    kinds = {code: KIND_OF[k] for code, k in transition_codes(names).items()}
    still = {code for code, name in names.items() if name.strip().upper() in ("SITTING", "STANDING")}
    out: list[Session] = []
    run: list[Segment] = []

    def close() -> None:
        labelled = tuple((kinds[s.code], s) for s in run if s.code in kinds)
        if labelled:
            out.append(Session(recording.subject, recording.name, run[0].start_ms, run[-1].end_ms, labelled))
        run.clear()

    for seg in segments(recording):
        if seg.code in kinds or seg.code in still:
            run.append(seg)
        elif seg.code == 0 and run and seg.end_ms - seg.start_ms < MAX_GAP_MS:
            continue
        else:
            close()
    close()
    return out


def detect(recording: Recording, session: Session, placement: str = "trunk") -> list[Movement]:
    inside = (recording.t_ms >= session.start_ms) & (recording.t_ms < session.end_ms)
    return movements(recording.t_ms[inside], recording.acc_g[placement][inside])


def score(session: Session, found: list[Movement], scores: Scores) -> None:
    scores.sessions += 1
    labelled_rises = sum(1 for k, _ in session.labelled if k == "rise")
    scores.count_exact += int(sum(1 for m in found if m.kind == "rise") == labelled_rises)
    errors = scores.errors_s.setdefault(session.subject, [])
    for kind, seg in session.labelled:
        scores.reference[kind] += 1
        near = [
            m
            for m in found
            if m.kind == kind and seg.start_ms - MATCH_TOLERANCE_MS <= m.peak_ms < seg.end_ms + MATCH_TOLERANCE_MS
        ]
        if near:
            scores.found[kind] += 1
            errors.append((kind, near[0].duration_s - (seg.end_ms - seg.start_ms) / 1000.0))
    for m in found:
        scores.detected[m.kind] += 1
        scores.true_positive[m.kind] += int(
            any(
                k == m.kind and seg.start_ms - MATCH_TOLERANCE_MS <= m.peak_ms < seg.end_ms + MATCH_TOLERANCE_MS
                for k, seg in session.labelled
            )
        )


def _timing(errors: list[float]) -> dict[str, Any]:
    if not errors:
        return {"n": 0}
    absolute = np.abs(errors)
    return {
        "n": len(errors),
        "median_s": round(statistics.median(errors), 2),
        "median_abs_s": round(float(np.median(absolute)), 2),
        "p90_abs_s": round(float(np.percentile(absolute, 90)), 2),
    }


def leave_one_subject_out(errors_s: dict[str, list[tuple[str, float]]], kind: str) -> list[float]:
    """Each subject's duration errors less the median error of the other subjects (the offset fitted without it)."""
    out: list[float] = []
    for subject, errors in errors_s.items():
        others = [e for s, es in errors_s.items() if s != subject for k, e in es if k == kind]
        if not others:
            continue
        offset = statistics.median(others)
        out += [e - offset for k, e in errors if k == kind]
    return out


def evaluate_sit_to_stand(folder: Path) -> dict[str, Any]:
    """Counting and timing on a dataset folder whose labels name sitting, standing and the sit/stand transitions.
    Raises ConfigError for a folder without such labels or without a trunk sensor."""
    description = load_description(folder)
    if "trunk" not in description.placements:
        raise ConfigError(f"{folder}: sit-to-stand is verified from a trunk sensor; this dataset has none")
    names = label_names(folder)
    if not transition_codes(names):
        raise ConfigError(f"{folder / 'labels.csv'}: no label is named STAND_TO_SIT or SIT_TO_STAND")
    scores = Scores()
    for recording in read_recordings(folder, description, read_export_recording):
        for session in sessions(recording, names):
            score(session, detect(recording, session), scores)
    kinds: dict[str, Any] = {}
    for kind in ("rise", "lowering"):
        pooled = [e for es in scores.errors_s.values() for k, e in es if k == kind]
        kinds[kind] = {
            "reference": scores.reference[kind],
            "found": scores.found[kind],
            "sensitivity": round(scores.found[kind] / scores.reference[kind], 3) if scores.reference[kind] else None,
            "detected": scores.detected[kind],
            "ppv": round(scores.true_positive[kind] / scores.detected[kind], 3) if scores.detected[kind] else None,
            "duration_error": _timing(pooled),
            "duration_error_loso_offset": _timing(leave_one_subject_out(scores.errors_s, kind)),
        }
    return {
        "dataset": description.dataset,
        "subjects": len(scores.errors_s),
        "sessions": scores.sessions,
        "sessions_with_the_labelled_count": scores.count_exact,
        "match_tolerance_ms": MATCH_TOLERANCE_MS,
        "kinds": kinds,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['dataset']}: {result['sessions']} sessions of {result['subjects']} subjects; repetitions counted "
        f"as labelled in {result['sessions_with_the_labelled_count']} of {result['sessions']}",
        "",
        "| movement | labelled | found | sensitivity | detected | PPV | duration error, median (s) "
        "| median abs (s) | 90th pct abs (s) | median abs, LOSO offset (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in result["kinds"].items():
        d, loso = r["duration_error"], r["duration_error_loso_offset"]

        def f(x: Any) -> str:
            return "-" if x is None else f"{x:.3f}" if isinstance(x, float) and x <= 1 else str(x)

        lines.append(
            f"| {kind} | {r['reference']} | {r['found']} | {f(r['sensitivity'])} | {r['detected']} | {f(r['ppv'])} "
            f"| {d.get('median_s', '-'):+} | {d.get('median_abs_s', '-')} | {d.get('p90_abs_s', '-')} "
            f"| {loso.get('median_abs_s', '-')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m alerts.evaluate.sit_to_stand",
        description="Sit-to-stand repetitions and timing (alerts.detect.exercise) on a labelled dataset folder.",
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--json", action="store_true", help="all figures as JSON")
    args = parser.parse_args(argv)
    try:
        result = evaluate_sit_to_stand(args.folder)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
