"""connection_down and connection_recovered: a state change notifies, once.

- Down after NOTIFY_CONNECTION_DOWN_AFTER consecutive failed probes (default 2: one lost
  packet pages nobody), or when no probe result has arrived for PROBE_STALE_AFTER_SECONDS
  (stale: the probe worker or beat is down, or probes hang).
- Recovered on the first healthy probe after a down. Its message names the down event.
- While down, further failures notify nothing; while up, healthy probes notify nothing.

Flapping: a connection must fail N probes in a row to go down again after a recovery, so
with the defaults (N=2, a probe a minute) it can page at most once per three probe rounds,
and a connection that loses every other probe never pages.

Every probe result is counted once, in id order, under a row lock on the connection's alert
state: a duplicated signal or an on-demand check racing a round cannot count twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connections.durations import human_duration
from connections.health import current_since, latest_status_column
from connections.models import Connection, ConnectionStatus
from notifications.events import record_event, utc_z
from notifications.models import ConnectionAlertState, EventName, NotificationEvent

STATE_FIELDS = ["down", "consecutive_failures", "streak_status_id", "last_status_id", "down_event", "since"]
STALE_BATCH = 500


def _locked_states(connection_ids: list[int]) -> dict[int, ConnectionAlertState]:
    """The alert states of these connections, created if missing, locked in id order."""
    existing = set(
        ConnectionAlertState.objects.filter(connection_id__in=connection_ids).values_list("connection_id", flat=True)
    )
    missing = [ConnectionAlertState(connection_id=cid) for cid in connection_ids if cid not in existing]
    if missing:
        ConnectionAlertState.objects.bulk_create(missing, ignore_conflicts=True)
    locked = ConnectionAlertState.objects.select_for_update().filter(connection_id__in=connection_ids)
    return {state.connection_id: state for state in locked.order_by("connection_id")}


def record_statuses(statuses: list[ConnectionStatus]) -> list[NotificationEvent]:
    """Count new probe results; return the events they caused."""
    by_connection: dict[int, list[ConnectionStatus]] = defaultdict(list)
    for status in sorted(statuses, key=lambda s: s.pk):
        by_connection[status.connection_id].append(status)
    events: list[NotificationEvent] = []
    with transaction.atomic():
        states = _locked_states(sorted(by_connection))
        changed = []
        for connection_id, connection_statuses in by_connection.items():
            state = states[connection_id]
            before = [getattr(state, name) for name in STATE_FIELDS]
            for status in connection_statuses:
                if state.last_status_id is not None and status.pk <= state.last_status_id:
                    continue  # counted already
                state.last_status_id = status.pk
                event = _count(state, status)
                if event is not None:
                    events.append(event)
            if [getattr(state, name) for name in STATE_FIELDS] != before:
                changed.append(state)
        ConnectionAlertState.objects.bulk_update(changed, STATE_FIELDS, batch_size=500)
    return events


def _count(state: ConnectionAlertState, status: ConnectionStatus) -> NotificationEvent | None:
    connection = status.connection
    if status.is_healthy:
        state.consecutive_failures, state.streak_status_id = 0, None
        if not state.down:
            return None
        return _recovered(state, connection, status.checked_at)
    if state.consecutive_failures == 0:
        state.streak_status_id = status.pk
        if not state.down:
            state.since = status.checked_at
    state.consecutive_failures += 1
    if state.down or state.consecutive_failures < settings.NOTIFY_CONNECTION_DOWN_AFTER:
        return None
    count = state.consecutive_failures
    message = f"{connection.name} is down: {count} probes failed in a row; last error: {status.error_message or '?'}"
    return _down(state, connection, f"connection_down:{connection.pk}:{state.streak_status_id}", message)


def _down(state: ConnectionAlertState, connection: Connection, key: str, message: str) -> NotificationEvent:
    event, _ = record_event(
        key=key,
        event=EventName.CONNECTION_DOWN,
        severity="critical",
        message=message,
        connection=connection,
        extra={"since": utc_z(state.since)},
    )
    state.down, state.down_event = True, event
    return event


def _recovered(state: ConnectionAlertState, connection: Connection, at: datetime) -> NotificationEvent:
    down_for = human_duration((at - state.since).total_seconds()) if state.since else "a while"
    event, _ = record_event(
        key=f"connection_recovered:{connection.pk}:{state.last_status_id}",
        event=EventName.CONNECTION_RECOVERED,
        severity="info",
        message=f"{connection.name} recovered: healthy again after being down for {down_for}",
        connection=connection,
        closes=state.down_event,
        extra={"since": utc_z(state.since)},
    )
    state.down, state.down_event, state.since = False, None, None
    return event


def check_staleness(now: datetime | None = None) -> list[NotificationEvent]:
    """connection_down for each active connection whose latest probe result is stale."""
    now = now or timezone.now()
    stale = (
        Connection.objects.filter(is_active=True)
        .annotate(latest_id=latest_status_column("id"), latest_checked_at=latest_status_column("checked_at"))
        .filter(latest_checked_at__lt=current_since(now))
        .exclude(pk__in=ConnectionAlertState.objects.filter(down=True).values("connection_id"))
        .order_by("id")[:STALE_BATCH]
    )
    events = []
    for connection in stale:
        with transaction.atomic():
            state = _locked_states([connection.pk])[connection.pk]
            if state.down:
                continue
            age = human_duration((now - connection.latest_checked_at).total_seconds())
            message = f"{connection.name} is down: no probe result for {age} (are the probe worker and beat running?)"
            state.since = connection.latest_checked_at
            key = f"connection_down:{connection.pk}:stale:{connection.latest_id}"
            events.append(_down(state, connection, key, message))
            state.save(update_fields=["down", "down_event", "since", "updated_at"])
    return events
