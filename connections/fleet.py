"""Probing a set of connections now, in this process: the console's "Check now", benches.
Scheduled rounds are shared by every probe worker instead (connections/rounds.py).

Each probe is a blocking libpq connect under its own deadline (connect_timeout), run in a
thread pool of PROBE_CONCURRENCY threads, at most PROBE_MAX_PER_SERVER at once per server.
libpq waits with the GIL released, so threads cost little, and a dead host holds one slot for one timeout while the others move on: with at
least as many slots as dead hosts, a round takes about one timeout however large the fleet.

Threads only talk to the databases under review; the results are written by the calling
thread in one bulk INSERT, so a round holds one application-database connection, not one
per slot.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from connections.models import Connection, ConnectionStatus
from connections.rounds import probe_with_bounds
from connections.status import store_results

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundSummary:
    probed: int
    healthy: int
    seconds: float


def probe_connections(connections: list[Connection]) -> list[ConnectionStatus]:
    """Probe every connection now (concurrently, bounded per server) and store each result as
    its latest status; in the given order. The console's "Check now" and in-process rounds."""
    return store_results(probe_with_bounds(connections))


def probe_fleet() -> RoundSummary:
    """One probe round over every active connection, in this process (benches, tests).
    Scheduled rounds are shared by the probe workers instead: see connections.rounds."""
    started = time.monotonic()
    connections = list(Connection.objects.filter(is_active=True).order_by("id"))
    statuses = probe_connections(connections)
    summary = RoundSummary(
        probed=len(statuses),
        healthy=sum(1 for status in statuses if status.is_healthy),
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info("probe round: %d probed, %d healthy, %.1f s", summary.probed, summary.healthy, summary.seconds)
    return summary
