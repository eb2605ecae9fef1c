"""Creating scheduled runs: each due slot of each task exactly once.

Beat calls `dispatch_due_tasks` every few seconds. Exactly-once holds even with two beat
processes (or two dispatch calls racing): a slot is taken by a conditional UPDATE of the
task's `next_run_at` from the value the dispatcher read to the next slot, and only the
dispatcher whose UPDATE matched one row creates the execution — in the same transaction,
so a crash between the two leaves neither.

Slots missed while everything was down collapse into one run: the next slot is computed
from *now*, not from the missed slot.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tasks.models import Task, Trigger
from tasks.runner import QueueUnavailable, start_execution
from tasks.schedule import next_run_after

logger = logging.getLogger(__name__)


def dispatch_due_tasks(now: datetime | None = None) -> list[int]:
    """Create and queue one execution per due task; return the new execution ids."""
    now = now or timezone.now()
    _plan_unplanned_tasks(now)
    created: list[int] = []
    due = Task.objects.filter(is_active=True, next_run_at__lte=now).exclude(schedule="").order_by("next_run_at", "id")
    for task in due[:500]:  # bounded per tick; the rest are picked up on the next tick
        execution_id = _dispatch(task, now)
        if execution_id is not None:
            created.append(execution_id)
    return created


def _plan_unplanned_tasks(now: datetime) -> None:
    """Give scheduled tasks without a next slot (new, or re-activated) their first one."""
    for task in Task.objects.filter(is_active=True, next_run_at__isnull=True).exclude(schedule="")[:500]:
        Task.objects.filter(pk=task.pk, next_run_at__isnull=True, schedule=task.schedule).update(
            next_run_at=next_run_after(task.schedule, now)
        )


def _dispatch(task: Task, now: datetime) -> int | None:
    slot = task.next_run_at
    try:
        with transaction.atomic():
            taken = Task.objects.filter(pk=task.pk, next_run_at=slot, schedule=task.schedule).update(
                next_run_at=next_run_after(task.schedule, now)
            )
            if taken != 1:
                return None  # another dispatcher took this slot, or the task was edited
            execution = start_execution(task, trigger=Trigger.SCHEDULED)
    except QueueUnavailable:
        # The row is already failed with the reason; the slot counts as run.
        logger.warning("scheduled run of task %s could not be queued", task.id)
        return None
    logger.info("task %s: scheduled run %s for slot %s", task.id, execution.id, slot.isoformat())
    return execution.id
