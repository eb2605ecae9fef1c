"""Celery tasks of notifications: deliveries on their own `notifications` queue, so a channel
that is down never delays probes or runs; the sweep and the purge on the `probes` queue."""

from __future__ import annotations

from celery import shared_task

from notifications import connection_state, delivery, retention
from notifications.queue import DELIVER


@shared_task(
    name=DELIVER,
    ignore_result=True,
    acks_late=True,
    soft_time_limit=delivery.attempt_time_limit(),
    time_limit=delivery.attempt_time_limit() + 15,
)
def deliver(delivery_id: int) -> str | None:
    return delivery.deliver(delivery_id)


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep() -> dict:
    """Every minute: stale connections go down; lost delivery messages are published again."""
    stale = connection_state.check_staleness()
    return {"stale": len(stale), "deliveries": delivery.sweep_deliveries()}


@shared_task(name="notifications.purge_history", ignore_result=True)
def purge_history() -> int:
    return retention.purge_notification_history()
