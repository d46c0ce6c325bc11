"""Where a prompt's time goes inside the alert service (issue 18 item 1), measured as the service runs.

A prompt's path: the MQTT client reads the message carrying the crossing frame and queues it -> the consumer takes
it with what else is waiting (``taken``) -> waits for a checkpoint that holds the service (``locked``) -> handles
the messages ahead of it in that take (``started``) -> decodes it against the wire contract (``decoded``) -> runs it
through the engine, which decides the prompt (``decided``) -> writes the prompt to the outbox (``outbox``) -> its
publication starts on the event loop (``sending``) -> the broker's PUBACK (``acked``).

Each step is a ``time.perf_counter()`` reading (seconds, monotonic) taken by the service; ``age_ms`` is how old the
message's newest frame was when it was taken (this host's clock against the frame's ``t_ms``: the wait before the
consumer took it, when the sender's clock is this host's, as in ``bench/alerts_scale.py``). Checkpoints are timed
too: the wait for publications in flight, the state store's write (the event loop is held while it runs) and the
whole pause. ``PromptPaths.summary`` gives percentiles in milliseconds; the service logs it when it stops and the
benchmark prints it. Only prompts are traced (a few per wearer and hour), so the cost is a few floats per prompt.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from dataclasses import dataclass, field

STEPS = ("locked", "started", "decoded", "decided", "outbox", "sending", "acked")
KEEP = 100_000  # prompts traced at most (the first ones; a week of a large deployment stays bounded)


@dataclass(slots=True)
class MessageTrace:
    """One message's readings (perf_counter seconds), filled in as it goes; 0.0: not reached."""

    taken: float
    age_ms: float | None = None
    waiting: int = 0  # messages in the intake when it was taken (alerts.intake)
    urgent: bool = False  # handled out of turn, its wearer urgent (alerts.intake)
    locked: float = 0.0
    started: float = 0.0
    decoded: float = 0.0
    decided: float = 0.0


@dataclass(slots=True)
class PromptTrace:
    """A prompt's readings: its message's, then the outbox write, the start of its publication and its PUBACK."""

    message: MessageTrace
    outbox: float = 0.0
    sending: float = 0.0
    acked: float = 0.0


def percentiles_ms(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of durations in seconds, in milliseconds rounded to 0.01 ms; {} for none. p99 is the value
    below which 99 % of them lie (nearest rank)."""
    if not values:
        return {}
    ordered = sorted(values)
    p99 = ordered[max(0, -(-len(ordered) * 99 // 100) - 1)]
    return {
        "p50": round(statistics.median(ordered) * 1000, 2),
        "p99": round(p99 * 1000, 2),
        "max": round(ordered[-1] * 1000, 2),
    }


@dataclass
class PromptPaths:
    """The traces of the prompts published on MQTT and the pauses of the checkpoints."""

    prompts: list[PromptTrace] = field(default_factory=list)
    taken: list[int] = field(default_factory=list)  # messages per take (the consumer's batches)
    checkpoint_encode_s: list[float] = field(default_factory=list)  # encoding states, in slices, loop held
    checkpoint_flush_s: list[float] = field(default_factory=list)  # waiting for the cut's publications, loop free
    checkpoint_store_s: list[float] = field(default_factory=list)  # the state store's write, event loop held
    checkpoint_total_s: list[float] = field(default_factory=list)  # from the cut to the acknowledgements
    gc_s: dict[int, list[float]] = field(default_factory=dict)  # the collector's pauses per generation (GcPauses)
    loop_lag_s: list[float] = field(default_factory=list)  # how late the event loop woke a sleeper (LoopLag)

    def prompt(self, message: MessageTrace) -> PromptTrace | None:
        """A new prompt's trace, None past ``KEEP``."""
        if len(self.prompts) >= KEEP:
            return None
        trace = PromptTrace(message)
        self.prompts.append(trace)
        return trace

    def summary(self) -> dict[str, object]:
        """Per step, the time from the step before (ms: p50, p99, max) over the prompts that reached their PUBACK;
        ``total`` from the take to the PUBACK, ``age_at_take`` the newest frame's age when taken; the takes' sizes
        and the checkpoints' pauses."""
        done = [p for p in self.prompts if p.acked]
        steps: dict[str, dict[str, float]] = {}
        if done:
            ages = [p.message.age_ms / 1000 for p in done if p.message.age_ms is not None]
            steps["age_at_take"] = percentiles_ms(ages)
            for before, step in zip(("taken", *STEPS), STEPS, strict=False):
                steps[step] = percentiles_ms([_at(p, step) - _at(p, before) for p in done])
            steps["total"] = percentiles_ms([p.acked - p.message.taken for p in done])
            # the intake's line (alerts.intake): the prompts whose message was handled out of turn, and not
            for urgent in (True, False):
                which = [p for p in done if p.message.urgent is urgent]
                if which:
                    waits = [p.message.started - p.message.taken for p in which]
                    steps[f"taken_to_started_{'urgent' if urgent else 'in_turn'}"] = {
                        "n": len(which),
                        **percentiles_ms(waits),
                    }
        return {
            "prompts": len(done),
            "steps_ms": steps,
            "messages_per_take": {
                "p50": statistics.median(self.taken) if self.taken else 0,
                "max": max(self.taken, default=0),
            },
            "waiting_at_take": {
                "p50": statistics.median(p.message.waiting for p in done) if done else 0,
                "max": max((p.message.waiting for p in done), default=0),
            },
            "checkpoints": len(self.checkpoint_total_s),
            "checkpoint_encode_ms": percentiles_ms(self.checkpoint_encode_s),
            "checkpoint_flush_ms": percentiles_ms(self.checkpoint_flush_s),
            "checkpoint_store_ms": percentiles_ms(self.checkpoint_store_s),
            "checkpoint_total_ms": percentiles_ms(self.checkpoint_total_s),
            "gc_ms": {f"gen{g}": {"n": len(v), **percentiles_ms(v)} for g, v in sorted(self.gc_s.items())},
            "loop_lag_ms": percentiles_ms(self.loop_lag_s),
        }


class GcPauses:
    """Times the cyclic garbage collector's pauses (``gc.callbacks``: a "start" and a "stop" call around each
    collection, with its generation) into ``paths.gc_s``, while installed (a context manager). Every thread of the
    process is stopped while the collector runs, so a pause is a wait for whatever message is being handled."""

    def __init__(self, paths: PromptPaths) -> None:
        self.paths = paths
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        pauses = self.paths.gc_s.setdefault(info["generation"], [])
        if len(pauses) < KEEP:
            pauses.append(time.perf_counter() - self._began)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


async def loop_lag(paths: PromptPaths, every_s: float = 0.01) -> None:
    """Until cancelled: sleep ``every_s`` and note how much later than asked the event loop woke this task
    (``paths.loop_lag_s``): the time anything ready on the loop (a message taken, a PUBACK) may wait behind work
    that holds it (a take's handling, an encoding slice, the GIL held by a worker thread, a collection). Once
    ``KEEP`` samples are noted (some 17 minutes at 10 ms), it waits for its cancellation without a timer: an idle
    service is not woken 100 times a second for samples it would not keep. It never returns (the alert service
    stops when one of its tasks ends)."""
    loop = asyncio.get_running_loop()
    while len(paths.loop_lag_s) < KEEP:
        asked = loop.time()
        await asyncio.sleep(every_s)
        paths.loop_lag_s.append(max(0.0, loop.time() - asked - every_s))
    await loop.create_future()  # full: until cancelled, never woken


def _at(trace: PromptTrace, step: str) -> float:
    if step in ("outbox", "sending", "acked"):
        return float(getattr(trace, step))
    return float(getattr(trace.message, step))
