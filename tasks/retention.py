"""Purging old finished executions in small batches."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from tasks.models import ExecutionStatus, TaskExecution

BATCH = 2000


def purge_execution_history(days: int | None = None, max_batches: int = 200) -> int:
    """Delete finished executions created more than `days` (RETENTION_DAYS) ago.

    Pending and running executions are never purged. Batches walk the primary key from the
    oldest row (ids grow with time), each a short DELETE: no long table lock.
    """
    cutoff = timezone.now() - timedelta(days=days if days is not None else settings.RETENTION_DAYS)
    finished = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)
    deleted = 0
    after_id = 0
    for _ in range(max_batches):
        batch = list(
            TaskExecution.objects.filter(id__gt=after_id)
            .order_by("id")
            .values_list("id", "created_at", "status")[:BATCH]
        )
        if not batch:
            break
        old = [row_id for row_id, created_at, status in batch if created_at < cutoff and status in finished]
        if old:
            deleted += TaskExecution.objects.filter(id__in=old, status__in=finished).delete()[0]
        if batch[-1][1] >= cutoff:
            break
        after_id = batch[-1][0]
    return deleted
