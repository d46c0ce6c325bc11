"""How far orientation alone can separate sitting from standing on a sensor (issue 14: why the trunk targets are not
met where they are not). For every labelled second: the angle between the sensor's gravity direction and its
upright reference learned from the session's walking (as ``kinetic evaluate`` calibrates); then the **oracle**:
the one angle threshold that best separates sitting from standing seconds, chosen on the very seconds it is scored
on. No rule that judges each second by one orientation threshold can do better than the oracle on the same data,
so an oracle below a target shows that such a rule cannot meet it there (rules that also use the seconds around
it, by hysteresis, minimum durations or transitions, are not bounded by it); what can is evidence of a different
kind (the postural transitions), when the recordings hold any.

    python -m alerts.evaluate.separability ../shared/data/uci-chest-casale ../shared/data/dsads-torso-legs

Prints one Markdown row per dataset and placement: sitting and standing seconds, the median angle of each, the
oracle balanced accuracy over all subjects (one threshold) and per subject (each its own threshold: min / median),
and the labelled transitions the recordings hold.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from alerts.detect.calibration import angle_deg, is_walking, offline_reference
from alerts.evaluate.transitions import label_names, transition_codes
from ingest.errors import ConfigError
from ingest.features import seconds_from_samples
from ingest.phone.export import read_export_recording
from ingest.recordings.datasets import CLASSES, Recording, load_description, read_recordings
from ingest.wire import FeatureFrameV1


@dataclass(frozen=True, slots=True)
class Separability:
    dataset: str
    placement: str
    sitting_s: int
    standing_s: int
    median_sitting_deg: float
    median_standing_deg: float
    oracle: float  # balanced accuracy of the best single threshold over every subject
    per_subject_min: float
    per_subject_median: float
    classes: int  # evaluated classes the dataset has (of sitting, standing, lying, moving)
    transitions_labelled: int  # labelled postural-transition segments in the recordings

    @property
    def bound(self) -> float:
        """The balanced accuracy over the dataset's classes that orientation through one threshold cannot pass even
        with every other class perfect: (2 x oracle + classes - 2) / classes."""
        return (2 * self.oracle + self.classes - 2) / self.classes


def oracle_balanced_accuracy(sitting: list[float], standing: list[float]) -> float:
    """The best balanced accuracy of "sitting if the angle is above t" over every threshold t (or below: whichever
    is better), on these angles. 0.5 when either list is empty."""
    if not sitting or not standing:
        return 0.5
    marks = sorted([(a, 1) for a in sitting] + [(a, 0) for a in standing])
    best, sit_below, stand_below = 0.5, 0, 0
    for i, (angle, is_sitting) in enumerate(marks):
        sit_below += is_sitting
        stand_below += 1 - is_sitting
        if i + 1 < len(marks) and marks[i + 1][0] == angle:
            continue  # a threshold between equal angles does not exist
        above = (1 - sit_below / len(sitting) + stand_below / len(standing)) / 2  # sitting if above
        best = max(best, above, 1 - above)
    return best


def _angles(recordings: list[Recording], placement: str, by_subject: bool) -> dict[str, dict[str, list[float]]]:
    """subject -> {"sitting": angles, "standing": angles}, each session calibrated from its own walking."""
    sessions: dict[str, list[Recording]] = defaultdict(list)
    for rec in recordings:
        sessions[rec.subject if by_subject else rec.name].append(rec)
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"sitting": [], "standing": []})
    for session in sessions.values():
        seconds: list[tuple[str, FeatureFrameV1, str]] = []
        for rec in session:
            frames = list(seconds_from_samples(rec.t_ms, rec.acc_g[placement]))
            votes: dict[int, Counter[str]] = defaultdict(Counter)  # labels of each second's samples
            for t, cls in zip((rec.t_ms // 1000).tolist(), rec.truth, strict=True):
                votes[t][cls] += 1
            # the second's label: its samples' most common, the first seen on a tie (as kinetic evaluate)
            seconds += [(rec.subject, f, v.most_common(1)[0][0]) for f in frames if (v := votes[f.t_ms // 1000])]
        walking = [g for _, f, _ in seconds if (g := f.gravity) is not None and is_walking(f.sd_mg or 0.0, f.steps)]
        reference = offline_reference(walking)
        if reference is None:
            continue
        for subject, frame, label in seconds:
            if label in ("sitting", "standing") and frame.gravity is not None:
                out[subject][label].append(angle_deg(frame.gravity, reference))
    return out


def separability(folder: Path) -> list[Separability]:
    """One row per placement of the dataset in ``folder``. Raises ConfigError for a folder that is no dataset."""
    description = load_description(folder)
    recordings = read_recordings(folder, description, read_export_recording)
    transitions = transition_codes(label_names(folder))
    labelled = sum(
        1
        for rec in recordings
        for i, code in enumerate(rec.codes.tolist())
        if code in transitions and (i == 0 or rec.codes[i - 1] != code)
    )
    present = {label for rec in recordings for label in set(rec.truth)} & set(CLASSES)
    rows = []
    for placement in description.placements:
        per = _angles(recordings, placement, description.calibration == "subject")
        sitting = [a for s in per.values() for a in s["sitting"]]
        standing = [a for s in per.values() for a in s["standing"]]
        subjects = [oracle_balanced_accuracy(s["sitting"], s["standing"]) for s in per.values() if s["sitting"]]
        rows.append(
            Separability(
                description.dataset,
                placement,
                len(sitting),
                len(standing),
                statistics.median(sitting) if sitting else float("nan"),
                statistics.median(standing) if standing else float("nan"),
                oracle_balanced_accuracy(sitting, standing),
                min(subjects) if subjects else float("nan"),
                statistics.median(subjects) if subjects else float("nan"),
                len(present),
                labelled,
            )
        )
    return rows


HEADER = (
    "| dataset | placement | sitting / standing seconds | median angle from upright, sitting / standing | "
    "sitting vs standing: oracle balanced accuracy, one threshold | oracle per subject, min / median | "
    "bound on the balanced accuracy over the dataset's classes | labelled transitions |\n"
    "|---|---|---|---|---|---|---|---|"
)


def markdown(rows: list[Separability]) -> str:
    lines = [HEADER]
    for r in rows:
        lines.append(
            f"| {r.dataset} | {r.placement} | {r.sitting_s} / {r.standing_s} | "
            f"{r.median_sitting_deg:.1f} / {r.median_standing_deg:.1f} deg | {r.oracle:.3f} | "
            f"{r.per_subject_min:.3f} / {r.per_subject_median:.3f} | {r.bound:.3f} ({r.classes} classes) | "
            f"{r.transitions_labelled} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+", help="dataset folders (../shared/data layout)")
    args = parser.parse_args(argv)
    try:
        rows = [row for folder in args.folders for row in separability(folder)]
    except ConfigError as exc:
        print(f"separability: error: {exc}", file=sys.stderr)
        return 2
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
