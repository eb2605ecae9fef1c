"""The number of SQL queries of each list endpoint does not grow with the number of rows.

Anonymous reads (REVIEWER_PUBLIC_READ) keep authentication out of the count, so the
numbers asserted are the endpoints' own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API
from tasks.models import ExecutionStatus, TaskExecution
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory


def fleet(rows: int) -> None:
    """`rows` connections (with probe history), tasks, finished and running executions, and
    findings (each with its sighting) of one run."""
    for n in range(rows):
        task = TaskFactory()
        ConnectionStatus.objects.create(connection=task.connection, is_healthy=False, checked_at=datetime.now(UTC))
        ConnectionStatus.objects.create(connection=task.connection, is_healthy=True, checked_at=datetime.now(UTC))
        TaskExecutionFactory(task=task, status=ExecutionStatus.COMPLETED, duration_seconds=10 + n)
        FindingFactory(execution=TaskExecution.objects.order_by("id").first())
        TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, started_at=datetime.now(UTC))
    ConnectionFactory()  # one never probed


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(db_connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


LIST_ENDPOINTS = {
    "tasks/executions": 1,
    "tasks/executions?limit=1000": 1,
    "tasks/executions?task_id={task}": 1,
    "tasks/executions?status=completed&since=2000-01-01T00:00:00Z": 1,
    "tasks/{task}/executions": 2,  # the task (for its 404), then its executions
    "tasks/running": 1,  # running executions with their task and recent durations
    "connections/status": 2,  # connections with their latest status id, then those statuses
    "findings?limit=1000": 1,
    "tasks/executions/{first_run}/findings": 2,  # the run (for its 404), then its sightings
}


@pytest.mark.parametrize(("path", "expected"), LIST_ENDPOINTS.items())
def test_a_list_endpoint_makes_the_same_few_queries_for_2_or_20_rows(anonymous, public_read, path, expected):
    fleet(2)
    task = TaskFactory()
    TaskExecutionFactory.create_batch(2, task=task)
    first_run = TaskExecution.objects.order_by("id").first().id
    few = queries_of(anonymous, f"{API}/{path.format(task=task.id, first_run=first_run)}")

    fleet(18)
    TaskExecutionFactory.create_batch(18, task=task)
    many = queries_of(anonymous, f"{API}/{path.format(task=task.id, first_run=first_run)}")

    assert few == many == expected


def test_a_connection_status_is_two_queries_after_a_new_result_and_none_until_the_next(anonymous, public_read):
    connection = ConnectionFactory()
    anonymous.get(f"{API}/connections/{connection.id}/status")  # probes once

    # The connection with its latest status id, then that status; then from the cache.
    assert queries_of(anonymous, f"{API}/connections/{connection.id}/status") == 2
    assert queries_of(anonymous, f"{API}/connections/{connection.id}/status") == 0


def test_the_fleet_status_needs_no_query_until_something_changes(anonymous, public_read):
    fleet(3)
    assert queries_of(anonymous, f"{API}/connections/status") == 2

    assert queries_of(anonymous, f"{API}/connections/status") == 0
