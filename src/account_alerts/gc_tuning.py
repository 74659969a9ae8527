"""The garbage collector of a long-running process: the server's, the delivery worker's,
the scheduler's.

A full collection walks every object the collector tracks. What a process builds as it
starts (modules, the GraphQL schema, the models, the providers' clients, compiled
statements) lives as long as the process. A delivery worker left to walk it all paused
91-94 ms at each full collection (168 000 objects); frozen, 7 ms (12 000)."""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger("account_alerts")


def tune_garbage_collector() -> int:
    """Freeze what lives for the whole process out of the collector, and keep each
    collection short; the number of objects frozen. Called once the process has built
    what it runs on. A collection's pause grows with the objects it walks: young-generation
    collections took about 14 ms at a threshold of 20 000 objects and 2 ms at 5 000, and
    those pauses were the event path's slowest percent; the middle generation, collected
    after 5 young collections rather than 50, pauses about 11 ms instead of 90 ms on the
    alert history page. Time spent in the collector overall is no higher."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(5_000, 5, 20)
    frozen = gc.get_freeze_count()
    logger.info("garbage collector: %d objects built at start frozen out of its passes", frozen)
    return frozen
