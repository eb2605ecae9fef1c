"""The reads behind the list endpoints, each a fixed number of SQL queries whatever the
number of rows (a test asserts it)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber

from connections.models import Connection, ConnectionStatus
from monitoring.formatting import human_duration
from monitoring.serializers import ConnectionHealth
from tasks.models import ExecutionStatus, TaskExecution

ESTIMATE_SAMPLE = 10


def since_filter(since: datetime) -> Q:
    """Executions that started at or after `since`; one not started yet counts from when it
    was queued (the alerting script reads started_at, which every finished run has)."""
    return Q(started_at__gte=since) | Q(started_at__isnull=True, created_at__gte=since)


def active_connections_health() -> list[ConnectionHealth]:
    """Every active connection with its latest probe: two queries.

    The latest status id per connection is a correlated subquery that descends the
    (connection_id, id DESC) index, so it stays cheap with millions of history rows.
    """
    latest_id = ConnectionStatus.objects.filter(connection=OuterRef("pk")).order_by("-id").values("id")[:1]
    connections = list(
        Connection.objects.filter(is_active=True).annotate(latest_status_id=Subquery(latest_id)).order_by("id")
    )
    statuses = ConnectionStatus.objects.in_bulk([c.latest_status_id for c in connections if c.latest_status_id])
    return [ConnectionHealth(c, statuses.get(c.latest_status_id)) for c in connections]


def running_executions() -> list[TaskExecution]:
    """Running executions, newest first, each with `estimated_duration`: two queries."""
    # Bounded like every list; more running executions than this means workers are stuck,
    # and the newest are the ones to show.
    executions = list(
        TaskExecution.objects.filter(status=ExecutionStatus.RUNNING)
        .select_related("task")
        .order_by("-id")[: settings.API_LIMIT_MAX]
    )
    durations = recent_durations({e.task_id for e in executions})
    for execution in executions:
        sample = durations.get(execution.task_id)
        execution.estimated_duration = human_duration(statistics.median(sample)) if sample else None
    return executions


def recent_durations(task_ids: set[int]) -> dict[int, list[float]]:
    """Durations of the last ESTIMATE_SAMPLE completed runs of each task, in one query."""
    if not task_ids:
        return {}
    rows = (
        TaskExecution.objects.filter(
            task_id__in=task_ids, status=ExecutionStatus.COMPLETED, duration_seconds__isnull=False
        )
        .annotate(rank=Window(RowNumber(), partition_by=[F("task_id")], order_by=F("id").desc()))
        .filter(rank__lte=ESTIMATE_SAMPLE)
        .values_list("task_id", "duration_seconds")
    )
    durations: dict[int, list[float]] = defaultdict(list)
    for task_id, seconds in rows:
        durations[task_id].append(seconds)
    return durations
