"""Runs the detection path on a dataset folder and reports per placement configuration."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alerts.detect.calibration import Vector, is_walking, offline_reference
from alerts.detect.posture import Posture, classify, fuse
from alerts.evaluate.assembled import Pools, assemble, run_sequence
from alerts.evaluate.metrics import (
    BoutResult,
    balanced_accuracy,
    bouts_of,
    class_scores,
    confusion,
    match_bouts,
)
from ingest.features import seconds_from_samples
from ingest.recordings.datasets import CLASSES, Recording, load_description, read_recordings
from ingest.wire import FeatureFrameV1, Placement

MIN_POSTURE_S = 10
MIN_BOUT_S = 60.0  # bout-level results cover reference sitting bouts of a minute or more


@dataclass
class ConfigResult:
    config: str
    seconds: int = 0
    truth: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    bouts: list[BoutResult] = field(default_factory=list)
    assembled: list[dict[str, Any]] = field(default_factory=list)
    calibration: Counter[str] = field(default_factory=Counter)

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
            "assembled_long_bouts": _assembled_summary(self.assembled),
        }


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


def _truth_per_second(recording: Recording, frames: list[FeatureFrameV1]) -> list[str]:
    seconds = recording.t_ms // 1000
    votes: dict[int, Counter[str]] = defaultdict(Counter)
    for s, label in zip(seconds.tolist(), recording.truth, strict=True):
        votes[s][label] += 1
    return [votes[f.t_ms // 1000].most_common(1)[0][0] for f in frames]


def evaluate(folder: Path, only: str | None = None) -> list[dict[str, Any]]:
    description = load_description(folder)
    recordings = read_recordings(folder, description)
    placements: list[Placement] = list(description.placements)
    configs = list(placements) + (["thigh+trunk"] if {"thigh", "trunk"} <= set(placements) else [])
    if only is not None:
        if only not in configs:
            raise ValueError(f"placement {only!r} is not in this dataset (it has {', '.join(configs)})")
        configs = [only]
    results = {c: ConfigResult(c) for c in configs}

    sessions: dict[str, list[Recording]] = defaultdict(list)
    for rec in recordings:
        key = rec.subject if description.calibration == "subject" else rec.name
        sessions[key].append(rec)

    for session_name, session in sorted(sessions.items()):
        frames = {
            rec.name: {p: list(seconds_from_samples(rec.t_ms, rec.acc_g[p])) for p in placements} for rec in session
        }
        # Calibration: learned from the session's own walking, found by the movement detector (not the labels),
        # over the whole session at once (its recordings were made separately; the live engine learns the same
        # way as it goes, from its most recent walking).
        references: dict[str, Vector | None] = {}
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
            for rec in session:
                for frame, cls in zip(frames[rec.name][p], _truth_per_second(rec, frames[rec.name][p]), strict=True):
                    pools[cls].append(frame)
            if all(pools.get(c) for c in ("sitting", "standing", "moving")):
                rng = random.Random(f"assembled:{session_name}:{p}")
                day, truth = assemble(Pools(dict(pools)), rng)
                results[p].assembled.append(run_sequence(day, truth, p))
        for rec in session:
            predicted: dict[str, list[Posture]] = {
                p: [classify(f, p, references[p]) for f in frames[rec.name][p]] for p in placements
            }
            base = frames[rec.name][placements[0]]
            t_ms = [f.t_ms for f in base]
            truth = _truth_per_second(rec, base)
            for config in configs:
                if config == "thigh+trunk":
                    pred: list[str] = [fuse(a, b) for a, b in zip(predicted["thigh"], predicted["trunk"], strict=True)]
                else:
                    pred = list(predicted[config])
                result = results[config]
                for name in placements if config == "thigh+trunk" else [config]:
                    learned = references[name] is not None
                    result.calibration[f"{name}:{'walking' if learned else 'none'}"] += 1
                tr = list(truth)
                if config == "thigh":  # a thigh cannot tell sitting from lying: they are merged
                    tr = ["sitting" if t == "lying" else t for t in tr]
                    pred = ["sitting" if q == "lying" else q for q in pred]
                keep = [i for i, t in enumerate(tr) if t != "ignore"]
                result.truth += [tr[i] for i in keep]
                result.predicted += [pred[i] for i in keep]
                ref_bouts = bouts_of(t_ms, [t if t != "ignore" else "unknown" for t in tr], MIN_POSTURE_S)
                pred_bouts = bouts_of(t_ms, pred, MIN_POSTURE_S)
                result.bouts.append(match_bouts(ref_bouts, pred_bouts, "sitting", MIN_BOUT_S))
    return [results[c].report() for c in configs]
