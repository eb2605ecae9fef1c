"""A real celery worker process consumes runs from Redis and records how they ended."""

from __future__ import annotations

import pytest

from tasks.models import ExecutionStatus, TaskExecution
from tasks.runner import start_execution
from tasks.tasks import run_execution
from tasks.tests.factories import TaskFactory
from testing.wait import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def finished(execution_id: int) -> TaskExecution | None:
    execution = TaskExecution.objects.get(pk=execution_id)
    return execution if execution.is_finished else None


def test_a_manual_health_check_completes_through_the_worker(worker):
    task = TaskFactory()

    execution = start_execution(task)

    done = wait_for(lambda: finished(execution.id), timeout=60)
    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    assert done.result["is_healthy"] is True
    assert done.result["server_version"].split(".")[0].isdigit()
    assert done.started_at <= done.completed_at
    assert done.duration_seconds >= 0
    assert done.worker
    assert done.celery_task_id
    assert task.connection.statuses.count() == 1


def test_a_health_check_of_a_dead_database_fails_with_the_probe_error(worker):
    task = TaskFactory(connection__port=1)

    execution = start_execution(task)

    done = wait_for(lambda: finished(execution.id), timeout=60)
    assert done.status == ExecutionStatus.FAILED
    assert "Connection refused" in done.error_message
    assert done.result is None
    assert done.started_at is not None


def test_a_duplicated_message_runs_the_execution_once(worker):
    task = TaskFactory()
    execution = start_execution(task)
    run_execution.apply_async(args=[execution.id])  # the same run delivered a second time
    run_execution.apply_async(args=[execution.id])

    wait_for(lambda: finished(execution.id), timeout=60)
    wait_for(lambda: worker.log().count("not pending; message ignored") >= 2, timeout=30)
    assert task.connection.statuses.count() == 1
