"""The reads behind the list endpoints, each a fixed number of SQL queries whatever the
number of rows (a test asserts it)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from connections.health import active_connections_health
from tasks.estimates import running_executions

__all__ = ["active_connections_health", "running_executions", "since_filter"]


def since_filter(since: datetime) -> Q:
    """Executions that started at or after `since`; one not started yet counts from when it
    was queued (the alerting script reads started_at, which every finished run has)."""
    return Q(started_at__gte=since) | Q(started_at__isnull=True, created_at__gte=since)
