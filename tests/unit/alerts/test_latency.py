"""The alert service's account of where a prompt's time goes (alerts/latency.py)."""

from __future__ import annotations

from alerts.latency import KEEP, MessageTrace, PromptPaths, percentiles_ms


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    assert percentiles_ms([]) == {}
    assert percentiles_ms([0.001 * k for k in range(1, 101)]) == {"p50": 50.5, "p99": 99.0, "max": 100.0}
    assert percentiles_ms([0.002]) == {"p50": 2.0, "p99": 2.0, "max": 2.0}


def test_each_step_is_the_time_from_the_step_before() -> None:
    paths = PromptPaths()
    message = MessageTrace(taken=10.0, age_ms=40.0, locked=10.001, started=10.003, decoded=10.0031, decided=10.0035)
    trace = paths.prompt(message)
    assert trace is not None
    trace.outbox, trace.sending, trace.acked = 10.0036, 10.004, 10.006
    unfinished = paths.prompt(MessageTrace(taken=11.0))  # no PUBACK yet: not counted
    assert unfinished is not None
    paths.checkpoint_store_s.append(0.02)
    summary = paths.summary()
    steps = summary["steps_ms"]
    assert isinstance(steps, dict)
    assert summary["prompts"] == 1
    assert steps["age_at_take"]["p50"] == 40.0
    assert {step: steps[step]["p50"] for step in ("locked", "started", "decoded", "decided", "outbox")} == {
        "locked": 1.0,
        "started": 2.0,
        "decoded": 0.1,
        "decided": 0.4,
        "outbox": 0.1,
    }
    assert (steps["sending"]["p50"], steps["acked"]["p50"], steps["total"]["p50"]) == (0.4, 2.0, 6.0)
    assert summary["checkpoint_store_ms"] == {"p50": 20.0, "p99": 20.0, "max": 20.0}


def test_the_traces_kept_are_bounded() -> None:
    paths = PromptPaths()
    paths.prompts = [paths.prompt(MessageTrace(taken=0.0)) for _ in range(KEEP)]  # type: ignore[misc]
    assert paths.prompt(MessageTrace(taken=0.0)) is None and len(paths.prompts) == KEEP
