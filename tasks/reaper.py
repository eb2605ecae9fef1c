"""Ending runs that nothing will end: lost workers and lost messages.

- running, heartbeat older than EXECUTION_LOST_AFTER_SECONDS -> failed: "timed out after N s"
  when it had outlived its time limit (the worker killed it), else "worker lost".
- pending for longer than PENDING_LOST_AFTER_SECONDS, and its message neither queued nor held
  by a worker -> re-published once; lost again -> failed "never picked up", started_at set.

Every change is a conditional UPDATE on the state this reaper read, so a worker finishing the
run at the same moment wins, and two reapers never both act.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tasks import broker
from tasks.models import ExecutionStatus, TaskExecution
from tasks.runner import QueueUnavailable, fail_execution, publish_execution

logger = logging.getLogger(__name__)

BATCH = 200


def reap_lost_runs() -> int:
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.EXECUTION_LOST_AFTER_SECONDS)
    stale = (
        TaskExecution.objects.filter(status=ExecutionStatus.RUNNING)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        .select_related("task")
        .order_by("id")[:BATCH]
    )
    reaped = 0
    for execution in stale:
        ran_for = (now - execution.started_at).total_seconds() if execution.started_at else 0
        if ran_for > execution.task.timeout_seconds:
            reason = f"timed out after {execution.task.timeout_seconds} s"
        else:
            silent = round((now - (execution.heartbeat_at or execution.started_at)).total_seconds())
            reason = f"worker lost: no heartbeat from {execution.worker or 'its worker'} for {silent} s"
        if fail_execution(execution.id, reason, only_if_heartbeat=execution.heartbeat_at):
            logger.warning("execution %s: %s", execution.id, reason)
            reaped += 1
    return reaped


def reap_lost_messages() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.PENDING_LOST_AFTER_SECONDS)
    candidates = list(
        TaskExecution.objects.filter(status=ExecutionStatus.PENDING, created_at__lt=cutoff)
        .select_related("task")
        .order_by("id")[:BATCH]
    )
    if not candidates:
        return 0
    waiting = _waiting_message_ids()
    if waiting is None:
        return 0  # the broker is down: nothing can be re-published, and nothing is known lost
    handled = 0
    for execution in candidates:
        if execution.celery_task_id and execution.celery_task_id in waiting:
            continue  # queued behind a backlog, or held by a busy worker: not lost
        if execution.publish_count < 2:
            try:
                publish_execution(execution)
            except QueueUnavailable:
                continue  # already failed by publish_execution, with the reason
            logger.warning("execution %s: message lost, re-published", execution.id)
        else:
            fail_execution(execution.id, "never picked up: its queue message was lost twice")
        handled += 1
    return handled


def _waiting_message_ids() -> set[str] | None:
    try:
        return broker.waiting_message_ids()
    except Exception as exc:  # redis/kombu connection errors of many types
        logger.warning("reaper cannot read the broker: %s", type(exc).__name__)
        return None
