"""The fleet status: every active connection with its latest probe result, cached in Redis,
and each connection's own entry (GET /connections/{id}/status) likewise.

Monitoring scripts and dashboards read it many times a minute; it changes when a probe chunk
stores its results (once per PROBE_CHUNK_SIZE connections per round) or when a connection is
added, changed or removed. So the cache holds each connection's fields and its latest result
*as stored*, and health is judged when it is read (connections/health.py `judged`): a result
older than PROBE_STALE_AFTER_SECONDS turns stale with the clock, never with the cache, so a
cached entry cannot show a fleet whose prober died as healthy.

Invalidation is by generation: every change writes a new random generation token, and an
entry is served only while it carries the token that was current *before* its rows were read
from the database. A reader that raced a write (read the rows, then the write committed and
changed the generation, then it stored its entry) stored an entry under the old token, which
the next reader ignores. Writers change the generation after their transaction commits (and
once at once, for readers inside it). FLEET_STATUS_CACHE_SECONDS bounds what a lost
invalidation could cost (Redis unreachable at that moment, a change made with raw SQL).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from connections.health import latest_status_column
from connections.models import Connection, ConnectionStatus
from connections.signals import probe_recorded

FLEET_KEY = "fleet-status"
GENERATION_KEY = "fleet-status-generation"
GENERATION_SECONDS = 7 * 24 * 3600


class FleetEntry(NamedTuple):
    """An active connection and its latest probe result as stored (all None before the first)."""

    connection_id: int
    name: str
    host: str
    port: int
    database: str
    is_healthy: bool | None
    checked_at: datetime | None
    response_time_ms: int | None
    server_version: str | None
    error_message: str | None


def load_fleet() -> list[FleetEntry]:
    """Every active connection by id with its latest result, from the database: two queries,
    no model instances."""
    connections = list(
        Connection.objects.filter(is_active=True)
        .annotate(latest_status_id=latest_status_column())
        .order_by("id")
        .values_list("id", "name", "host", "port", "database", "latest_status_id")
    )
    latest_ids = [row[5] for row in connections if row[5] is not None]
    statuses = {
        row[0]: row[1:]
        for row in ConnectionStatus.objects.filter(id__in=latest_ids).values_list(
            "id", "is_healthy", "checked_at", "response_time_ms", "server_version", "error_message"
        )
    }
    never_probed = (None, None, None, None, None)
    return [FleetEntry(*row[:5], *statuses.get(row[5], never_probed)) for row in connections]


def current_generation() -> str | None:
    """The generation now: it changes with every change of the fleet (None: Redis is down)."""
    return cache.get(GENERATION_KEY)


def fleet_snapshot() -> tuple[str | None, list[FleetEntry]]:
    """The fleet status and the generation it belongs to: from the cache while no change was
    recorded since it was stored, else from the database.

    A missing generation (an empty or restarted Redis) is created first, so that what is read
    now can be told apart from what an earlier Redis held; None only while Redis is down.
    """
    found = cache.get_many([GENERATION_KEY, FLEET_KEY])
    generation = found.get(GENERATION_KEY)
    stored = found.get(FLEET_KEY)
    if stored is not None and generation is not None and stored[0] == generation:
        return generation, [FleetEntry._make(row) for row in stored[1]]
    if generation is None:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, GENERATION_SECONDS)
        generation = cache.get(GENERATION_KEY)  # ours, or a concurrent reader's
    entries = load_fleet()
    if settings.FLEET_STATUS_CACHE_SECONDS and generation is not None:
        # Plain tuples: unpickling a named tuple calls its Python __new__, twice the cost.
        rows = [tuple(entry) for entry in entries]
        cache.set(FLEET_KEY, (generation, rows), settings.FLEET_STATUS_CACHE_SECONDS)
    return generation, entries


def fleet_status() -> list[FleetEntry]:
    """Every active connection by id with its latest result (see fleet_snapshot)."""
    return fleet_snapshot()[1]


def entry_key(connection_id: int) -> str:
    return f"fleet-status:{connection_id}"


def load_entry(connection_id: int) -> FleetEntry | None:
    """One connection, active or not, with its latest result (None: no such connection)."""
    row = (
        Connection.objects.filter(pk=connection_id)
        .annotate(latest_status_id=latest_status_column())
        .values_list("id", "name", "host", "port", "database", "latest_status_id")
        .first()
    )
    if row is None:
        return None
    status = (
        ConnectionStatus.objects.filter(pk=row[5])
        .values_list("is_healthy", "checked_at", "response_time_ms", "server_version", "error_message")
        .first()
    )
    return FleetEntry(*row[:5], *(status or (None, None, None, None, None)))


def connection_status(connection_id: int) -> FleetEntry | None:
    """One connection's entry, cached like the fleet's and invalidated with it (None: no such
    connection, which is not cached: ids that match nothing must not fill the cache)."""
    key = entry_key(connection_id)
    found = cache.get_many([GENERATION_KEY, key])
    generation = found.get(GENERATION_KEY)
    stored = found.get(key)
    if stored is not None and stored[0] == generation:
        return FleetEntry._make(stored[1])
    entry = load_entry(connection_id)
    if entry is not None and settings.FLEET_STATUS_CACHE_SECONDS:
        cache.set(key, (generation, tuple(entry)), settings.FLEET_STATUS_CACHE_SECONDS)
    return entry


def _new_generation() -> None:
    cache.set(GENERATION_KEY, uuid.uuid4().hex, GENERATION_SECONDS)


def invalidate() -> None:
    """Make the next read of the fleet, or of any connection, load it from the database: now,
    for readers inside the writer's transaction, and again once it commits, for everyone else."""
    _new_generation()
    if db_connection.in_atomic_block:
        transaction.on_commit(_new_generation)


def on_change(sender, **kwargs) -> None:
    invalidate()


def connect() -> None:
    """Listen for the changes (ConnectionsConfig.ready): a probe chunk or check stored results
    (probe_recorded); a connection was saved or deleted (its statuses go with it); a probe
    result was saved on its own (fixtures, the shell). Deleting old probe results needs no
    receiver: the purge keeps each connection's newest one, and a receiver would make Django
    load every purged row to send it a signal."""
    probe_recorded.connect(on_change, dispatch_uid="fleet_status.probe_recorded")
    post_save.connect(on_change, sender=Connection, dispatch_uid="fleet_status.connection_saved")
    post_delete.connect(on_change, sender=Connection, dispatch_uid="fleet_status.connection_deleted")
    post_save.connect(on_change, sender=ConnectionStatus, dispatch_uid="fleet_status.status_saved")
