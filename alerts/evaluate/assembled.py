"""Long sitting bouts on sequences assembled from real labelled segments.

None of the public recordings has a real sitting bout of 30 minutes or more. So, per session, real one-second
frames are cut out of the recordings by their labels and joined into a day: walking, then sitting segments
strung together into bouts of 5 to 60 minutes, separated by real standing and walking. Timestamps are re-laid
end to end; the sensor values are untouched. Every figure from here is marked "assembled".

Postural transitions: a frame cut out of its recording loses what its edge reported (``trans``: it belongs to the
movement around it, not to the place the frame is put). Where the dataset labels its sit/stand transitions (HAPT),
each sitting bout is entered and left through a real one: the session's frames from ``TRANSITION_LEAD_S`` before a
labelled stand-to-sit to ``TRANSITION_TAIL_S`` after it (then sit-to-stand), as recorded, with what the edge reported
in them; their transition seconds are ``unknown`` in the truth (not a posture).
The whole live path runs on them: the AlertEngine with its streaming calibration, bouts and prompts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from alerts.detect.bouts import Bout
from alerts.engine import AlertEngine, EngineConfig
from alerts.evaluate.metrics import bouts_of, match_bouts
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.wire import EventV1, FeatureBatchV1, FeatureFrameV1, Placement, PromptV1

BOUT_MINUTES = (5, 12, 31, 45, 62)
START_MS = 1_767_600_000_000


TRANSITION_LEAD_S = 2
TRANSITION_TAIL_S = 6
Window = tuple[list[FeatureFrameV1], list[str]]  # consecutive real frames and their truth


@dataclass
class Pools:
    """Real frames of one session and placement, by evaluated class; real transition windows by kind."""

    by_class: dict[str, list[FeatureFrameV1]]
    transitions: dict[str, list[Window]] = field(default_factory=dict)

    def take(self, cls: str, seconds: int, rng: random.Random) -> list[FeatureFrameV1]:
        pool = self.by_class.get(cls, [])
        if not pool:
            return []
        start = rng.randrange(len(pool))
        return [pool[(start + i) % len(pool)] for i in range(seconds)]


def assemble(pools: Pools, rng: random.Random) -> tuple[list[FeatureFrameV1], list[str]]:
    """A day of real frames with re-laid timestamps, and the truth per second (see the module docstring)."""
    with_transitions = all(pools.transitions.get(k) for k in ("stand_to_sit", "sit_to_stand"))
    plan: list[tuple[str, int]] = [("moving", 180)]
    for minutes in BOUT_MINUTES:
        if with_transitions:
            plan += [("standing", 20), ("stand_to_sit", 0), ("sitting", minutes * 60), ("sit_to_stand", 0)]
            plan += [("standing", 60), ("moving", 120)]
        else:
            plan += [("sitting", minutes * 60), ("standing", 60), ("moving", 120)]
    frames: list[FeatureFrameV1] = []
    truth: list[str] = []
    for cls, seconds in plan:
        if cls in ("stand_to_sit", "sit_to_stand"):
            window_frames, window_truth = rng.choice(pools.transitions[cls])
            for frame, label in zip(window_frames, window_truth, strict=True):
                frames.append(frame.model_copy(update={"t_ms": START_MS + len(frames) * 1000}))
                truth.append(label)
            continue
        for frame in pools.take(cls, seconds, rng):
            update = {"t_ms": START_MS + len(frames) * 1000, "trans": None, "trans_conf": None, "trans_lag_ms": None}
            frames.append(frame.model_copy(update=update))
            truth.append(cls)
    return frames, truth


def transition_windows(
    frames: list[FeatureFrameV1], truth: list[str], kinds: list[str | None]
) -> dict[str, list[Window]]:
    """The windows of a recording's labelled transitions (``kinds``: the transition kind of each second, or None),
    from TRANSITION_LEAD_S before to TRANSITION_TAIL_S after, when the seconds around are the postures it joins."""
    out: dict[str, list[Window]] = {}
    i = 0
    while i < len(kinds):
        kind = kinds[i]
        if kind is None:
            i += 1
            continue
        end = i
        while end < len(kinds) and kinds[end] == kind:
            end += 1
        start, stop = i - TRANSITION_LEAD_S, end + TRANSITION_TAIL_S
        before, after = ("standing", "sitting") if kind == "stand_to_sit" else ("sitting", "standing")
        if (
            start >= 0
            and stop <= len(frames)
            and before in truth[start:i]
            and set(truth[start:i]) <= {before, "ignore"}
            and after in truth[end:stop]
            and set(truth[end:stop]) <= {after, "ignore"}
        ):
            labels = [t if t != "ignore" else "unknown" for t in truth[start:stop]]
            out.setdefault(kind, []).append((list(frames[start:stop]), labels))
        i = end
    return out


# The evaluation measures detection and the first 30-minute sitting prompt: the policy rules that would add or hold
# prompts for other reasons (re-prompts, lean and standing prompts, caps, spacing) are off here.
DETECTION_ONLY = PromptPolicy(
    escalate_after_min=None,
    lean_duration_min=None,
    standing_threshold_min=None,
    max_per_hour=60,
    max_per_day=500,
    min_spacing_min=0,
)


def run_sequence(
    frames: list[FeatureFrameV1], truth: list[str], placement: Placement, transitions: bool = False
) -> dict[str, Any]:
    """The live engine over an assembled day; ``transitions``: KINETIC_ALERTS__TRUNK_TRANSITIONS."""
    engine = AlertEngine(EngineConfig(trunk_transitions=transitions), load_catalog(), PolicyBook(DETECTION_ONLY))
    outputs: list[PromptV1 | EventV1] = []
    for i in range(0, len(frames), 60):
        batch = FeatureBatchV1(wearer="eval", device="eval", placement=placement, seq=i, frames=frames[i : i + 60])
        outputs += engine.process(batch)
    outputs += engine.close("eval")
    t_ms = [f.t_ms for f in frames]
    reference = bouts_of(t_ms, truth, 10)
    predicted = [
        _bout(e) for e in outputs if isinstance(e, EventV1) and e.kind == "bout_ended" and e.posture == "sitting"
    ]
    found = match_bouts(reference, predicted, "sitting", 5 * 60)
    long_refs = [b for b in reference if b.posture == "sitting" and b.duration_s >= 30 * 60]
    prompts = [o for o in outputs if isinstance(o, PromptV1)]
    lags = []
    for ref in long_refs:
        due = ref.start_ms + 30 * 60_000
        near = [
            abs(p.created.timestamp() * 1000 - due) / 1000
            for p in prompts
            if ref.start_ms <= p.created.timestamp() * 1000 < ref.end_ms
        ]
        if near:
            lags.append(min(near))
    return {
        "bouts": found,
        "long_bouts": len(long_refs),
        "prompted": len(lags),
        "prompts": len(prompts),
        "prompt_errors_s": lags,
    }


def _bout(event: EventV1) -> Bout:
    assert event.bout_start is not None
    return Bout("sitting", round(event.bout_start.timestamp() * 1000), round(event.t.timestamp() * 1000))
