"""Storing probe results, and probing now on request (single flight).

Reads of the current status go through connections/fleet_status.py, whose cache every stored
result invalidates (through `probe_recorded`)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError

from connections.models import Connection, ConnectionStatus
from connections.probe import ProbeResult, probe
from connections.signals import send_probe_recorded

logger = logging.getLogger(__name__)


def status_row(connection: Connection, result: ProbeResult) -> ConnectionStatus:
    """The history row of a probe result (not saved yet)."""
    return ConnectionStatus(
        connection=connection,
        is_healthy=result.is_healthy,
        checked_at=result.checked_at,
        response_time_ms=result.response_time_ms,
        server_version=result.server_version,
        error_message=result.error_message,
    )


def store_results(probed: list[tuple[Connection, ProbeResult]]) -> list[ConnectionStatus]:
    """Store probe results in one bulk INSERT and tell the listeners (the fleet status cache,
    notifications) once, with the whole list."""
    if not probed:
        return []
    statuses = ConnectionStatus.objects.bulk_create([status_row(connection, result) for connection, result in probed])
    send_probe_recorded(statuses)
    return statuses


def record_probe(connection: Connection) -> ConnectionStatus:
    """Probe now, keep the result as a history row, and tell the listeners."""
    status = status_row(connection, probe(connection))
    status.save()
    send_probe_recorded([status])
    return status


def check_connection(connection: Connection) -> ConnectionStatus:
    """A fresh probe, shared by concurrent callers (single flight).

    The first caller takes a Redis lock and probes; callers that arrive while it runs wait
    for the lock and answer with its result, instead of stacking one more connection per
    request on a struggling server. Without Redis every caller probes on its own.
    """
    requested_at = timezone.now()
    wait = connection.connect_timeout * 3 + 10
    try:
        lock = cache.lock(f"probe-lock:{connection.id}", timeout=wait, blocking_timeout=wait)
        acquired = lock.acquire()
    except RedisError:
        logger.warning("single-flight lock unavailable for connection %s; probing anyway", connection.id)
        return record_probe(connection)
    try:
        if acquired:
            latest = connection.latest_status()
            if latest is not None and latest.checked_at >= requested_at:
                return latest  # a probe that finished while we waited for the lock
        return record_probe(connection)
    finally:
        if acquired:
            try:
                lock.release()
            except RedisError:
                pass  # the lock expires by itself
