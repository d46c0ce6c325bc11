"""The cyclic garbage collector observed: garbage only a full pass frees, and the full passes made (ingest/heap.py's
tests)."""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections.abc import Iterator


@contextlib.contextmanager
def only_explicit_passes() -> Iterator[None]:
    """Only the collections the block makes (``gc.collect``), none paced by its allocations."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def garbage_in_generation_2() -> weakref.ref[Node]:
    """A reference cycle that became unreachable after it reached generation 2 (a full pass frees it, no younger
    one does); a weak reference to one of its objects, dead once it is freed."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.collect(1)  # still reachable: moved on to generation 2
    probe = weakref.ref(a)
    del a, b
    gc.collect(1)
    assert probe() is not None  # only a full pass frees it
    return probe


def full_passes() -> int:
    """The full (generation-2) collections this process has made."""
    return int(gc.get_stats()[2]["collections"])
