"""Celery tasks of reviews: messages carry an execution id only."""

from __future__ import annotations

import logging

from celery import current_app, shared_task

from tasks import reaper, retention, scheduler
from tasks.heartbeat import heartbeat
from tasks.liveness import WorkerLiveness
from tasks.models import TaskExecution
from tasks.runner import RUN_EXECUTION, claim_execution, run_claimed_execution

logger = logging.getLogger(__name__)

# Workers record that they are alive for /readyz (tasks/liveness.py). A worker imports this
# module (autodiscovery) before it builds its steps, so the step is in place in time.
current_app.steps["worker"].add(WorkerLiveness)


@shared_task(name=RUN_EXECUTION, ignore_result=True, acks_late=True)
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
    return len(scheduler.dispatch_due_tasks())


@shared_task(name="tasks.reap_executions", ignore_result=True)
def reap_executions() -> int:
    return reaper.reap_lost_runs() + reaper.reap_lost_messages()


@shared_task(name="tasks.purge_execution_history", ignore_result=True)
def purge_execution_history() -> int:
    return retention.purge_execution_history()
