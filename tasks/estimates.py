"""How long a task's runs usually take, and what is running now with that estimate.

The estimate is the median duration of the task's last ESTIMATE_SAMPLE completed runs (of
an even count, the mean of the middle two); the API and the console both show it.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef, QuerySet

from connections.durations import human_duration
from tasks.models import ExecutionStatus, Task, TaskExecution

ESTIMATE_SAMPLE = 10


def recent_durations(task_ids: set[int]) -> dict[int, list[float]]:
    """Durations of the last ESTIMATE_SAMPLE completed runs of each task, in one query.

    Each task reads its own newest completed runs down a partial (task, -id) index and stops
    at the ESTIMATE_SAMPLE-th, so the cost is tasks x ESTIMATE_SAMPLE, however long the
    history and however many failed runs lie in between. (A window function ranking each task's runs read all of them: PostgreSQL
    does not stop a partitioned window early.)
    """
    if not task_ids:
        return {}
    if connection.vendor != "postgresql":
        # SQLite (development only) has no arrays: one small query per task.
        return {task_id: durations for task_id in task_ids if (durations := list(_last_durations(task_id)))}
    return {task_id: durations for task_id, durations in durations_query(task_ids) if durations}


def durations_query(task_ids: set[int]) -> QuerySet:
    """(task id, [durations, newest first]) of each task: PostgreSQL only (bench/api_scale.py
    reads its plan)."""
    return (
        Task.objects.filter(id__in=task_ids)
        .annotate(durations=ArraySubquery(_last_durations(OuterRef("id"))))
        .values_list("id", "durations")
    )


def _last_durations(task_id):
    """The task's newest ESTIMATE_SAMPLE completed durations (newest first)."""
    return (
        TaskExecution.objects.filter(task_id=task_id, status=ExecutionStatus.COMPLETED, duration_seconds__isnull=False)
        .order_by("-id")
        .values_list("duration_seconds", flat=True)[:ESTIMATE_SAMPLE]
    )


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


class RunningRun(NamedTuple):
    """A running execution as the API lists it, with its task's usual duration."""

    execution_id: int
    started_at: datetime | None
    task_id: int
    name: str
    task_type: str
    connection_id: int
    estimated_duration: str | None


def running_runs() -> list[RunningRun]:
    """What `running_executions` answers, as plain rows: GET /tasks/running, which monitoring
    scripts poll. On PostgreSQL one statement written out, because composing the two ORM
    queries cost several times running them; each running execution reads its task's newest
    completed durations down the same partial (task, -id) index as `recent_durations`."""
    if connection.vendor != "postgresql":
        return [
            RunningRun(
                e.id, e.started_at, e.task.id, e.task.name, e.task.task_type, e.task.connection_id, e.estimated_duration
            )
            for e in running_executions()
        ]
    executions, tasks = TaskExecution._meta.db_table, Task._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT e.id, e.started_at, t.id, t.name, t.task_type, t.connection_id,
                       ARRAY(SELECT d.duration_seconds FROM {executions} d
                             WHERE d.task_id = e.task_id AND d.status = %(completed)s
                               AND d.duration_seconds IS NOT NULL
                             ORDER BY d.id DESC LIMIT %(sample)s)
                FROM {executions} e JOIN {tasks} t ON t.id = e.task_id
                WHERE e.status = %(running)s
                ORDER BY e.id DESC LIMIT %(limit)s""",
            {
                "completed": ExecutionStatus.COMPLETED.value,
                "running": ExecutionStatus.RUNNING.value,
                "sample": ESTIMATE_SAMPLE,
                "limit": settings.API_LIMIT_MAX,
            },
        )
        rows = cursor.fetchall()
    return [RunningRun(*row[:6], human_duration(statistics.median(row[6])) if row[6] else None) for row in rows]
