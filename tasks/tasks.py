"""Celery tasks of reviews: messages carry an execution id only."""

from __future__ import annotations

import logging

from celery import shared_task

from tasks.runner import claim_execution, run_claimed_execution

logger = logging.getLogger(__name__)


@shared_task(name="tasks.run_execution", ignore_result=True, acks_late=True)
def run_execution(execution_id: int) -> None:
    if not claim_execution(execution_id):
        # Gone, already running, or finished: a duplicate delivery runs nothing.
        logger.info("execution %s not pending; message ignored", execution_id)
        return
    run_claimed_execution(execution_id)
