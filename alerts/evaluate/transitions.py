"""Postural transition detection on labelled recordings: sensitivity and positive predictive value per kind.

``python -m alerts.evaluate.transitions ../shared/data/uci-hapt-waist [--json]``

The recordings go through the edge feature path exactly as the collector runs it (``ingest.features`` with one
``ingest.transitions.TransitionDetector`` per recording, fed second by second); each frame's reported transition is
placed at its peak (``t_ms - trans_lag_ms``). The reference is the dataset's labelled transition segments, named in
its ``labels.csv`` (``STAND_TO_SIT``, ``SIT_TO_STAND``: UCI HAPT's labels 7 and 8).

- **sensitivity** of a kind: labelled segments of that kind with a detection of that kind whose peak lies within the
  segment or ``MATCH_TOLERANCE_MS`` of it, over all such segments;
- **PPV** (positive predictive value) of a kind: detections of that kind that match a labelled segment of that kind,
  over the detections of that kind made during labelled time (any label). Detections during unlabelled time (HAPT's
  gaps between annotated segments, where the subject moved between the scripted activities unannotated) cannot be
  judged; they are counted apart (``unlabelled``). Detections during a lying transition (sit-to-lie, stand-to-lie,
  ...) count as false positives; ``confused_with`` says which labels the false ones fell on.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import ConfigError
from ingest.features import seconds_from_samples
from ingest.phone.export import read_export_recording
from ingest.recordings.datasets import Recording, load_description, read_recordings
from ingest.transitions import TransitionDetector, TransitionKind

KINDS: tuple[TransitionKind, ...] = ("stand_to_sit", "sit_to_stand")
MATCH_TOLERANCE_MS = 1_000


@dataclass(frozen=True, slots=True)
class Segment:
    code: int
    start_ms: int
    end_ms: int  # exclusive


@dataclass(frozen=True, slots=True)
class Detected:
    t_ms: int  # the peak
    kind: TransitionKind
    confidence: float


def label_names(folder: Path) -> dict[int, str]:
    """labels.csv: code -> name (its first column is the code, whatever its header)."""
    with (folder / "labels.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    out: dict[int, str] = {}
    for row in rows[1:]:
        if len(row) >= 2 and row[0].strip().lstrip("-").isdigit():
            out[int(row[0])] = row[1].strip()
    return out


def transition_codes(names: dict[int, str]) -> dict[int, TransitionKind]:
    """The codes whose name is a sit/stand transition (``STAND_TO_SIT``, ``sit-to-stand``, ...)."""
    out: dict[int, TransitionKind] = {}
    for code, name in names.items():
        key = name.lower().replace("-", "_").replace(" ", "_")
        for kind in KINDS:
            if key == kind:
                out[code] = kind
    return out


def segments(recording: Recording) -> list[Segment]:
    """Runs of one label code in a recording, in sample time."""
    codes, t_ms = recording.codes, recording.t_ms
    if len(codes) == 0:
        return []
    cuts = np.flatnonzero(np.diff(codes) != 0) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(codes)]))
    step = int(np.median(np.diff(t_ms))) if len(t_ms) > 1 else 0
    return [
        Segment(int(codes[s]), int(t_ms[s]), int(t_ms[e - 1]) + step)
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def detections(recording: Recording, placement: str = "trunk") -> list[Detected]:
    """What the edge reports for a recording, through the same feature path the collector runs."""
    detector = TransitionDetector()
    out = []
    for frame in seconds_from_samples(recording.t_ms, recording.acc_g[placement], transitions=detector):
        if frame.trans is not None:
            out.append(Detected(frame.t_ms - (frame.trans_lag_ms or 0), frame.trans, frame.trans_conf or 0.0))
    return out


@dataclass
class KindScore:
    reference: int = 0
    found: int = 0
    detected_labelled: int = 0
    true_positive: int = 0
    unlabelled: int = 0
    confused_with: Counter[str] = field(default_factory=Counter)

    def report(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "found": self.found,
            "sensitivity": round(self.found / self.reference, 3) if self.reference else None,
            "detected_in_labelled_time": self.detected_labelled,
            "true_positive": self.true_positive,
            "ppv": round(self.true_positive / self.detected_labelled, 3) if self.detected_labelled else None,
            "detected_in_unlabelled_time": self.unlabelled,
            "false_positives_on": dict(self.confused_with.most_common()),
        }


def score(
    recording_segments: list[Segment], found: list[Detected], kinds: dict[int, TransitionKind], names: dict[int, str]
) -> dict[TransitionKind, KindScore]:
    """Match one recording's detections to its labelled transitions (see the module docstring)."""
    out = {k: KindScore() for k in KINDS}
    matched: set[int] = set()
    for i, seg in enumerate(recording_segments):
        kind = kinds.get(seg.code)
        if kind is None:
            continue
        out[kind].reference += 1
        if any(
            d.kind == kind and seg.start_ms - MATCH_TOLERANCE_MS <= d.t_ms < seg.end_ms + MATCH_TOLERANCE_MS
            for d in found
        ):
            out[kind].found += 1
            matched.add(i)
    for d in found:
        score_kind = out[d.kind]
        same = [
            i
            for i, seg in enumerate(recording_segments)
            if kinds.get(seg.code) == d.kind
            and seg.start_ms - MATCH_TOLERANCE_MS <= d.t_ms < seg.end_ms + MATCH_TOLERANCE_MS
        ]
        if same:
            score_kind.detected_labelled += 1
            score_kind.true_positive += 1
            continue
        at = next((seg for seg in recording_segments if seg.start_ms <= d.t_ms < seg.end_ms), None)
        if at is None or names.get(at.code, "").upper() in ("UNLABELED", "UNLABELLED") or at.code == 0:
            score_kind.unlabelled += 1
        else:
            score_kind.detected_labelled += 1
            score_kind.confused_with[names.get(at.code, str(at.code))] += 1
    return out


def evaluate_transitions(folder: Path) -> dict[str, Any]:
    """Sensitivity and PPV per transition kind on a dataset folder whose labels name sit/stand transitions, pooled
    and per subject. Raises ConfigError for a folder without such labels or without a trunk sensor."""
    description = load_description(folder)
    if "trunk" not in description.placements:
        raise ConfigError(f"{folder}: transitions are detected from a trunk sensor; this dataset has none")
    names = label_names(folder)
    kinds = transition_codes(names)
    if not kinds:
        raise ConfigError(f"{folder / 'labels.csv'}: no label is named STAND_TO_SIT or SIT_TO_STAND")
    pooled = {k: KindScore() for k in KINDS}
    by_subject: dict[str, dict[TransitionKind, KindScore]] = {}
    for recording in read_recordings(folder, description, read_export_recording):
        result = score(segments(recording), detections(recording), kinds, names)
        subject = by_subject.setdefault(recording.subject, {k: KindScore() for k in KINDS})
        for kind, part in result.items():
            for target in (pooled[kind], subject[kind]):
                target.reference += part.reference
                target.found += part.found
                target.detected_labelled += part.detected_labelled
                target.true_positive += part.true_positive
                target.unlabelled += part.unlabelled
                target.confused_with.update(part.confused_with)
    return {
        "dataset": description.dataset,
        "match_tolerance_ms": MATCH_TOLERANCE_MS,
        "kinds": {k: v.report() for k, v in pooled.items()},
        "per_subject": {s: {k: v.report() for k, v in r.items()} for s, r in sorted(by_subject.items())},
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| dataset | transition | labelled | found | sensitivity | detections (labelled time) | PPV "
        "| detections in unlabelled time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in result["kinds"].items():
        sens = "-" if r["sensitivity"] is None else f"{r['sensitivity']:.3f}"
        ppv = "-" if r["ppv"] is None else f"{r['ppv']:.3f}"
        lines.append(
            f"| {result['dataset']} | {kind.replace('_', '-')} | {r['reference']} | {r['found']} | {sens} "
            f"| {r['detected_in_labelled_time']} | {ppv} | {r['detected_in_unlabelled_time']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m alerts.evaluate.transitions",
        description="Sit-to-stand / stand-to-sit detection (ingest.transitions) on a labelled dataset folder.",
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--json", action="store_true", help="per kind and per subject, as JSON")
    args = parser.parse_args(argv)
    try:
        result = evaluate_transitions(args.folder)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
