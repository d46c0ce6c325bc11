"""The cyclic garbage collector's policy for Kinetic's long-running services (``kinetic alerts``, ``kinetic bridge``).

CPython frees most objects by reference counting; its cyclic collector only looks for reference cycles. A *full*
collection (generation 2) walks every object the collector tracks, and every thread of the process waits while it
runs. A service holding 10,000 wearers' states tracks some 310,000 objects (``bench.gc_pause``: a full pass over them
takes about 0.1 s on an idle machine), and with CPython's default thresholds (700, 10, 10: a full pass after every
tenth generation-1 pass, once the objects new to generation 2 since the last full pass are a quarter of those there
before) ``kinetic alerts`` made 8 full passes in a 70-s stage of ``bench/alerts_scale.py`` at 10,000 wearers, each
holding the service 0.26 s at p50 and up to 1.1 s on a loaded machine (issue 18 item 1: ``gc_ms`` in
``alerts.latency``'s summary), the largest single wait a prompt met.

``settle_heap`` is called once the service has started and restored its state:
- ``gc.freeze()`` moves every object tracked so far (the modules, classes, schemas and restored states of start-up)
  to the permanent generation, which no later collection walks (Python's documentation of ``gc.freeze``: for
  objects that live as long as the process); reference counting still frees them;
- the generation-2 threshold becomes ``FULL_EVERY_GEN1`` (1,000 instead of 10): young cycles are still collected as
  often as before (generations 0 and 1 unchanged), and full passes come a hundred times less often (about every
  15 minutes at 10,000 wearers with 10-s batches: 115 generation-1 passes in a 70-s stage and its wait of some
  40 s), still paced by the process's allocations, so a growing heap is still walked.
"""

from __future__ import annotations

import gc
import logging

_LOGGER = logging.getLogger(__name__)

FULL_EVERY_GEN1 = 1000  # generation-1 passes before a full one (CPython's default: 10)


def settle_heap(name: str) -> None:
    """Collect once, freeze what start-up built, and space full collections ``FULL_EVERY_GEN1`` generation-1 passes
    apart (module docstring). ``name``: the service, for the log line."""
    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_EVERY_GEN1)
    _LOGGER.info(
        "%s: %d objects of start-up frozen out of the collector's passes; full passes every %d generation-1 passes",
        name,
        gc.get_freeze_count(),
        FULL_EVERY_GEN1,
    )
