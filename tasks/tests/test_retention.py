"""Old finished executions are purged in batches; unfinished ones never are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import ExecutionStatus, TaskExecution
from tasks.retention import purge_execution_history
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def execution(task, status: str, age_days: float) -> TaskExecution:
    row = TaskExecutionFactory(task=task, status=status)
    TaskExecution.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=age_days))
    return row


def test_it_purges_finished_executions_older_than_the_retention_period(monkeypatch):
    monkeypatch.setattr("tasks.retention.EXECUTION_BATCH", 3)
    task = TaskFactory()
    old = [execution(task, ExecutionStatus.COMPLETED, 40) for _ in range(4)]
    old += [execution(task, ExecutionStatus.FAILED, 35) for _ in range(3)]
    stuck = execution(task, ExecutionStatus.RUNNING, 40)
    queued = execution(task, ExecutionStatus.PENDING, 40)
    recent = execution(task, ExecutionStatus.COMPLETED, 2)

    assert purge_execution_history(days=30) == len(old)

    assert set(TaskExecution.objects.values_list("id", flat=True)) == {stuck.id, queued.id, recent.id}
