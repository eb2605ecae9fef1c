"""Purging old history in small batches: probe results here, finished executions in tasks/.

One loop serves both tables: walk the primary key from the oldest row (ids grow with time),
each batch its own short DELETE, so no long lock is held and the primary key index is the
only one needed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, Q
from django.utils import timezone

from connections.health import latest_status_column
from connections.models import Connection, ConnectionStatus

STATUS_BATCH = 5000


def retention_cutoff(days: int | None = None) -> datetime:
    """Rows older than this are purged: `days`, else RETENTION_DAYS, ago."""
    return timezone.now() - timedelta(days=days if days is not None else settings.RETENTION_DAYS)


def purge_in_batches(
    model: type[Model],
    time_field: str,
    cutoff: datetime,
    *,
    batch: int,
    max_batches: int,
    keep: Callable[[int], bool] = lambda row_id: False,
    only: Q | None = None,
    delete: Callable[[list[int]], int] | None = None,
) -> int:
    """Delete rows of `model` whose `time_field` is before `cutoff`, oldest first.

    `only` narrows what may go (checked again in the DELETE itself, so a row that changed
    since it was read stays); `keep(id)` spares single rows. Stops at the first batch that
    reaches the retained part of the table, or after `max_batches`. Returns how many went.

    `delete(ids)` replaces the default (Django's delete of the eligible rows among `ids`)
    for a table whose children must go first in plain statements (tasks/retention.py).
    """
    deleted = 0
    after_id = 0
    eligible = model.objects.filter(only) if only is not None else model.objects.all()
    for _ in range(max_batches):
        rows = list(model.objects.filter(id__gt=after_id).order_by("id").values_list("id", time_field)[:batch])
        if not rows:
            break
        old = [row[0] for row in rows if row[1] < cutoff and not keep(row[0])]
        if old and delete is not None:
            deleted += delete(old)
        elif old:
            deleted += eligible.filter(id__in=old).delete()[0]
        if rows[-1][1] >= cutoff:
            break  # reached the retained part of the history
        after_id = rows[-1][0]
    return deleted


def purge_status_history(days: int | None = None, max_batches: int = 200) -> int:
    """Delete probe results older than `days` (RETENTION_DAYS); return how many went.

    Each connection's newest row is kept whatever its age: it is its current status.
    """
    newest = Connection.objects.annotate(newest=latest_status_column()).exclude(newest=None)
    current = set(newest.values_list("newest", flat=True))
    return purge_in_batches(
        ConnectionStatus,
        "checked_at",
        retention_cutoff(days),
        batch=STATUS_BATCH,
        max_batches=max_batches,
        keep=current.__contains__,
    )
