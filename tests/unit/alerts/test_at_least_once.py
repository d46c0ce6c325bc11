"""At-least-once delivery never changes a count, a bout or a prompt (issue 13, "repeats and order").

MQTT QoS 1 redelivers after a reconnect, a collector replays its store-and-forward queue after a restart (re-cut into
batches of another length), a broker hands over a persistent session's backlog: whatever earlier frames come again,
in whatever batches, the alert engine decides exactly what it decides from one clean delivery, and the bridge's
minute rollup writes exactly the same minutes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.order import SAME_SECOND_MS
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store.points import Point
from ingest.store.rollup import MinuteRollup
from ingest.wire import EventV1, FeatureBatchV1, PromptV1

CATALOG = load_catalog()
DAY = parse_scenario(
    "start: 2026-01-05T09:00:00+01:00\n"
    "wearers:\n  - wearer: ann\n    placement: trunk\n"
    "    segments: [walk 2m, sit 33m, walk 2m, sit 15m lean_left 12deg, stand 3m, sit 31m]\n"
)
BATCHES = list(batches_for(DAY, DAY.wearers[0], 10))


def decisions(batches: list[FeatureBatchV1]) -> tuple[list[PromptV1 | EventV1], list[Point]]:
    engine = AlertEngine(EngineConfig(), CATALOG, PolicyBook(PromptPolicy()))
    rollup = MinuteRollup()
    out: list[PromptV1 | EventV1] = []
    minutes: list[Point] = []
    for batch in batches:
        out += engine.process(batch)
        minutes += rollup.add(batch)
    return out + engine.close("ann"), minutes + rollup.close_device("ann", batch.device)


ONCE = decisions(BATCHES)


REPLAY = st.tuples(
    st.integers(0, len(BATCHES) - 1),  # after which batch
    st.booleans(),  # a batch again whole, or a run of frames re-cut
    st.floats(0, 1),  # how far back it starts
    st.integers(1, 300),  # frames in the run
    st.integers(1, 60),  # frames per re-cut batch
)


@st.composite
def redelivered(draw: st.DrawFn) -> list[FeatureBatchV1]:
    """The day's batches in order, with earlier frames coming again at random points: a batch redelivered whole, or
    a run of frames re-cut into batches of another length (a collector replaying its queue)."""
    replays: dict[int, list[tuple[bool, float, int, int]]] = {}
    for after, whole, back, length, size in draw(st.lists(REPLAY, min_size=1, max_size=8)):
        replays.setdefault(after, []).append((whole, back, length, size))
    out: list[FeatureBatchV1] = []
    frames_sent = []
    for i, batch in enumerate(BATCHES):
        out.append(batch)
        frames_sent += batch.frames
        for whole, back, length, size in replays.get(i, []):
            if whole:
                out.append(BATCHES[int(back * i)])
                continue
            start = int(back * (len(frames_sent) - 1))
            run = frames_sent[start : start + length]
            out += [
                batch.model_copy(update={"frames": run[j : j + size], "seq": batch.seq + 1000 + j})
                for j in range(0, len(run), size)
            ]
    return out


def test_the_clean_day_decides_something() -> None:
    """The property below compares against a day with prompts of each trigger, bouts and minutes."""
    outputs, minutes = ONCE
    assert [o.trigger for o in outputs if isinstance(o, PromptV1)] == ["sitting", "lean"]
    held = [o.reason for o in outputs if isinstance(o, EventV1) and o.kind == "prompt_held"]
    assert held == ["hour_cap"]  # the last sit's prompt: two in the hour already (policy max_per_hour)
    assert sum(o.kind == "bout_ended" for o in outputs if isinstance(o, EventV1)) == 6
    assert len(minutes) == 86


@settings(max_examples=25, deadline=None)
@given(redelivered())
def test_any_redelivery_decides_exactly_what_one_delivery_decides(batches: list[FeatureBatchV1]) -> None:
    assert decisions(batches) == ONCE


@settings(max_examples=20, deadline=None)
@given(st.integers(1, len(BATCHES) - 2), st.integers(0, 9), st.integers(61, 6 * 3600))
def test_one_frame_hours_ahead_in_a_backlog_costs_only_itself(at: int, index: int, ahead_s: int) -> None:
    """Found after the named cases: a replayed backlog with one frame stamped hours ahead (yet behind the host's
    clock, so no future check stops it) made the alert engine and the rollup skip the rest of the backlog."""
    batch = BATCHES[at]
    frames = list(batch.frames)
    index = min(index, len(frames) - 1)
    glitch = frames[index].model_copy(update={"t_ms": BATCHES[-1].frames[-1].t_ms + ahead_s * 1000})
    frames.insert(index + 1, glitch)
    batches = [*BATCHES[:at], batch.model_copy(update={"frames": frames}), *BATCHES[at + 1 :]]
    assert decisions(batches) == ONCE


@settings(max_examples=20, deadline=None)
@given(st.dictionaries(st.integers(0, len(BATCHES) - 1), st.integers(1, SAME_SECOND_MS - 1), min_size=1, max_size=10))
def test_the_same_second_sent_again_with_another_stamp_counts_once(repeats: dict[int, int]) -> None:
    """Found after the named cases: frames less than a second apart were each counted as a second."""
    batches = list(BATCHES)
    for at, offset_ms in repeats.items():
        frames = [g for f in BATCHES[at].frames for g in (f, f.model_copy(update={"t_ms": f.t_ms + offset_ms}))]
        batches[at] = BATCHES[at].model_copy(update={"frames": frames})
    assert decisions(batches) == ONCE
