"""`since` on /tasks/executions: the same rows as before, read through an index.

A run counts from when it started, or from when it was queued while no worker has started
it. The filter is the indexed expression coalesce(started_at, created_at), so with a long
history PostgreSQL reads only the recent runs instead of every failed run ever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from monitoring.api.rows import execution_statement
from monitoring.tests.conftest import API
from tasks.models import ExecutionStatus, TaskExecution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

URL = f"{API}/tasks/executions"
SINCE = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)


def run(task, status, created_at, started_at=None):
    row = TaskExecutionFactory(task=task, status=status, started_at=started_at)
    TaskExecution.objects.filter(pk=row.pk).update(created_at=created_at)
    return row


def test_a_run_queued_before_since_but_started_after_it_counts_and_the_reverse_does_not(reader):
    task = TaskFactory()
    late_start = run(task, ExecutionStatus.FAILED, SINCE - timedelta(hours=1), SINCE + timedelta(minutes=5))
    run(task, ExecutionStatus.FAILED, SINCE - timedelta(hours=2), SINCE - timedelta(hours=1))  # all before
    still_queued_old = run(task, ExecutionStatus.PENDING, SINCE - timedelta(hours=1))  # not started, queued before
    still_queued_new = run(task, ExecutionStatus.PENDING, SINCE + timedelta(hours=1))
    exactly = run(task, ExecutionStatus.COMPLETED, SINCE - timedelta(seconds=1), SINCE)  # >= is inclusive

    ids = [item["id"] for item in reader.get(URL, {"since": "2024-01-01T02:00:00Z"}).json()]

    assert ids == [exactly.id, still_queued_new.id, late_start.id]
    assert still_queued_old.id not in ids


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL plan (the test suite's database)")
@pytest.mark.parametrize(
    ("column", "index"), [("status", "taskexec_status_moment_idx"), ("task_id", "taskexec_task_moment_idx")]
)
def test_since_with_status_or_task_reads_the_moment_index_not_the_history(column, index):
    task = TaskFactory()
    old = timezone_now() - timedelta(days=300)
    TaskExecution.objects.bulk_create(
        TaskExecution(task=task, status=ExecutionStatus.FAILED, started_at=old) for _ in range(20_000)
    )
    TaskExecution.objects.update(created_at=old)
    TaskExecutionFactory(task=task, status=ExecutionStatus.FAILED, started_at=timezone_now())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE task_executions")
    value = ExecutionStatus.FAILED if column == "status" else task.id

    sql, params = execution_statement(**{column: value}, since=timezone_now() - timedelta(hours=1), limit=50)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert index in plan, plan


def timezone_now() -> datetime:
    return datetime.now(UTC)
