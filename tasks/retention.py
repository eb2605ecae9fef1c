"""Purging old finished executions in small batches (the loop: connections/retention.py)."""

from __future__ import annotations

from django.db.models import Q

from connections.retention import purge_in_batches, retention_cutoff
from tasks.models import ExecutionStatus, TaskExecution

EXECUTION_BATCH = 2000


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
        only=Q(status__in=[ExecutionStatus.COMPLETED, ExecutionStatus.FAILED]),
    )
