"""Purging old finished executions in small batches (the loop: connections/retention.py).

Each batch is a few plain statements in one short transaction, children first: Django's
delete collector re-selected full rows and issued about 20 DELETEs per batch (21 s for
250,000 runs). The database's foreign keys have no ON DELETE actions (Django emulates
CASCADE and SET_NULL in Python), so every reference to task_executions is handled here:

- task_findings.execution_id (CASCADE): the findings a run first reported go with it, and
  with them their sightings (task_finding_sightings.finding_id, CASCADE);
- task_finding_sightings.execution_id (CASCADE): what the run saw;
- tasks_logcursor.held_by_id and tasks_checkstate.execution_id (SET_NULL).

tasks/tests/test_retention.py checks that this list matches the models' foreign keys.
"""

from __future__ import annotations

from django.db import connection, transaction

from connections.retention import purge_in_batches, retention_cutoff
from tasks.models import CheckState, ExecutionStatus, Finding, LogCursor, Sighting, TaskExecution

EXECUTION_BATCH = 2000
FINISHED = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)

# (model, column): what refers to an execution, and what happens to it when the run goes.
CASCADE = [(Sighting, "execution_id"), (Finding, "execution_id")]
SET_NULL = [(LogCursor, "held_by_id"), (CheckState, "execution_id")]


def purge_execution_history(days: int | None = None, max_batches: int = 200) -> int:
    """Delete finished executions created more than `days` (RETENTION_DAYS) ago.

    Pending and running executions are never purged, however old.
    """
    return purge_in_batches(
        TaskExecution,
        "created_at",
        retention_cutoff(days),
        batch=EXECUTION_BATCH,
        max_batches=max_batches,
        delete=delete_finished_executions,
    )


def delete_finished_executions(ids: list[int]) -> int:
    """Delete the finished executions among `ids` and everything that goes with them."""
    table, findings, sightings = (m._meta.db_table for m in (TaskExecution, Finding, Sighting))
    with transaction.atomic(), connection.cursor() as cursor:
        # Lock the rows first: a run the reaper fails meanwhile is finished by then or
        # stays, and no statement below sees a different set.
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""  # SQLite locks the file
        among, params = _among(ids)
        cursor.execute(
            f"SELECT id FROM {table} WHERE id {among} AND status IN (%s, %s) ORDER BY id{lock}", [*params, *FINISHED]
        )
        doomed = [row[0] for row in cursor.fetchall()]
        if not doomed:
            return 0
        among, params = _among(doomed)
        for model, column in SET_NULL:
            cursor.execute(f"UPDATE {model._meta.db_table} SET {column} = NULL WHERE {column} {among}", params)
        # Two statements, not one with OR: each reads its own index.
        cursor.execute(f"DELETE FROM {sightings} WHERE execution_id {among}", params)
        cursor.execute(
            f"DELETE FROM {sightings} WHERE finding_id IN (SELECT id FROM {findings} WHERE execution_id {among})",
            params,
        )
        cursor.execute(f"DELETE FROM {findings} WHERE execution_id {among}", params)
        cursor.execute(f"DELETE FROM {table} WHERE id {among}", params)
        return cursor.rowcount


def _among(ids: list[int]) -> tuple[str, list]:
    """`column <this>` matches `ids`: one array parameter on PostgreSQL (parsed and planned
    once, whatever the batch size), a list of placeholders elsewhere."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [ids]
    return f"IN ({', '.join(['%s'] * len(ids))})", list(ids)
