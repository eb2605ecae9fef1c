"""Probing the whole fleet in one round: concurrent probes, bounded concurrency.

Each probe is a blocking libpq connect under its own deadline (connect_timeout), run in a
thread pool of PROBE_CONCURRENCY threads. libpq waits with the GIL released, so threads cost
little, and a dead host holds one slot for one timeout while the others move on: with at
least as many slots as dead hosts, a round takes about one timeout however large the fleet.

Threads only talk to the databases under review; the results are written by the calling
thread in one bulk INSERT, so a round holds one application-database connection, not one
per slot.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from connections.models import Connection, ConnectionStatus
from connections.probe import ProbeResult, probe
from connections.signals import send_probe_recorded
from connections.status import CACHE_SECONDS, cache_key, status_row

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundSummary:
    probed: int
    healthy: int
    seconds: float


def probe_connections(connections: list[Connection], concurrency: int | None = None) -> list[ConnectionStatus]:
    """Probe every connection concurrently and store each result as its latest status."""
    if not connections:
        return []
    workers = max(1, min(concurrency or settings.PROBE_CONCURRENCY, len(connections)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        results: list[ProbeResult] = list(pool.map(probe, connections))
    statuses = ConnectionStatus.objects.bulk_create(
        [status_row(connection, result) for connection, result in zip(connections, results, strict=True)]
    )
    cache.set_many({cache_key(status.connection_id): status for status in statuses}, CACHE_SECONDS)
    send_probe_recorded(statuses)
    return statuses


def probe_fleet() -> RoundSummary:
    """One probe round over every active connection."""
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
