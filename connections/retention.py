"""Purging old probe history in small batches, never a connection's latest status."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from connections.models import Connection, ConnectionStatus

BATCH = 5000


def purge_status_history(days: int | None = None, max_batches: int = 200) -> int:
    """Delete probe results older than `days` (RETENTION_DAYS); return how many went.

    Walks the table from its oldest id in batches of BATCH rows, each its own short DELETE,
    so no long lock is held and the primary key index is the only one needed (ids grow with
    time). Each connection's newest row is kept whatever its age: it is its current status.
    """
    cutoff = timezone.now() - timedelta(days=days if days is not None else settings.RETENTION_DAYS)
    newest = Subquery(ConnectionStatus.objects.filter(connection=OuterRef("pk")).order_by("-id").values("id")[:1])
    keep = set(Connection.objects.annotate(newest=newest).exclude(newest=None).values_list("newest", flat=True))
    deleted = 0
    after_id = 0
    for _ in range(max_batches):
        batch = list(
            ConnectionStatus.objects.filter(id__gt=after_id).order_by("id").values_list("id", "checked_at")[:BATCH]
        )
        if not batch:
            break
        old = [row_id for row_id, checked_at in batch if checked_at < cutoff and row_id not in keep]
        if old:
            deleted += ConnectionStatus.objects.filter(id__in=old).delete()[0]
        if batch[-1][1] >= cutoff:
            break  # reached the retained part of the history
        after_id = batch[-1][0]
    return deleted
