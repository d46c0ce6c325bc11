"""The collector's policy of the long-running services (ingest/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ingest.heap import FULL_EVERY_GEN1, settle_heap


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector")
def test_start_ups_objects_are_frozen_and_full_passes_spaced() -> None:
    kept = [[i] for i in range(10_000)]  # lists: tracked by the collector
    settle_heap("test")
    assert gc.get_freeze_count() >= len(kept)
    gen0, gen1, gen2 = gc.get_threshold()
    assert gen2 == FULL_EVERY_GEN1 and (gen0, gen1) == (700, 10)  # young passes as often as CPython's default
    walked = {id(o) for o in gc.get_objects(generation=2)}
    assert all(gc.is_tracked(k) and id(k) not in walked for k in kept)  # tracked, but in no generation walked again
