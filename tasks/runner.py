"""The execution lifecycle: queue a run, claim it exactly once, run its review, finish it."""

from __future__ import annotations

import logging
import socket

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from tasks.models import ExecutionStatus, ExecutionTally, Task, TaskExecution, Trigger
from tasks.reviews.review import ReviewFailed
from tasks.signals import execution_failed, send_robust

logger = logging.getLogger(__name__)

# The Celery task that runs an execution (tasks/tasks.py), sent by name: the message is all
# the runner needs to know of it.
RUN_EXECUTION = "tasks.run_execution"

# After the soft limit (the task's timeout) the review gets this long to clean up before the
# worker kills its process.
HARD_LIMIT_GRACE_SECONDS = 30


class QueueUnavailable(Exception):
    """The broker did not take the run's message; the execution has been marked failed."""


def start_execution(task: Task, trigger: str = Trigger.MANUAL, user=None) -> TaskExecution:
    """Create a pending execution and queue it once the row is committed.

    Outside a transaction the message is sent before this returns, so a broker failure
    surfaces here as QueueUnavailable (and the row is failed, never left pending).
    """
    execution = TaskExecution.objects.create(
        task=task, trigger=trigger, triggered_by=user if user and user.is_authenticated else None
    )
    transaction.on_commit(lambda: publish_execution(execution))
    return execution


def publish_execution(execution: TaskExecution) -> None:
    """Put the execution's id on the reviews queue, with the task's time limits."""
    timeout = execution.task.timeout_seconds
    try:
        message = current_app.send_task(
            RUN_EXECUTION,
            args=[execution.id],
            # A pooled connection may be dead after a Redis restart: retry on a fresh one, but
            # only briefly, so a real outage is reported in about a second, not hung on.
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
            soft_time_limit=timeout,
            time_limit=timeout + HARD_LIMIT_GRACE_SECONDS,
        )
    except Exception as exc:  # kombu/redis raise many types for "broker unreachable"
        reason = f"could not queue the run: broker unreachable ({type(exc).__name__})"
        logger.error("execution %s: %s", execution.id, reason)
        fail_execution(execution.id, reason)
        raise QueueUnavailable(reason) from exc
    TaskExecution.objects.filter(pk=execution.id).update(
        celery_task_id=message.id, publish_count=F("publish_count") + 1
    )


def claim_execution(execution_id: int) -> bool:
    """pending -> running, for exactly one caller: a redelivered message claims nothing."""
    now = timezone.now()
    claimed = TaskExecution.objects.filter(pk=execution_id, status=ExecutionStatus.PENDING).update(
        status=ExecutionStatus.RUNNING, started_at=now, heartbeat_at=now, worker=socket.gethostname()[:255]
    )
    return claimed == 1


def finish_execution(execution_id: int, result: dict) -> bool:
    return _finish(execution_id, ExecutionStatus.COMPLETED, result=result)


_ANY = object()


def fail_execution(execution_id: int, error_message: str, only_if_heartbeat=_ANY) -> bool:
    """Fail an unfinished execution; with `only_if_heartbeat`, only if its heartbeat has not
    moved since the caller read it (the reaper must not fail a run that just showed life)."""
    return _finish(execution_id, ExecutionStatus.FAILED, error_message=error_message, heartbeat=only_if_heartbeat)


def _finish(
    execution_id: int, status: str, result: dict | None = None, error_message: str | None = None, heartbeat=_ANY
) -> bool:
    """Record the outcome of an unfinished execution; a finished one is never overwritten."""
    now = timezone.now()
    unfinished = TaskExecution.objects.filter(
        pk=execution_id, status__in=[ExecutionStatus.PENDING, ExecutionStatus.RUNNING]
    )
    if heartbeat is not _ANY:
        unfinished = unfinished.filter(heartbeat_at=heartbeat) if heartbeat else unfinished.filter(heartbeat_at=None)
    with transaction.atomic():
        # Lock the run's row only; its task is read for the tally, not changed.
        execution = unfinished.select_related("task").select_for_update(of=("self",)).first()
        if execution is None:
            return False
        # A run that failed before any worker started it carries the time it failed, so
        # every finished row has a started_at.
        started_at = execution.started_at or now
        execution.status = status
        execution.started_at = started_at
        execution.completed_at = now
        execution.duration_seconds = round((now - started_at).total_seconds(), 3)
        execution.result = result
        execution.error_message = error_message
        execution.save(
            update_fields=["status", "started_at", "completed_at", "duration_seconds", "result", "error_message"]
        )
        count_finished(execution.task.task_type, status)
        if status == ExecutionStatus.FAILED:
            # Every path to `failed` ends here (review, time limit, reaper, broker outage).
            transaction.on_commit(lambda: send_robust(execution_failed, TaskExecution, execution=execution))
    return True


def count_finished(task_type: str, status: str) -> None:
    """Add one to the tally of finished runs, in the caller's transaction: a run is counted
    exactly when it is finished, and once (a finished run is never finished again).

    One upsert, so two workers finishing the first runs of a type at once cannot both insert.
    PostgreSQL and SQLite share this syntax.
    """
    table = connection.ops.quote_name(ExecutionTally._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (task_type, status, count) VALUES (%s, %s, 1) "
            f"ON CONFLICT (task_type, status) DO UPDATE SET count = {table}.count + 1",
            [task_type, status],
        )


def run_claimed_execution(execution_id: int) -> None:
    """Run the review of an execution this worker has claimed, and record how it ended."""
    execution = TaskExecution.objects.select_related("task", "task__connection").get(pk=execution_id)
    task = execution.task
    try:
        result = _run_review(task, execution)
    except SoftTimeLimitExceeded:
        fail_execution(execution_id, f"timed out after {task.timeout_seconds} s")
        return
    except ReviewFailed as exc:
        fail_execution(execution_id, str(exc))
        return
    except Exception as exc:
        # A bug in a review must still end the run; the traceback goes to the worker log only.
        logger.exception("execution %s: review %s crashed", execution_id, task.task_type)
        fail_execution(execution_id, f"internal error in the {task.task_type} review ({type(exc).__name__})")
        return
    finish_execution(execution_id, result)


def _run_review(task: Task, execution: TaskExecution) -> dict:
    """The task type's review, after its config is checked once more (a row may predate a rule)."""
    try:
        review = task.review
    except KeyError:
        raise ReviewFailed(f"unknown task type {task.task_type!r}") from None
    try:
        task.review_config()
    except ValueError as exc:
        raise ReviewFailed(f"config: {exc}") from None
    return review.run(task, execution)
