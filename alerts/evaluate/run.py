"""Runs the detection path on a dataset folder and reports per placement configuration: development and
leave-one-subject-out (``protocol.py``), and long bouts on assembled sequences (``assembled.py``)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alerts.detect.calibration import Vector, is_walking, offline_reference
from alerts.evaluate.assembled import Pools, Window, assemble, run_sequence, transition_windows
from alerts.evaluate.metrics import (
    BoutResult,
    balanced_accuracy,
    bouts_of,
    class_scores,
    confusion,
    match_bouts,
)
from alerts.evaluate.protocol import Detector, LabelledRecording, PhysicalThresholds
from alerts.evaluate.transitions import label_names, transition_codes
from ingest.features import seconds_from_samples
from ingest.phone.export import read_export_recording
from ingest.recordings.datasets import CLASSES, Recording, load_description, read_recordings
from ingest.transitions import TransitionDetector, TransitionKind
from ingest.wire import FeatureFrameV1, Placement

MIN_POSTURE_S = 10
MIN_BOUT_S = 60.0  # bout-level results cover reference sitting bouts of a minute or more


@dataclass(frozen=True)
class RecordingScore:
    """One recording's labelled seconds (truth and prediction, ``ignore`` left out) and its sitting bouts matched."""

    truth: list[str]
    predicted: list[str]
    bouts: BoutResult


def score_recording(recording: LabelledRecording, config: str, predicted: Sequence[str]) -> RecordingScore:
    truth = list(recording.truth)
    pred = list(predicted)
    if config == "thigh":  # a thigh cannot tell sitting from lying: they are merged
        truth = ["sitting" if t == "lying" else t for t in truth]
        pred = ["sitting" if q == "lying" else q for q in pred]
    keep = [i for i, t in enumerate(truth) if t != "ignore"]
    t_ms = recording.t_ms
    ref_bouts = bouts_of(t_ms, [t if t != "ignore" else "unknown" for t in truth], MIN_POSTURE_S)
    pred_bouts = bouts_of(t_ms, pred, MIN_POSTURE_S)
    return RecordingScore(
        [truth[i] for i in keep], [pred[i] for i in keep], match_bouts(ref_bouts, pred_bouts, "sitting", MIN_BOUT_S)
    )


@dataclass
class ConfigResult:
    """The seconds and bouts of one placement configuration under one protocol, pooled and per subject."""

    config: str
    truth: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    bouts: list[BoutResult] = field(default_factory=list)
    assembled: list[dict[str, Any]] = field(default_factory=list)
    calibration: Counter[str] = field(default_factory=Counter)
    by_subject: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def add(self, recording: LabelledRecording, scored: RecordingScore) -> None:
        for name in ("thigh", "trunk") if self.config == "thigh+trunk" else (self.config,):
            learned = recording.references.get(name) is not None
            self.calibration[f"{name}:{'walking' if learned else 'none'}"] += 1
        subject_truth, subject_pred = self.by_subject.setdefault(recording.subject, ([], []))
        self.truth += scored.truth
        self.predicted += scored.predicted
        subject_truth += scored.truth
        subject_pred += scored.predicted
        self.bouts.append(scored.bouts)

    def report(self) -> dict[str, Any]:
        labels = [c for c in CLASSES if c in set(self.truth)]
        table = confusion(self.truth, self.predicted, labels)
        scores = class_scores(table)
        ref = sum(b.reference_bouts for b in self.bouts)
        found = sum(b.found for b in self.bouts)
        starts = [b.median_start_error_s for b in self.bouts if b.median_start_error_s is not None]
        ends = [b.median_end_error_s for b in self.bouts if b.median_end_error_s is not None]
        return {
            "config": self.config,
            "seconds": len(self.truth),
            "subjects": len(self.by_subject),
            "balanced_accuracy": balanced_accuracy(scores),
            "classes": {k: asdict(v) for k, v in scores.items()},
            "confusion": table,
            "sitting_bouts": {
                "reference": ref,
                "found": found,
                "median_start_error_s": float(np.median(starts)) if starts else None,
                "median_end_error_s": float(np.median(ends)) if ends else None,
                "min_bout_s": MIN_BOUT_S,
            },
            "calibration": dict(self.calibration),
            "min_posture_s": MIN_POSTURE_S,
        }

    def per_subject(self) -> dict[str, float]:
        """Balanced accuracy of each subject's own seconds (over the classes that subject has)."""
        out: dict[str, float] = {}
        for subject, (truth, predicted) in sorted(self.by_subject.items(), key=lambda kv: _subject_order(kv[0])):
            labels = [c for c in CLASSES if c in set(truth)]
            out[subject] = balanced_accuracy(class_scores(confusion(truth, predicted, labels)))
        return out


def _subject_order(subject: str) -> tuple[int, str]:
    return (int(subject), "") if subject.isdigit() else (1 << 30, subject)


def _assembled_summary(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not runs:
        return None
    bouts = [r["bouts"] for r in runs]
    starts = [b.median_start_error_s for b in bouts if b.median_start_error_s is not None]
    ends = [b.median_end_error_s for b in bouts if b.median_end_error_s is not None]
    errors = [e for r in runs for e in r["prompt_errors_s"]]
    return {
        "sequences": len(runs),
        "sitting_bouts_5min_plus": sum(b.reference_bouts for b in bouts),
        "found": sum(b.found for b in bouts),
        "median_start_error_s": float(np.median(starts)) if starts else None,
        "median_end_error_s": float(np.median(ends)) if ends else None,
        "bouts_30min_plus": sum(r["long_bouts"] for r in runs),
        "prompted": sum(r["prompted"] for r in runs),
        "median_prompt_error_s": float(np.median(errors)) if errors else None,
        "prompts_total": sum(r["prompts"] for r in runs),
    }


def _kinds_per_second(
    recording: Recording, frames: list[FeatureFrameV1], kinds: dict[int, TransitionKind]
) -> list[str | None]:
    """The labelled transition kind of each frame's second (majority of its samples), or None."""
    if not kinds or len(recording.codes) != len(recording.t_ms):
        return [None] * len(frames)
    seconds = recording.t_ms // 1000
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    for s, code in zip(seconds.tolist(), recording.codes.tolist(), strict=True):
        votes[s][code] += 1
    return [kinds.get(votes[f.t_ms // 1000].most_common(1)[0][0]) for f in frames]


def _truth_per_second(recording: Recording, frames: list[FeatureFrameV1]) -> list[str]:
    seconds = recording.t_ms // 1000
    votes: dict[int, Counter[str]] = defaultdict(Counter)
    for s, label in zip(seconds.tolist(), recording.truth, strict=True):
        votes[s][label] += 1
    return [votes[f.t_ms // 1000].most_common(1)[0][0] for f in frames]


def evaluate(folder: Path, only: str | None = None, detector: Detector[Any] | None = None) -> list[dict[str, Any]]:
    """Per placement configuration: the development figures (``fit`` on every subject, scored on the same) with the
    leave-one-subject-out figures under ``loso`` and the assembled long bouts (protocol.py says which is which)."""
    description = load_description(folder)
    recordings = read_recordings(folder, description, read_export_recording)
    placements: list[Placement] = list(description.placements)
    configs = list(placements) + (["thigh+trunk"] if {"thigh", "trunk"} <= set(placements) else [])
    if only is not None:
        if only not in configs:
            raise ValueError(f"placement {only!r} is not in this dataset (it has {', '.join(configs)})")
        configs = [only]
    assembled: dict[str, list[dict[str, Any]]] = defaultdict(list)
    assembled_held: dict[str, list[dict[str, Any]]] = defaultdict(list)  # trunk: held from transitions
    kinds = transition_codes(label_names(folder))

    sessions: dict[str, list[Recording]] = defaultdict(list)
    for rec in recordings:
        key = rec.subject if description.calibration == "subject" else rec.name
        sessions[key].append(rec)

    labelled: list[LabelledRecording] = []
    for session_name, session in sorted(sessions.items()):
        # the edge feature path as the collector runs it: a trunk sensor's frames carry its postural transitions
        frames = {
            rec.name: {
                p: list(
                    seconds_from_samples(
                        rec.t_ms, rec.acc_g[p], transitions=TransitionDetector() if p == "trunk" else None
                    )
                )
                for p in placements
            }
            for rec in session
        }
        # Calibration: learned from the session's own walking, found by the movement detector (not the labels),
        # over the whole session at once (its recordings were made separately; the live engine learns the same
        # way as it goes, from its most recent walking).
        references: dict[Placement, Vector | None] = {}
        for p in placements:
            walking = [
                g
                for rec in session
                for f in frames[rec.name][p]
                if (g := f.gravity) is not None and is_walking(f.sd_mg or 0.0, f.steps)
            ]
            references[p] = offline_reference(walking)
        for p in placements:
            if p not in configs:
                continue
            pools: dict[str, list[FeatureFrameV1]] = defaultdict(list)
            windows: dict[str, list[Window]] = defaultdict(list)
            for rec in session:
                rec_frames = frames[rec.name][p]
                rec_truth = _truth_per_second(rec, rec_frames)
                for frame, cls in zip(rec_frames, rec_truth, strict=True):
                    pools[cls].append(frame)
                for kind, found in transition_windows(
                    rec_frames, rec_truth, _kinds_per_second(rec, rec_frames, kinds)
                ).items():
                    windows[kind] += found
            if all(pools.get(c) for c in ("sitting", "standing", "moving")):
                rng = random.Random(f"assembled:{session_name}:{p}")
                day, truth = assemble(Pools(dict(pools), dict(windows)), rng)
                assembled[p].append(run_sequence(day, truth, p))
                if p == "trunk":
                    assembled_held[p].append(run_sequence(day, truth, p, transitions=True))
        for rec in session:
            base = frames[rec.name][placements[0]]
            labelled.append(
                LabelledRecording(
                    rec.subject, rec.name, frames[rec.name], references, _truth_per_second(rec, base), rec
                )
            )

    development, loso = score(labelled, configs, detector or PhysicalThresholds())
    trunk_only = [c for c in configs if c == "trunk"]
    held_dev, held_loso = score(labelled, trunk_only, PhysicalThresholds(transitions=True))
    out = []
    for config in configs:
        report = _with_loso(development[config], loso[config])
        report["assembled_long_bouts"] = _assembled_summary(assembled[config])
        if config in held_dev:
            # the trunk's sitting/upright held from its postural transitions (KINETIC_ALERTS__TRUNK_TRANSITIONS)
            report["transitions"] = _with_loso(held_dev[config], held_loso[config])
            report["transitions"]["assembled_long_bouts"] = _assembled_summary(assembled_held[config])
        out.append(report)
    return out


def _with_loso(development: ConfigResult, loso: ConfigResult) -> dict[str, Any]:
    report = development.report()
    held_out = loso.report()
    per_subject = loso.per_subject()
    held_out["per_subject_balanced_accuracy"] = per_subject
    held_out["per_subject_min"] = min(per_subject.values()) if per_subject else None
    held_out["per_subject_median"] = round(float(np.median(list(per_subject.values()))), 4) if per_subject else None
    report["loso"] = held_out
    return report


def score(
    recordings: Sequence[LabelledRecording], configs: Sequence[str], detector: Detector[Any]
) -> tuple[dict[str, ConfigResult], dict[str, ConfigResult]]:
    """Development (fitted on every subject, scored on the same) and leave-one-subject-out (each subject scored with
    parameters fitted on the other subjects only) results per configuration. A recording's predictions depend only on
    the parameters and the recording, so it is predicted and scored once per distinct parameters."""
    cache: dict[tuple[Hashable, str, str], RecordingScore] = {}

    def scored(params: Hashable, recording: LabelledRecording, config: str) -> RecordingScore:
        key = (params, recording.name, config)
        if key not in cache:
            cache[key] = score_recording(recording, config, detector.predict(params, recording, config))
        return cache[key]

    development = {c: ConfigResult(c) for c in configs}
    params = detector.fit(recordings)
    for recording in recordings:
        for config in configs:
            development[config].add(recording, scored(params, recording, config))

    loso = {c: ConfigResult(c) for c in configs}
    for subject in sorted({r.subject for r in recordings}, key=_subject_order):
        params = detector.fit([r for r in recordings if r.subject != subject])
        for recording in (r for r in recordings if r.subject == subject):
            for config in configs:
                loso[config].add(recording, scored(params, recording, config))
    return development, loso
