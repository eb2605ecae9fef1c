"""What the console's pages read: the fleet dashboard (the admin index, see site.py) and the
history panels of the connection and task pages.

Every function here costs a fixed number of queries, whatever the size of the fleet or of
the history (tests assert it). Health is judged exactly as the monitoring API judges it
(connections.health.ConnectionHealth): a latest probe older than PROBE_STALE_AFTER_SECONDS
counts as unhealthy, so a dead prober never looks like a healthy fleet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection as db_connection
from django.db.models import Count, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.utils import timezone

from connections.durations import human_duration
from connections.health import ConnectionHealth, active_connections_health, unhealthy_since
from connections.models import Connection, ConnectionStatus
from monitoring.console.charts import (
    DayUptime,
    Probe,
    executions_chart,
    format_percent,
    response_time_chart,
    uptime_chart,
)
from tasks.estimates import running_executions
from tasks.findings import open_counts
from tasks.models import (
    EXECUTION_MOMENT,
    ExecutionStatus,
    Finding,
    FindingState,
    Severity,
    Task,
    TaskExecution,
    severity_rank,
)

DASHBOARD_ROWS = 10  # rows per dashboard list; each links to the full, filterable changelist
CHART_DAYS = 14
HISTORY_WINDOWS = {"24h": timedelta(days=1), "7d": timedelta(days=7)}
MAX_HISTORY_POINTS = 12_000  # a week of one probe a minute, with room to spare


@dataclass(frozen=True)
class UnhealthyConnection:
    """An active connection whose current status is unhealthy, and since when."""

    connection: Connection
    status: ConnectionStatus
    error_message: str
    since: datetime | None
    is_stale: bool


@dataclass
class FleetHealth:
    """Active connections sorted by their current health."""

    healthy: int = 0
    never_checked: int = 0
    unhealthy: list[UnhealthyConnection] = field(default_factory=list)


def fleet_health() -> FleetHealth:
    """Counts per health state and the unhealthy connections, longest-failing first: three queries."""
    fleet = FleetHealth()
    sick: list[ConnectionHealth] = []
    for health in active_connections_health():
        if health.is_healthy is None:
            fleet.never_checked += 1
        elif health.is_healthy:
            fleet.healthy += 1
        else:
            sick.append(health)
    since = unhealthy_since([h.connection.pk for h in sick if not h.status.is_healthy])
    for health in sick:
        failing = not health.status.is_healthy
        fleet.unhealthy.append(
            UnhealthyConnection(
                connection=health.connection,
                status=health.status,
                error_message=health.error_message or "",
                # A stale result has been silent since its last probe, whatever that probe said.
                since=since.get(health.connection.pk) if failing else health.status.checked_at,
                is_stale=health.stale is not None,
            )
        )
    fleet.unhealthy.sort(key=lambda u: (u.since is None, u.since, u.connection.name))
    return fleet


def failed_recently(now: datetime, hours: int = 24) -> tuple[int, list[TaskExecution]]:
    """Executions that failed in the last `hours`: how many, and the newest few."""
    failed = TaskExecution.objects.filter(status=ExecutionStatus.FAILED, completed_at__gte=now - timedelta(hours=hours))
    latest = list(failed.select_related("task", "task__connection").order_by("-id")[:DASHBOARD_ROWS])
    count = len(latest) if len(latest) < DASHBOARD_ROWS else failed.count()
    return count, latest


def start_of_day(day: date) -> datetime:
    """Midnight UTC at the start of `day`: days are UTC days, as the console shows them.

    Windows of days are written as `time >= start_of_day(first)`, a range that an index on
    the time serves, rather than `time::date >= first`, which no index serves and which read
    every row of the history.
    """
    return datetime.combine(day, time.min, tzinfo=UTC)


def executions_per_day(executions: QuerySet, now: datetime, days: int = CHART_DAYS) -> tuple[list[date], dict]:
    """The last `days` days (UTC, oldest first) and {day: {status: count}}: one query.

    A run counts on the day it started, or was queued if no worker has started it
    (EXECUTION_MOMENT, as the API's `since`): its indexes, alone and per task, read the
    window's runs only, however long the history.
    """
    today = now.date()
    window = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    rows = (
        executions.alias(moment=EXECUTION_MOMENT)
        .filter(moment__gte=start_of_day(window[0]))
        .annotate(day=TruncDate("moment"))
        .values_list("day", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for day, status, count in rows:
        counts[day][status] = count
    return window, dict(counts)


def latest_runs_of(connection: Connection) -> list[TaskExecution]:
    """The newest runs of the connection's tasks, newest first: two queries.

    First the newest ids of each of its tasks, each a descent of the (task, -id) index (an
    array per task on PostgreSQL; a small query per task on SQLite, which has no arrays),
    then those few rows by id. Filtering every run by its task's connection, or by `id IN`
    subqueries, walked the history back from the newest run until enough matched: all of it
    for a connection whose tasks had run little or never.
    """
    tasks = Task.objects.filter(connection=connection)
    if db_connection.vendor == "postgresql":
        newest = TaskExecution.objects.filter(task_id=OuterRef("id")).order_by("-id").values("id")
        per_task = tasks.annotate(ids=ArraySubquery(newest[:DASHBOARD_ROWS])).values_list("ids", flat=True)
        ids = [run_id for task_ids in per_task for run_id in task_ids]
    else:
        ids = [
            run_id
            for task_id in tasks.values_list("id", flat=True)
            for run_id in TaskExecution.objects.filter(task_id=task_id)
            .order_by("-id")
            .values_list("id", flat=True)[:DASHBOARD_ROWS]
        ]
    if not ids:
        return []
    runs = TaskExecution.objects.filter(id__in=ids).select_related("task")
    return list(runs.order_by("-id")[:DASHBOARD_ROWS])


def latest_findings() -> list:
    """The newest open critical and warning findings, worst first: a query per severity,
    then the rows.

    Each severity's newest open ids are one index descent; only those few rows are then read
    and sorted. (`id IN` subqueries joined by OR left PostgreSQL to read every finding and
    filter each through both.)
    """
    ids: list[int] = []
    for severity in Severity.at_least(Severity.WARNING):
        rows = Finding.objects.filter(severity=severity, state=FindingState.OPEN).order_by("-id")
        ids += rows.values_list("id", flat=True)[:DASHBOARD_ROWS]
    findings = Finding.objects.filter(id__in=ids).annotate(rank=severity_rank()).select_related("connection")
    return list(findings.order_by("-rank", "-id")[:DASHBOARD_ROWS])


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """Everything the dashboard shows that this user may see."""
    now = timezone.now()
    user = request.user
    context: dict[str, Any] = {"now": now}
    if user.has_perm("connections.view_connection"):
        context["fleet"] = fleet_health()
        context["can_check"] = user.has_perm("connections.check_connection")
    if user.has_perm("tasks.view_taskexecution"):
        context["running"] = running_executions()
        for execution in context["running"]:
            execution.running_for = human_duration((now - (execution.started_at or now)).total_seconds())
        context["pending_count"] = TaskExecution.objects.filter(status=ExecutionStatus.PENDING).count()
        context["failed_count"], context["failed"] = failed_recently(now)
        days, counts = executions_per_day(TaskExecution.objects.all(), now)
        context["executions_chart"] = executions_chart(days, counts, f"Executions per day, last {CHART_DAYS} days")
    if user.has_perm("tasks.view_finding"):
        context["findings"] = latest_findings()
        context["open_counts"] = open_counts()
    return context


def connection_history(connection: Connection, window: str, now: datetime) -> dict[str, Any]:
    """The response-time chart over `window` ("24h" or "7d"), uptime % over 24 h and 7 d,
    and uptime per day for the last week: three queries."""
    span = HISTORY_WINDOWS.get(window, HISTORY_WINDOWS["24h"])
    # Each query reads a range of the (connection, checked_at) index, which carries every
    # column read here (hence counts of checked_at, not of id): the window's probes only,
    # never the older history, and not their rows.
    statuses = ConnectionStatus.objects.filter(connection=connection)
    rows = statuses.filter(checked_at__gte=now - span).order_by("-checked_at")[:MAX_HISTORY_POINTS]
    points = [Probe(*row) for row in rows.values_list("checked_at", "is_healthy", "response_time_ms")]
    day_ago, week_ago = now - timedelta(days=1), now - timedelta(days=7)
    totals = statuses.filter(checked_at__gte=week_ago).aggregate(
        checks_24h=Count("checked_at", filter=Q(checked_at__gte=day_ago)),
        healthy_24h=Count("checked_at", filter=Q(checked_at__gte=day_ago, is_healthy=True)),
        checks_7d=Count("checked_at"),
        healthy_7d=Count("checked_at", filter=Q(is_healthy=True)),
    )
    per_day = {
        row["day"]: row
        for row in statuses.filter(checked_at__gte=start_of_day((now - timedelta(days=6)).date()))
        .annotate(day=TruncDate("checked_at"))
        .values("day")
        .annotate(total=Count("checked_at"), healthy=Count("checked_at", filter=Q(is_healthy=True)))
        .order_by()
    }
    days = [now.date() - timedelta(days=offset) for offset in range(6, -1, -1)]
    uptime_days = [DayUptime(d, per_day.get(d, {}).get("healthy", 0), per_day.get(d, {}).get("total", 0)) for d in days]
    label = "24 hours" if span == HISTORY_WINDOWS["24h"] else "7 days"
    uptime_24h = DayUptime(now.date(), totals["healthy_24h"], totals["checks_24h"])
    uptime_7d = DayUptime(now.date(), totals["healthy_7d"], totals["checks_7d"])
    return {
        "now": now,
        "window": "7d" if span == HISTORY_WINDOWS["7d"] else "24h",
        "response_chart": response_time_chart(points, now - span, now, f"Response time, last {label}"),
        "uptime_chart": uptime_chart(uptime_days, "Uptime per day, last 7 days"),
        "uptime_24h": uptime_24h,
        "uptime_24h_text": format_percent(uptime_24h.percent),
        "uptime_7d": uptime_7d,
        "uptime_7d_text": format_percent(uptime_7d.percent),
    }
