"""The breathing-rate estimate (``alerts.detect.breathing``) on real paced breathing: recordings named
``<name>_period<P>s.txt.gz`` (comma-separated ``time_s, ax_g, ay_g, az_g, total_g``; breathing paced at one breath
every P seconds), as in ../shared/data/breathing-phone-thorax (a phone on the thorax, supine; its README).

    python -m alerts.evaluate.breathing ../shared/data/breathing-phone-thorax [--markdown]

Each recording is scored whole, after its first 5 s (the source discards them too): the rate found, the paced rate,
the error in breaths per minute and the peak's share of the band's power.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alerts.detect.breathing import breathing_rate
from ingest.errors import ConfigError

SETTLE_S = 5.0
_NAME = re.compile(r"_period(?P<period>\d+(?:\.\d+)?)s\.txt\.gz$")


@dataclass(frozen=True, slots=True)
class BreathingScore:
    recording: str
    paced_bpm: float
    found_bpm: float | None
    peak_share: float | None
    seconds: float

    @property
    def error_bpm(self) -> float | None:
        return None if self.found_bpm is None else self.found_bpm - self.paced_bpm


def read_paced(path: Path) -> tuple[float, np.ndarray, np.ndarray]:
    """(paced breaths/min, t_ms, acc_g (n, 3)) of one recording. Raises ConfigError naming the file."""
    match = _NAME.search(path.name)
    if match is None:
        raise ConfigError(f"{path}: the name must end in _period<P>s.txt.gz (P: seconds per paced breath)")
    try:
        with gzip.open(path, "rt") as handle:
            rows = np.loadtxt(handle, delimiter=",", ndmin=2)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not rows of time_s, ax_g, ay_g, az_g, total_g ({exc})") from None
    if rows.shape[1] < 4 or not np.all(np.isfinite(rows[:, :4])):
        raise ConfigError(f"{path}: not rows of time_s, ax_g, ay_g, az_g, total_g")
    keep = rows[:, 0] >= rows[0, 0] + SETTLE_S
    return 60.0 / float(match.group("period")), np.round(rows[keep, 0] * 1000).astype(np.int64), rows[keep, 1:4]


def _period(path: Path) -> float:
    match = _NAME.search(path.name)
    return float(match.group("period")) if match else float("inf")


def evaluate_breathing(folder: Path) -> list[BreathingScore]:
    files = sorted((folder / "recordings").glob("*_period*s.txt.gz"), key=_period)
    if not files:
        raise ConfigError(f"{folder}: no recordings/*_period<P>s.txt.gz")
    out = []
    for path in files:
        paced, t_ms, acc = read_paced(path)
        found = breathing_rate(t_ms, acc)
        seconds = float(t_ms[-1] - t_ms[0]) / 1000 if len(t_ms) else 0.0
        out.append(
            BreathingScore(
                path.name,
                paced,
                None if found is None else found.breaths_per_min,
                None if found is None else found.peak_share,
                seconds,
            )
        )
    return out


def markdown(scores: list[BreathingScore]) -> str:
    lines = [
        "| recording | paced breaths/min | found | error | peak's share of the band | seconds scored |",
        "|---|---|---|---|---|---|",
    ]
    for s in scores:
        found = "-" if s.found_bpm is None else f"{s.found_bpm:.2f}"
        error = "-" if s.error_bpm is None else f"{s.error_bpm:+.2f}"
        share = "-" if s.peak_share is None else f"{s.peak_share:.2f}"
        lines.append(f"| {s.recording} | {s.paced_bpm:.2f} | {found} | {error} | {share} | {s.seconds:.0f} |")
    errors = [abs(s.error_bpm) for s in scores if s.error_bpm is not None]
    if errors:
        lines.append(
            f"| all {len(scores)} | | {len(errors)} estimated | median abs {np.median(errors):.2f}, "
            f"max abs {max(errors):.2f} | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    try:
        print(markdown(evaluate_breathing(args.folder)))
    except ConfigError as exc:
        print(f"breathing: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
