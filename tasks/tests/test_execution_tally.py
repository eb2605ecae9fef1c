"""The tally of finished runs behind `reviewer_executions_total`: seeded from the history on
upgrade, then counted once per run as runs finish."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tasks.models import ExecutionTally
from tasks.runner import fail_execution, finish_execution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def tally() -> dict[tuple[str, str], int]:
    return {(row.task_type, row.status): row.count for row in ExecutionTally.objects.all()}


@pytest.mark.django_db(transaction=True)
def test_upgrading_seeds_the_tally_from_the_runs_already_recorded():
    old = migrate([("tasks", "0006_findings_constraints")])
    conn = old.get_model("connections", "Connection").objects.create(name="db", host="h", database="d")
    Task = old.get_model("tasks", "Task")
    checks = Task.objects.create(name="checks", task_type="health_check", connection=conn)
    logs = Task.objects.create(name="logs", task_type="log_analysis", connection=conn)
    Execution = old.get_model("tasks", "TaskExecution")
    for task, status, n in [(checks, "completed", 3), (checks, "failed", 2), (logs, "failed", 1), (logs, "running", 1)]:
        Execution.objects.bulk_create(Execution(task=task, status=status) for _ in range(n))

    try:
        migrate([("tasks", "0008_seed_execution_tally")])
        assert tally() == {
            ("health_check", "completed"): 3,
            ("health_check", "failed"): 2,
            ("log_analysis", "failed"): 1,
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db
def test_each_run_is_counted_once_when_it_finishes():
    task = TaskFactory(task_type="database_review")
    runs = TaskExecutionFactory.create_batch(3, task=task)

    assert finish_execution(runs[0].id, {})
    assert fail_execution(runs[1].id, "boom")
    assert fail_execution(runs[2].id, "worker lost")
    # A redelivered message or a late reaper finds the runs finished: nothing more is counted.
    assert not fail_execution(runs[0].id, "late")
    assert not finish_execution(runs[2].id, {})

    assert tally() == {("database_review", "completed"): 1, ("database_review", "failed"): 2}
