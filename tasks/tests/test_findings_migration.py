"""Upgrading keeps every finding: per-run rows of one problem merge into one tracked finding
with a sighting per run; it stays open only if the task's newest run saw it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("tasks", "0003_findings_and_log_cursor"), ("connections", "0001_initial")]
AFTER = [("tasks", "0006_findings_constraints")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_per_run_findings_become_tracked_findings():
    old = migrate(BEFORE)
    conn = old.get_model("connections", "Connection").objects.create(name="db", host="h", database="d")
    task = old.get_model("tasks", "Task").objects.create(name="logs", task_type="log_analysis", connection=conn)
    Execution = old.get_model("tasks", "TaskExecution")
    first, second = (Execution.objects.create(task=task, status="completed") for _ in range(2))
    OldFinding = old.get_model("tasks", "Finding")

    def old_finding(run, category, count, **details):
        return OldFinding.objects.create(
            execution=run,
            connection=conn,
            severity="warning",
            category=category,
            message="m",
            count=count,
            details=details,
        )

    old_finding(first, "error", 5, sqlstate="22012")
    old_finding(first, "deadlock", 2)
    old_finding(second, "error", 1, sqlstate="22012")
    old_finding(second, "error", 4, sqlstate="23505")

    new = migrate(AFTER)
    Finding = new.get_model("tasks", "Finding")
    Sighting = new.get_model("tasks", "Sighting")
    tracked = {(f.category, f.subject): f for f in Finding.objects.all()}
    assert set(tracked) == {("error", "22012"), ("error", "23505"), ("deadlock", "")}
    assert (tracked["error", "22012"].state, tracked["error", "22012"].count) == ("open", 1)
    assert tracked["error", "23505"].state == "open"
    assert tracked["deadlock", ""].state == "resolved"
    assert tracked["deadlock", ""].task_id == task.id
    assert Sighting.objects.count() == 4
    counts = sorted(Sighting.objects.filter(finding=tracked["error", "22012"]).values_list("execution_id", "count"))
    assert counts == [(first.id, 5), (second.id, 1)]
    migrate(new_leaf())


def new_leaf():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
