"""Celery tasks of reviews: messages carry an execution id only."""

from __future__ import annotations

import logging

from celery import shared_task

from tasks.heartbeat import heartbeat
from tasks.models import TaskExecution
from tasks.runner import claim_execution, run_claimed_execution

logger = logging.getLogger(__name__)


@shared_task(name="tasks.run_execution", ignore_result=True, acks_late=True)
def run_execution(execution_id: int) -> None:
    if not claim_execution(execution_id):
        # Gone, already running, or finished: a duplicate delivery runs nothing.
        logger.info("execution %s not pending; message ignored", execution_id)
        return
    with heartbeat(execution_id):
        try:
            run_claimed_execution(execution_id)
        except TaskExecution.DoesNotExist:
            logger.info("execution %s deleted while it ran", execution_id)


@shared_task(name="tasks.dispatch_due_tasks", ignore_result=True)
def dispatch_due_tasks() -> int:
    from tasks.scheduler import dispatch_due_tasks as dispatch

    return len(dispatch())


@shared_task(name="tasks.reap_executions", ignore_result=True)
def reap_executions() -> int:
    from tasks.reaper import reap_lost_messages, reap_lost_runs

    return reap_lost_runs() + reap_lost_messages()


@shared_task(name="tasks.purge_execution_history", ignore_result=True)
def purge_execution_history() -> int:
    from tasks.retention import purge_execution_history as purge

    return purge()
