"""Delivering one event to one rule's channel, on a worker of the `notifications` queue.

- Exactly one attempt at a time: a worker claims the delivery with a conditional UPDATE
  (pending and due -> sending). A message delivered twice, or a retry racing the sweep,
  claims nothing the second time and sends nothing.
- Every attempt is a DeliveryAttempt row: sent, or failed with its (secret-free) reason.
- A failed attempt is retried after NOTIFY_RETRY_DELAYS_SECONDS (10, 30, 90, 270 s by
  default: five attempts), then the delivery is failed.
- The sweep (every minute) publishes pending deliveries whose message was lost, and ends
  attempts whose worker died mid-send.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications import channels
from notifications.events import message_of
from notifications.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from notifications.queue import publish_deliveries

logger = logging.getLogger(__name__)

# A retry message may reach the worker a moment before its due time (clocks, rounding).
CLAIM_SLACK = timedelta(seconds=2)
# A pending delivery this far past its due time lost its message: the sweep publishes it again.
OVERDUE_AFTER = timedelta(seconds=60)
SWEEP_BATCH = 200


def max_attempts() -> int:
    return len(settings.NOTIFY_RETRY_DELAYS_SECONDS) + 1


def attempt_time_limit() -> int:
    """How long one attempt may take, all included, before the worker stops it."""
    return settings.NOTIFY_TIMEOUT_SECONDS * 3 + 10


def claim_delivery(delivery_id: int) -> bool:
    """pending and due -> sending, for exactly one caller."""
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now + CLAIM_SLACK
    ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    return claimed == 1


def deliver(delivery_id: int) -> str | None:
    """One attempt of a delivery, if this caller claims it; returns its new status."""
    if not claim_delivery(delivery_id):
        logger.info("delivery %s not due or already handled; message ignored", delivery_id)
        return None
    delivery = Delivery.objects.select_related("event", "rule").get(pk=delivery_id)
    started = timezone.now()
    reason = ""
    try:
        channels.send(delivery.rule.url, message_of(delivery.event))
    except channels.DeliveryError as exc:
        reason = str(exc)
    except SoftTimeLimitExceeded:
        reason = f"the attempt took longer than {attempt_time_limit()} s"
    except Exception as exc:
        # Never log the exception itself: its text may hold the URL and its token.
        reason = f"internal error while sending ({type(exc).__name__})"
    return finish_attempt(delivery, started, reason)


def finish_attempt(delivery: Delivery, started, reason: str) -> str:
    """Record how the claimed attempt ended, and what happens next."""
    now = timezone.now()
    outcome = AttemptOutcome.FAILED if reason else AttemptOutcome.SENT
    retry_in = None
    if not reason:
        status, changes = DeliveryStatus.SENT, {"sent_at": now, "last_error": ""}
    elif delivery.attempts < max_attempts():
        retry_in = settings.NOTIFY_RETRY_DELAYS_SECONDS[delivery.attempts - 1]
        status = DeliveryStatus.PENDING
        changes = {"next_attempt_at": now + timedelta(seconds=retry_in), "last_error": reason}
    else:
        status, changes = DeliveryStatus.FAILED, {"last_error": reason}
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            event_id=delivery.event_id,
            number=delivery.attempts,
            started_at=started,
            finished_at=now,
            outcome=outcome,
            reason=reason,
        )
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(status=status, **changes)
        if retry_in is not None:
            transaction.on_commit(lambda: publish_deliveries([delivery.pk], countdown=retry_in))
    rule = delivery.rule.name
    if reason:
        logger.warning("delivery %s (rule %r) attempt %d failed: %s", delivery.pk, rule, delivery.attempts, reason)
    else:
        logger.info("delivery %s (rule %r) sent on attempt %d", delivery.pk, rule, delivery.attempts)
    return status


def sweep_deliveries() -> int:
    """Publish overdue pending deliveries; end attempts whose worker died. Bounded per call."""
    now = timezone.now()
    lost_after = timedelta(seconds=attempt_time_limit() + 60)
    handled = 0
    stuck = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=now - lost_after)
    for delivery in stuck.select_related("rule").order_by("id")[:SWEEP_BATCH]:
        # Conditional on the claim this sweep read: a worker finishing now wins.
        if Delivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.SENDING, claimed_at=delivery.claimed_at
        ).update(claimed_at=now):
            finish_attempt(delivery, delivery.claimed_at, "the worker was lost during the attempt")
            handled += 1
    overdue = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lt=now - OVERDUE_AFTER)
    ids = list(overdue.order_by("next_attempt_at").values_list("id", flat=True)[:SWEEP_BATCH])
    handled += publish_deliveries(ids)
    return handled
