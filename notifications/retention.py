"""Events (with their deliveries and attempts) older than RETENTION_DAYS are purged hourly,
in batches, like probe results and executions. An event that keeps a connection down is kept."""

from __future__ import annotations

from connections.retention import purge_in_batches, retention_cutoff
from notifications.models import ConnectionAlertState, NotificationEvent

EVENT_BATCH = 1000


def purge_notification_history(days: int | None = None, max_batches: int = 50) -> int:
    keep = set(ConnectionAlertState.objects.exclude(down_event=None).values_list("down_event_id", flat=True))
    return purge_in_batches(
        NotificationEvent,
        "created_at",
        retention_cutoff(days),
        batch=EVENT_BATCH,
        max_batches=max_batches,
        keep=keep.__contains__,
    )
