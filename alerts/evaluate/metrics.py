"""Classification and bout metrics. Pure."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from alerts.detect.bouts import Bout, BoutEnded, BoutTracker


@dataclass(frozen=True, slots=True)
class ClassScore:
    precision: float
    recall: float
    f1: float
    support: int


def confusion(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Rows: truth; columns: predicted (every label seen, plus ``unknown`` and friends)."""
    columns = list(labels) + sorted({p for p in predicted if p not in labels})
    table = {t: dict.fromkeys(columns, 0) for t in labels}
    for t, p in zip(truth, predicted, strict=True):
        if t in table:
            table[t][p] += 1
    return table


def class_scores(table: dict[str, dict[str, int]]) -> dict[str, ClassScore]:
    out: dict[str, ClassScore] = {}
    for label, row in table.items():
        support = sum(row.values())
        tp = row.get(label, 0)
        predicted = sum(r.get(label, 0) for r in table.values())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = ClassScore(round(precision, 4), round(recall, 4), round(f1, 4), support)
    return out


def balanced_accuracy(scores: dict[str, ClassScore]) -> float:
    recalls = [s.recall for s in scores.values() if s.support]
    return round(sum(recalls) / len(recalls), 4) if recalls else 0.0


def bouts_of(t_ms: Sequence[int], postures: Sequence[str], min_posture_s: int) -> list[Bout]:
    tracker = BoutTracker(min_posture_s, max_gap_s=60)
    out: list[Bout] = []
    for t, p in zip(t_ms, postures, strict=True):
        out += [c.bout for c in tracker.push(t, p) if isinstance(c, BoutEnded)]  # type: ignore[arg-type]
    out += [c.bout for c in tracker.close() if isinstance(c, BoutEnded)]
    return out


@dataclass(frozen=True, slots=True)
class BoutResult:
    reference_bouts: int
    found: int
    median_start_error_s: float | None
    median_end_error_s: float | None
    predicted_bouts: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def match_bouts(reference: Sequence[Bout], predicted: Sequence[Bout], posture: str, min_s: float) -> BoutResult:
    """A reference bout (of ``posture``, at least ``min_s`` long) is found when a predicted bout of the same
    posture covers at least half of it; errors are those of the best-overlapping predicted bout."""
    refs = [b for b in reference if b.posture == posture and b.duration_s >= min_s]
    preds = [b for b in predicted if b.posture == posture]
    starts, ends, found = [], [], 0
    for ref in refs:
        best, best_overlap = None, 0
        for pred in preds:
            overlap = min(ref.end_ms, pred.end_ms) - max(ref.start_ms, pred.start_ms)
            if overlap > best_overlap:
                best, best_overlap = pred, overlap
        if best is not None and best_overlap >= (ref.end_ms - ref.start_ms) / 2:
            found += 1
            starts.append(abs(best.start_ms - ref.start_ms) / 1000)
            ends.append(abs(best.end_ms - ref.end_ms) / 1000)
    return BoutResult(
        len(refs),
        found,
        round(statistics.median(starts), 1) if starts else None,
        round(statistics.median(ends), 1) if ends else None,
        len([b for b in preds if b.duration_s >= min_s]),
    )
