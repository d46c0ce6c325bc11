"""Heart-rate variability from RR intervals: one reading per night, a personal baseline and its normal range. Pure.

The reading is RMSSD (root mean square of successive differences of normal-to-normal intervals, in ms) and its
natural logarithm, the figure HRV-guided training research tracks day to day (Plews et al. 2013, "Training
adaptation and heart rate variability in elite endurance athletes", Sports Med 43:773; Buchheit 2014, "Monitoring
training status with HR measures", Front Physiol 5:73). It is taken from the last ``WINDOW_MS`` (5 min) of RR
intervals recorded while the wearer lay during the night: the end of the night's rest, as close as Kinetic gets to the
"on waking, lying" morning measurement those studies use.

Why a formula and not a library: RMSSD is defined in one line (Task Force of the ESC and NASPE 1996, Circulation
93:1043, "RMSSD"), and the artefact rule below is Malik's (Malik et al. 1989; Task Force 1996, "editing of the RR
interval sequence"). The HRV libraries that would compute the same (hrv-analysis 1.0.6, neurokit2) pull in pandas,
scipy, matplotlib and astropy for it, in a service that otherwise needs none of them; the tests pin the formula on
series with a known RMSSD instead (tests/unit/alerts/detect/test_hrv.py).

Artefact correction (documented in docs/metrics.md, "Readiness"):

- an interval outside ``RR_MIN_MS`` .. ``RR_MAX_MS`` (250-2500 ms: 24-240 bpm) is not a heartbeat: dropped;
- Malik's 20 % rule: an interval differing by more than 20 % from the last accepted interval (at first: the
  series' median) is an artefact (an ectopic beat, a missed or a doubled beat): dropped, and the successive
  differences on both sides of it are not used (a difference is only taken between two adjacent accepted
  intervals);
- a reading needs at least ``MIN_DIFFERENCES`` successive differences and at most ``MAX_ARTEFACT_SHARE`` (20 %) of the
  window's intervals dropped; otherwise there is **no reading**, with the reason, never a made-up number.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RR_MIN_MS = 250  # 240 bpm: no resting heart beats faster; the wire's bound too (ingest/wire.py)
RR_MAX_MS = 2500  # 24 bpm: no heart at rest beats slower
MALIK_TOLERANCE = 0.20  # Malik et al. 1989: more than 20 % from the previous normal interval is not normal
WINDOW_MS = 5 * 60_000  # the 5-min short-term recording of the Task Force (1996); Plews et al. used 1-5 min
MIN_DIFFERENCES = 60  # a minute of beats at least (Esco & Flatt 2014: ln RMSSD from 1 min agrees with 5 min)
MAX_ARTEFACT_SHARE = 0.20  # more dropped than this: the recording is not trusted (Task Force 1996: edit, not invent)
BASELINE_DAYS = 7  # Plews et al. 2013: the rolling 7-day mean of ln RMSSD
MIN_BASELINE_DAYS = 3  # fewer readings in the last 7 days: no baseline yet (Plews et al. 2014 use >= 3 per week)
SWC_SD = 0.5  # smallest worthwhile change: 0.5 x the SD of the baseline's ln RMSSD (Plews et al. 2013, Buchheit 2014)


@dataclass(frozen=True, slots=True)
class HrvReading:
    """One night's HRV: ``rmssd_ms`` (ms), ``ln_rmssd`` (ln of RMSSD in ms), from ``beats`` accepted intervals
    of which ``artefacts`` were dropped, ending at ``end_ms`` (Unix epoch ms, event time)."""

    rmssd_ms: float
    ln_rmssd: float
    beats: int
    artefacts: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class NoReading:
    """Why there is no HRV reading (too few intervals, too many artefacts), in words."""

    reason: str


def corrected(rr_ms: Sequence[float]) -> tuple[list[float | None], int]:
    """The intervals with artefacts replaced by None (range, then Malik's 20 % rule against the last accepted
    interval), and how many were dropped. ``rr_ms``: consecutive RR intervals in ms, oldest first."""
    out: list[float | None] = []
    # the first reference is the series' median, so an artefact as the very first interval is not taken as normal
    in_range = [rr for rr in rr_ms if RR_MIN_MS <= rr <= RR_MAX_MS]
    last: float | None = statistics.median(in_range) if in_range else None
    dropped = 0
    for rr in rr_ms:
        ok = RR_MIN_MS <= rr <= RR_MAX_MS and (last is None or abs(rr - last) <= MALIK_TOLERANCE * last)
        if ok:
            out.append(rr)
            last = rr
        else:
            out.append(None)
            dropped += 1
    return out, dropped


def rmssd(rr_ms: Sequence[float], end_ms: int = 0) -> HrvReading | NoReading:
    """RMSSD of consecutive RR intervals (ms, oldest first) after artefact correction (module docstring);
    ``end_ms`` is when the last interval ended (event time), kept on the reading. Never raises: a series that
    cannot give a trustworthy figure is a ``NoReading`` with the reason."""
    if not rr_ms:
        return NoReading("no RR intervals while lying last night")
    clean, dropped = corrected(rr_ms)
    share = dropped / len(rr_ms)
    differences = [b - a for a, b in itertools.pairwise(clean) if a is not None and b is not None]
    if share > MAX_ARTEFACT_SHARE:
        return NoReading(f"{share:.0%} of {len(rr_ms)} RR intervals were artefacts (at most 20%)")
    if len(differences) < MIN_DIFFERENCES:
        return NoReading(f"only {len(differences)} clean successive RR differences (at least {MIN_DIFFERENCES})")
    value = math.sqrt(sum(d * d for d in differences) / len(differences))
    if value <= 0:
        return NoReading("RR intervals did not vary at all (a sensor repeating one value)")
    return HrvReading(value, math.log(value), len(rr_ms) - dropped, dropped, end_ms)


def window(beats: Sequence[tuple[int, float]], window_ms: int = WINDOW_MS) -> list[float]:
    """The RR intervals (ms) of the last ``window_ms`` of ``beats`` ((t_ms, rr_ms) in time order)."""
    if not beats:
        return []
    start = beats[-1][0] - window_ms
    return [rr for t_ms, rr in beats if t_ms > start]


@dataclass(frozen=True, slots=True)
class Baseline:
    """The personal baseline: mean and SD of ln RMSSD over the readings of the last ``BASELINE_DAYS`` days, and
    the normal range mean +- ``SWC_SD`` x SD (the smallest worthwhile change)."""

    mean: float
    sd: float
    days: int

    @property
    def low(self) -> float:
        return self.mean - SWC_SD * self.sd

    @property
    def high(self) -> float:
        return self.mean + SWC_SD * self.sd


def baseline(previous_ln_rmssd: Sequence[float]) -> Baseline | NoReading:
    """The baseline from the ln RMSSD readings of the previous ``BASELINE_DAYS`` days (not today's: today is judged
    against it), or why there is none yet (fewer than ``MIN_BASELINE_DAYS`` readings)."""
    values = list(previous_ln_rmssd)[-BASELINE_DAYS:]
    if len(values) < MIN_BASELINE_DAYS:
        return NoReading(f"HRV baseline not known yet ({len(values)} of {MIN_BASELINE_DAYS} nights)")
    return Baseline(statistics.fmean(values), statistics.stdev(values), len(values))
