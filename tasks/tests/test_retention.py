"""Old finished executions are purged in batches; unfinished ones never are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.models import CheckState, ExecutionStatus, Finding, LogCursor, Sighting, TaskExecution
from tasks.retention import CASCADE, SET_NULL, purge_execution_history
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory

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


def test_what_refers_to_a_purged_run_goes_with_it_or_forgets_it(monkeypatch):
    monkeypatch.setattr("tasks.retention.EXECUTION_BATCH", 2)
    task = TaskFactory()
    old, kept = execution(task, ExecutionStatus.COMPLETED, 40), execution(task, ExecutionStatus.COMPLETED, 2)
    first_seen_by_old = FindingFactory(execution=old)  # its finding, with its sighting
    Sighting.objects.create(execution=kept, finding=first_seen_by_old, severity="warning", message="again")
    still_current = FindingFactory(execution=kept)
    Sighting.objects.create(execution=old, finding=still_current, severity="warning", message="earlier")
    cursor = LogCursor.objects.create(task=task, source="file", held_by=old)
    state = CheckState.objects.create(task=task, key="statements", data={}, execution=old)
    kept_state = CheckState.objects.create(task=task, key="other", data={}, execution=kept)

    assert purge_execution_history(days=30) == 1

    assert list(TaskExecution.objects.values_list("id", flat=True)) == [kept.id]
    # Django's CASCADE, in order: the old run's findings with all their sightings, and
    # what the old run saw of findings that stay.
    assert list(Finding.objects.values_list("id", flat=True)) == [still_current.id]
    assert set(Sighting.objects.values_list("execution_id", "finding_id")) == {(kept.id, still_current.id)}
    # SET_NULL: the cursor and the check state stay, without the run.
    cursor.refresh_from_db(), state.refresh_from_db(), kept_state.refresh_from_db()
    assert (cursor.held_by_id, state.execution_id, kept_state.execution_id) == (None, None, kept.id)


def test_the_purge_knows_every_foreign_key_to_an_execution():
    """The purge deletes in plain SQL, past Django's collector: a new reference to
    task_executions must be added to it, or old runs' rows would be left dangling."""
    references = {
        (model, field.column, field.remote_field.on_delete)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is TaskExecution
    }
    handled = {(m, c, models.CASCADE) for m, c in CASCADE} | {(m, c, models.SET_NULL) for m, c in SET_NULL}
    assert references == handled
    # and what cascades from a finding is its sightings, deleted with it
    to_findings = {
        (model, field.column)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is Finding
    }
    assert to_findings == {(Sighting, "finding_id")}


def test_a_batch_is_a_few_plain_statements_however_many_children(monkeypatch):
    monkeypatch.setattr("tasks.retention.EXECUTION_BATCH", 50)
    task = TaskFactory()
    for _ in range(20):
        FindingFactory(execution=execution(task, ExecutionStatus.FAILED, 40))

    with CaptureQueriesContext(connection) as captured:
        assert purge_execution_history(days=30) == 20

    statements = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # read the batch, lock it, 2 UPDATEs (SET_NULL), 4 DELETEs, then the read that finds the end
    assert len(statements) <= 9, statements
