"""How long a task's runs usually take, and what is running now with that estimate.

The estimate is the median duration of the task's last ESTIMATE_SAMPLE completed runs (of
an even count, the mean of the middle two); the API and the console both show it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from connections.durations import human_duration
from tasks.models import ExecutionStatus, TaskExecution

ESTIMATE_SAMPLE = 10


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


def usual_duration(task_id: int) -> str | None:
    """The estimate for one task, in words ("5 minutes"), or None before its first completed run."""
    durations = recent_durations({task_id}).get(task_id)
    return human_duration(statistics.median(durations)) if durations else None


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
