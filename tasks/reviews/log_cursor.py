"""The read position of a log_analysis task, held by one run at a time.

A run takes the cursor with a conditional UPDATE (held by nobody, or by a run that is no
longer running); a second run of the same task meanwhile fails clearly instead of reading the
same bytes. Positions are written only when the run completes.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q

from tasks.models import ExecutionStatus, LogCursor, Task, TaskExecution
from tasks.reviews.review import ReviewFailed


def take_cursor(task: Task, execution: TaskExecution, source: str) -> LogCursor:
    try:
        with transaction.atomic():
            LogCursor.objects.get_or_create(task=task, defaults={"source": source})
    except IntegrityError:
        pass  # created by a concurrent run a moment ago
    free = Q(held_by__isnull=True) | Q(held_by=execution) | ~Q(held_by__status=ExecutionStatus.RUNNING)
    # The subquery form keeps it one UPDATE statement on every backend.
    taken = (
        LogCursor.objects.filter(task=task)
        .filter(pk__in=LogCursor.objects.filter(free, task=task).values("pk"))
        .update(held_by=execution)
    )
    cursor = LogCursor.objects.get(task=task)
    if taken != 1:
        raise ReviewFailed(f"execution #{cursor.held_by_id} of this task is reading the log now; this run read nothing")
    if cursor.source != source:
        cursor.source, cursor.positions = source, {}  # another source: its positions mean nothing here
    return cursor


def save_positions(cursor: LogCursor, execution: TaskExecution, positions: dict) -> None:
    LogCursor.objects.filter(pk=cursor.pk, held_by=execution).update(
        positions=positions, source=cursor.source, held_by=None
    )


def release_cursor(cursor: LogCursor, execution: TaskExecution) -> None:
    LogCursor.objects.filter(pk=cursor.pk, held_by=execution).update(held_by=None)
