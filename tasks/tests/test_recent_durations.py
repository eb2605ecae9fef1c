"""The estimate's sample: each task's last ESTIMATE_SAMPLE completed durations, one query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.estimates import ESTIMATE_SAMPLE, durations_query, recent_durations, running_executions, running_runs
from tasks.models import ExecutionStatus, TaskExecution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def runs(task, status, *durations):
    for seconds in durations:
        TaskExecutionFactory(task=task, status=status, duration_seconds=seconds)


def test_each_task_gets_its_newest_completed_durations_only():
    busy, quiet, never = TaskFactory(), TaskFactory(), TaskFactory()
    runs(busy, ExecutionStatus.COMPLETED, *range(1, 16))  # 15 runs: the last 10 count
    runs(busy, ExecutionStatus.FAILED, 999, 998)
    runs(busy, ExecutionStatus.COMPLETED, None)  # no duration: not a sample
    runs(quiet, ExecutionStatus.COMPLETED, 7, 8)
    runs(never, ExecutionStatus.FAILED, 5)

    durations = recent_durations({busy.id, quiet.id, never.id})

    assert sorted(durations[busy.id]) == list(range(6, 16))
    assert sorted(durations[quiet.id]) == [7, 8]
    assert never.id not in durations


def test_it_is_one_query_for_any_number_of_tasks_on_postgresql():
    tasks = [TaskFactory() for _ in range(12)]
    for task in tasks:
        runs(task, ExecutionStatus.COMPLETED, *range(ESTIMATE_SAMPLE + 2))

    with CaptureQueriesContext(connection) as captured:
        durations = recent_durations({task.id for task in tasks})

    # SQLite (development only) has no arrays: one query per task there.
    assert len(captured.captured_queries) == (1 if connection.vendor == "postgresql" else len(tasks))
    assert all(len(durations[task.id]) == ESTIMATE_SAMPLE for task in tasks)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL plan (the test suite's database)")
def test_the_sample_is_read_from_the_completed_runs_index_past_any_number_of_failures():
    task = TaskFactory()
    runs(task, ExecutionStatus.COMPLETED, *range(ESTIMATE_SAMPLE))
    TaskExecution.objects.bulk_create(TaskExecution(task=task, status=ExecutionStatus.FAILED) for _ in range(20_000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE task_executions")
    sql, params = durations_query({task.id}).query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "taskexec_task_completed_idx" in plan, plan
    assert sorted(recent_durations({task.id})[task.id]) == list(range(ESTIMATE_SAMPLE))


def test_the_running_rows_of_the_api_say_what_running_executions_says():
    busy, quiet, never = TaskFactory(), TaskFactory(), TaskFactory()
    runs(busy, ExecutionStatus.COMPLETED, *range(1, 16))
    runs(busy, ExecutionStatus.FAILED, 999)
    runs(quiet, ExecutionStatus.COMPLETED, 40, 50, 3600)
    for task in (busy, busy, quiet, never):
        TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, started_at=timezone.now())
    TaskExecutionFactory(task=never, status=ExecutionStatus.RUNNING, started_at=None)

    expected = [
        (e.id, e.started_at, e.task.id, e.task.name, e.task.task_type, e.task.connection_id, e.estimated_duration)
        for e in running_executions()
    ]

    with CaptureQueriesContext(connection) as queries:
        rows = running_runs()
    assert [tuple(row) for row in rows] == expected
    assert [row.estimated_duration for row in rows] == [None, None, "50 seconds", "11 seconds", "11 seconds"]
    assert len(queries.captured_queries) == 1
