"""Putting deliveries on the `notifications` queue: a message carries a delivery id only.

A broker outage never fails what produced the event (a probe, a run): the delivery stays
pending and the periodic sweep (delivery.sweep_deliveries) publishes it again.
"""

from __future__ import annotations

import logging

from celery import current_app

logger = logging.getLogger(__name__)

DELIVER = "notifications.deliver"
QUEUE = "notifications"


def publish_deliveries(delivery_ids: list[int], countdown: float = 0) -> int:
    """Queue each delivery; returns how many the broker took."""
    published = 0
    for delivery_id in delivery_ids:
        try:
            current_app.send_task(
                DELIVER,
                args=[delivery_id],
                queue=QUEUE,
                countdown=countdown or None,
                # Briefly, as for runs: a real outage is reported in about a second.
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
            )
            published += 1
        except Exception as exc:  # kombu/redis raise many types for "broker unreachable"
            logger.warning("delivery %s not queued (%s); the sweep will retry", delivery_id, type(exc).__name__)
            break  # the broker is down: the others would fail the same way
    return published
