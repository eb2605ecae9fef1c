"""Probe rounds shared by every probe worker: the round is planned once, probed in chunks.

Beat's round task (`plan_round`) selects the connections that are due and cuts them into
chunks of PROBE_CHUNK_SIZE; each chunk is its own message on the `probes` queue, so every
probe worker on every host takes part, and a chunk (`probe_chunk`) stores its results in one
bulk INSERT.

Nothing is probed twice, whatever the queue does:
- before probing a connection, a chunk claims it in Redis (SET NX with a TTL): a second
  delivery of the same chunk, or an overlapping round, finds the claim and skips it;
- once probed, the claim becomes a "fresh" marker that lives until the connection is due
  again, so a duplicate that arrives after the first chunk finished skips it too;
- the round task only picks connections whose latest stored result is older than
  PROBE_FRESH_SECONDS and that hold no claim.
A chunk that dies with its worker leaves claims that expire after about two timeouts: the
next round probes those connections again, well inside the staleness bound.

Many databases on one server are spread across chunks, and inside a chunk at most
PROBE_MAX_PER_SERVER attempts run at once against one (host, port).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from itertools import zip_longest

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from connections.health import latest_status_column
from connections.models import Connection, ConnectionStatus
from connections.probe import ProbeResult, probe
from connections.status import store_results

logger = logging.getLogger(__name__)

# Beyond the probe's own bounds (connect, then the query under the same timeout), the claim
# covers fetching credentials from Vault and a little scheduling slack.
CLAIM_MARGIN_SECONDS = 5


def claim_key(connection_id: int) -> str:
    return f"probe-claim:{connection_id}"


def queued_key(connection_id: int) -> str:
    return f"probe-queued:{connection_id}"


def mark_queued(connection_ids: list[int], round_id: str) -> None:
    """Published and not yet probed: the next tick of beat does not publish it again. The
    mark outlives neither the chunk (which clears it) nor half an interval (a lost chunk's
    connections are due again at the next round)."""
    cache.set_many({queued_key(i): round_id for i in connection_ids}, settings.PROBE_FRESH_SECONDS)


def claim_seconds(connection: Connection) -> int:
    timeout = connection.connect_timeout or settings.PROBE_DEFAULT_CONNECT_TIMEOUT
    return 2 * timeout + settings.VAULT_TIMEOUT_SECONDS + CLAIM_MARGIN_SECONDS


def server_of(connection: Connection) -> tuple[str, int]:
    return (connection.host.lower(), connection.port)


def interleave_by_server(connections: Iterable[Connection]) -> list[Connection]:
    """One connection of each server in turn, so a server's databases spread over chunks."""
    by_server: dict[tuple[str, int], list[Connection]] = defaultdict(list)
    for connection in connections:
        by_server[server_of(connection)].append(connection)
    rounds = zip_longest(*by_server.values())
    return [connection for turn in rounds for connection in turn if connection is not None]


def chunked(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


@dataclass(frozen=True)
class RoundPlan:
    round_id: str
    chunks: list[list[int]]

    @property
    def connections(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)


def due_connections() -> list[Connection]:
    """Active connections whose latest result is older than PROBE_FRESH_SECONDS (or that
    were never probed) and that no chunk is probing or waiting to probe. One query and one
    Redis MGET."""
    fresh_since = timezone.now() - timedelta(seconds=settings.PROBE_FRESH_SECONDS)
    candidates = list(
        Connection.objects.filter(is_active=True)
        .annotate(latest_checked_at=latest_status_column("checked_at"))
        .annotate(latest_healthy=latest_status_column("is_healthy"))
        .order_by("id")
    )
    candidates = [c for c in candidates if c.latest_checked_at is None or c.latest_checked_at < fresh_since]
    keys = [key for c in candidates for key in (claim_key(c.id), queued_key(c.id))]
    busy = cache.get_many(keys) if keys else {}
    return [c for c in candidates if claim_key(c.id) not in busy and queued_key(c.id) not in busy]


def plan_round(round_id: str) -> RoundPlan:
    """The due connections, cut into chunks: servers interleaved, and connections whose
    last probe failed in chunks of their own at the end, so a dead host never holds back
    the results of healthy ones."""
    due = due_connections()
    answering = interleave_by_server(c for c in due if c.latest_healthy is not False)
    failing = interleave_by_server(c for c in due if c.latest_healthy is False)
    size = settings.PROBE_CHUNK_SIZE
    chunks = [[c.id for c in chunk] for chunk in chunked(answering, size) + chunked(failing, size)]
    return RoundPlan(round_id=round_id, chunks=chunks)


def probe_with_bounds(
    connections: list[Connection],
    claim: Callable[[Connection], bool] | None = None,
    done: Callable[[Connection], None] | None = None,
) -> list[tuple[Connection, ProbeResult]]:
    """Probe concurrently in PROBE_CONCURRENCY threads, at most PROBE_MAX_PER_SERVER at
    once per server. `claim` (taken once a server slot is free) may skip a connection.
    Returns the probed connections with their results, in the given order."""
    if not connections:
        return []
    per_server = defaultdict(lambda: threading.BoundedSemaphore(settings.PROBE_MAX_PER_SERVER))
    semaphores = {server_of(c): per_server[server_of(c)] for c in connections}
    results: list[ProbeResult | None] = [None] * len(connections)

    def run(index: int) -> None:
        connection = connections[index]
        with semaphores[server_of(connection)]:
            if claim is not None and not claim(connection):
                return
            try:
                results[index] = probe(connection)
            finally:
                if done is not None:
                    done(connection)

    workers = max(1, min(settings.PROBE_CONCURRENCY, len(connections)))
    # Submitted in server-interleaved order, so one server's waiters never fill the pool
    # while other servers' connections wait behind them.
    position = {id(c): i for i, c in enumerate(connections)}
    order = [position[id(c)] for c in interleave_by_server(connections)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        list(pool.map(run, order))
    return [(c, r) for c, r in zip(connections, results, strict=True) if r is not None]


def _claim(connection: Connection) -> bool:
    try:
        return bool(cache.add(claim_key(connection.id), "probing", claim_seconds(connection)))
    except Exception as exc:  # Redis down: probing twice beats not probing at all
        logger.warning("probe claim unavailable for connection %s (%s); probing anyway", connection.id, exc)
        return True


def _mark_fresh(connection: Connection) -> None:
    try:
        cache.set(claim_key(connection.id), "fresh", settings.PROBE_FRESH_SECONDS)
    except Exception:
        pass  # the claim expires by itself


@dataclass(frozen=True)
class ChunkSummary:
    probed: int
    healthy: int
    skipped: int
    seconds: float


def probe_chunk(connection_ids: list[int], round_id: str) -> tuple[ChunkSummary, list[ConnectionStatus]]:
    """Probe the chunk's connections that nobody else probes or recently probed, and store
    their results in one bulk INSERT. Delivering the same chunk twice probes nothing twice."""
    started = time.monotonic()
    fresh_since = timezone.now() - timedelta(seconds=settings.PROBE_FRESH_SECONDS)
    connections = [
        c
        for c in Connection.objects.filter(pk__in=connection_ids, is_active=True)
        .annotate(latest_checked_at=latest_status_column("checked_at"))
        .order_by("id")
        if c.latest_checked_at is None or c.latest_checked_at < fresh_since
    ]
    probed = probe_with_bounds(connections, claim=_claim, done=_mark_fresh)
    statuses = store_results(probed)
    try:
        cache.delete_many([queued_key(i) for i in connection_ids])
    except Exception:
        pass  # the marks expire by themselves
    summary = ChunkSummary(
        probed=len(statuses),
        healthy=sum(1 for s in statuses if s.is_healthy),
        skipped=len(connection_ids) - len(statuses),
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info(
        "probe round %s: probed %d connections (%d healthy, %d skipped) in %.1f s",
        round_id,
        summary.probed,
        summary.healthy,
        summary.skipped,
        summary.seconds,
    )
    return summary, statuses
