"""A connection's health as people and scripts see it: its latest probe result, judged stale
when it is too old. The API, the console and the dashboard all read health from here.

"The latest status of a connection" is always the newest `connection_status` row by id: one
descent of the (connection_id, id DESC) index, however long the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from connections.models import Connection, ConnectionStatus, staleness_message


def current_since(now: datetime | None = None) -> datetime:
    """Probe results checked at or after this moment are current; older ones are stale."""
    return (now or timezone.now()) - timedelta(seconds=settings.PROBE_STALE_AFTER_SECONDS)


def latest_status_column(column: str = "id") -> Subquery:
    """`column` of the newest status of the connection in the outer query (annotate with it)."""
    newest = ConnectionStatus.objects.filter(connection=OuterRef("pk")).order_by("-id")
    return Subquery(newest.values(column)[:1])


@dataclass(frozen=True)
class ConnectionHealth:
    """A connection with its latest probe result, or None if it was never probed.

    A result older than PROBE_STALE_AFTER_SECONDS is reported unhealthy, with an error
    saying for how long no probe result has arrived: a dead prober never looks like a
    healthy fleet.
    """

    connection: Connection
    status: ConnectionStatus | None

    @property
    def stale(self) -> str | None:
        return self.status.staleness_message() if self.status is not None else None

    @property
    def is_healthy(self) -> bool | None:
        return self._judged[0]

    @property
    def error_message(self) -> str | None:
        return self._judged[1]

    @property
    def _judged(self) -> tuple[bool | None, str | None]:
        if self.status is None:
            return None, None
        return HealthJudge()(self.status.is_healthy, self.status.checked_at, self.status.error_message)


class HealthJudge:
    """The health rule at one moment, for judging many latest results at once (a fleet).

    An unhealthy result keeps its own error, which says more; a healthy one checked before
    `current_since(now)` (older than PROBE_STALE_AFTER_SECONDS) is reported unhealthy, with
    how long no result has arrived.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self.current_since = current_since(self.now)

    def __call__(self, is_healthy: bool, checked_at: datetime, error_message: str | None) -> tuple[bool, str | None]:
        """(is_healthy, error_message) of a latest probe result, as reported."""
        if not is_healthy:
            return False, error_message
        if checked_at >= self.current_since:
            return True, None
        return False, staleness_message(checked_at, self.now)

    def unchanged_until(self, healthy_checked_at: Iterable[datetime]) -> datetime:
        """Until when judging these healthy results again gives what it gives now: the moment
        the oldest turns stale, or now if one already is (its message changes with time).
        Unhealthy results keep their judgement whatever the time."""
        oldest = min(healthy_checked_at, default=None)
        if oldest is None:
            return datetime.max.replace(tzinfo=UTC)
        return max(self.now, oldest + (self.now - self.current_since))


def active_connections_health() -> list[ConnectionHealth]:
    """Every active connection, by id, with its latest probe: two queries."""
    connections = list(
        Connection.objects.filter(is_active=True).annotate(latest_status_id=latest_status_column()).order_by("id")
    )
    statuses = ConnectionStatus.objects.in_bulk([c.latest_status_id for c in connections if c.latest_status_id])
    return [ConnectionHealth(c, statuses.get(c.latest_status_id)) for c in connections]


def unhealthy_since(connection_ids: list[int]) -> dict[int, datetime]:
    """When each connection's current unhealthy streak began: the first probe after its
    newest healthy one (or its first probe ever). One query for all of them.

    Both lookups are index descents: the newest healthy row through the partial index on
    healthy rows, the first row after it through the (connection_id, id) index.
    """
    if not connection_ids:
        return {}
    statuses = ConnectionStatus.objects.filter(connection=OuterRef("pk"))
    last_healthy = statuses.filter(is_healthy=True).order_by("-id").values("id")[:1]
    first_after = (
        ConnectionStatus.objects.filter(connection=OuterRef("pk"), id__gt=OuterRef("last_healthy_id"))
        .order_by("id")
        .values("checked_at")[:1]
    )
    rows = (
        Connection.objects.filter(pk__in=connection_ids)
        .annotate(last_healthy_id=Coalesce(Subquery(last_healthy), 0))
        .annotate(since=Subquery(first_after))
        .values_list("pk", "since")
    )
    return dict(rows)
