"""Celery tasks of connections: probes run on the `probes` queue, never behind reviews."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from django.conf import settings

from connections import retention, rounds

logger = logging.getLogger(__name__)


@shared_task(name="connections.probe_round", ignore_result=True)
def probe_round() -> dict:
    """Beat's round: publish the due connections as chunks for every probe worker to take."""
    plan = rounds.plan_round(uuid.uuid4().hex[:12])
    for chunk in plan.chunks:
        rounds.mark_queued(chunk, plan.round_id)
        # A chunk not started within one interval is dropped: the next round has it.
        probe_chunk.apply_async((chunk, plan.round_id), expires=settings.PROBE_INTERVAL_SECONDS)
    logger.info("probe round %s: %d connections due, %d chunks", plan.round_id, plan.connections, len(plan.chunks))
    return {"round_id": plan.round_id, "connections": plan.connections, "chunks": len(plan.chunks)}


@shared_task(name="connections.probe_chunk", ignore_result=True)
def probe_chunk(connection_ids: list[int], round_id: str) -> dict:
    summary, _ = rounds.probe_chunk(connection_ids, round_id)
    return {"probed": summary.probed, "healthy": summary.healthy, "skipped": summary.skipped}


@shared_task(name="connections.purge_status_history", ignore_result=True)
def purge_status_history() -> int:
    return retention.purge_status_history()
