"""Recording events: each one once, with one pending delivery per matching rule.

An event's `key` says what happened in a way a repeat cannot change
(`connection_down:<connection id>:<first failed probe id>`, `execution_failed:<execution id>`,
…), and the unique constraint on it makes a duplicated signal or message a no-op. The
deliveries are queued once the transaction commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from connections.models import Connection
from notifications.channels import Message
from notifications.models import Delivery, EventName, NotificationEvent, NotificationRule
from notifications.queue import publish_deliveries
from notifications.rules import matching_rules

GOOD_NEWS = (EventName.CONNECTION_RECOVERED, EventName.FINDING_RESOLVED)
# The webhook key naming the event a recovery or resolution closes.
CLOSES_KEY = {EventName.CONNECTION_RECOVERED: "recovers", EventName.FINDING_RESOLVED: "resolves"}
TITLES = {
    EventName.CONNECTION_DOWN: "connection down",
    EventName.CONNECTION_RECOVERED: "connection recovered",
    EventName.EXECUTION_FAILED: "run failed",
    EventName.FINDING_OPENED: "finding opened",
    EventName.FINDING_RESOLVED: "finding resolved",
}


def utc_z(moment: datetime | None) -> str | None:
    """2026-11-29T08:20:10Z: the API's form of a time."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def console_url(event: NotificationEvent) -> str:
    """The console page that shows what the event is about."""
    base = settings.REVIEWER_PUBLIC_URL.rstrip("/")
    if event.finding_id:
        name, object_id = "admin:tasks_finding_change", event.finding_id
    elif event.execution_id:
        name, object_id = "admin:tasks_taskexecution_change", event.execution_id
    elif event.connection_id:
        name, object_id = "admin:connections_connection_change", event.connection_id
    else:
        name, object_id = "admin:notifications_notificationevent_change", event.pk
    try:
        return base + reverse(name, args=[object_id])
    except NoReverseMatch:
        return base + "/"


def payload_of(event: NotificationEvent, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The webhook body (documented in docs/notifications.md)."""
    payload: dict[str, Any] = {
        "id": str(event.uuid),
        "event": event.event,
        "connection": {"id": event.connection_id, "name": event.connection_name} if event.connection_name else None,
        "task_id": event.task_id,
        "execution_id": event.execution_id,
        "finding_id": event.finding_id,
        "severity": event.severity,
        "message": event.message,
        "occurred_at": utc_z(event.created_at),
        "url": console_url(event),
    }
    if event.event in CLOSES_KEY:
        payload[CLOSES_KEY[event.event]] = str(event.closes.uuid) if event.closes_id else None
    payload.update(extra or {})
    return payload


def message_of(event: NotificationEvent) -> Message:
    """The event as e-mail and chat services show it; webhooks get the payload."""
    where = f"{event.connection_name}: " if event.connection_name else ""
    title = f"[{event.severity}] {where}{TITLES.get(event.event, event.event)}"
    lines = [event.message, "", event.payload.get("url", ""), f"event {event.uuid}"]
    closes = event.payload.get(CLOSES_KEY.get(event.event, ""), None)
    if closes:
        lines.append(f"closes event {closes}")
    return Message(
        title=title,
        body="\n".join(lines),
        payload=event.payload,
        severity=event.severity,
        good_news=event.event in GOOD_NEWS,
    )


def record_event(
    *,
    key: str,
    event: str,
    severity: str,
    message: str,
    connection: Connection | None = None,
    task_id: int | None = None,
    execution_id: int | None = None,
    finding_id: int | None = None,
    closes: NotificationEvent | None = None,
    extra: dict[str, Any] | None = None,
    rules: list[NotificationRule] | None = None,
) -> tuple[NotificationEvent, bool]:
    """(the event, whether this call created it). A new event gets one pending delivery per
    matching rule, published once the surrounding transaction commits."""
    with transaction.atomic():
        row, created = NotificationEvent.objects.get_or_create(
            key=key,
            defaults=dict(
                event=event,
                severity=severity,
                message=message,
                connection=connection,
                connection_name=connection.name if connection else "",
                task_id=task_id,
                execution_id=execution_id,
                finding_id=finding_id,
                closes=closes,
            ),
        )
        if not created:
            return row, False
        row.payload = payload_of(row, extra)
        row.save(update_fields=["payload"])
        deliveries = Delivery.objects.bulk_create(
            [Delivery(event=row, rule=rule, next_attempt_at=row.created_at) for rule in matching_rules(row, rules)]
        )
        ids = [delivery.pk for delivery in deliveries]
        if ids:
            transaction.on_commit(lambda: publish_deliveries(ids))
    return row, True
