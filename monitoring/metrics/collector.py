"""What /metrics exposes, read at scrape time from latest-state rows only.

Nothing here reads the history: a connection's latest probe is one descent of the
(connection_id, id DESC) index (connections/health.py), finished runs are counted in
ExecutionTally as they finish, unfinished runs and open findings are reached through their
(status, -id) and (state, -id) indexes, and queue lengths are LLENs. A scrape costs a fixed
number of queries however long the service has run.

Each source is read on its own: when one fails (the broker's Redis is down), the others are
still exposed and `reviewer_scrape_errors{source}` says which one failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from connections.health import active_connections_health
from tasks.broker import celery_queues, queue_lengths
from tasks.liveness import last_seen, worker_key
from tasks.models import ExecutionStatus, ExecutionTally, Finding, FindingState, TaskExecution, review_types

logger = logging.getLogger(__name__)

CONNECTION_LABELS = ["connection_id", "name"]
FINISHED = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)
UNFINISHED = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


def connection_metrics() -> list[Metric]:
    up = GaugeMetricFamily(
        "reviewer_connection_up",
        "1 when the connection's latest probe succeeded and is current; 0 when it failed, is "
        "stale (older than PROBE_STALE_AFTER_SECONDS) or the connection was never probed.",
        labels=CONNECTION_LABELS,
    )
    stale = GaugeMetricFamily(
        "reviewer_connection_probe_stale",
        "1 when the latest probe result is older than PROBE_STALE_AFTER_SECONDS (are the probe "
        "worker and beat running?), or there is none.",
        labels=CONNECTION_LABELS,
    )
    duration = GaugeMetricFamily(
        "reviewer_connection_probe_duration_seconds",
        "Response time of the latest probe.",
        labels=CONNECTION_LABELS,
        unit="seconds",
    )
    probed_at = GaugeMetricFamily(
        "reviewer_connection_last_probe_timestamp_seconds",
        "When the latest probe ran (Unix time).",
        labels=CONNECTION_LABELS,
    )
    server = InfoMetricFamily(
        "reviewer_connection_server",
        "The server version the latest probe reported (absent when it failed).",
        labels=CONNECTION_LABELS,
    )
    for health in active_connections_health():
        labels = [str(health.connection.pk), health.connection.name]
        up.add_metric(labels, 1 if health.is_healthy else 0)
        status = health.status
        stale.add_metric(labels, 1 if status is None or health.stale else 0)
        if status is None:
            continue
        probed_at.add_metric(labels, status.checked_at.timestamp())
        if status.response_time_ms is not None:
            duration.add_metric(labels, status.response_time_ms / 1000)
        if status.server_version:
            server.add_metric(labels, {"server_version": status.server_version})
    return [up, stale, duration, probed_at, server]


def execution_metrics() -> list[Metric]:
    types = list(review_types())
    finished = {(task_type, status): 0 for task_type in types for status in FINISHED}
    finished |= {(row.task_type, row.status): row.count for row in ExecutionTally.objects.all()}
    total = CounterMetricFamily(
        "reviewer_executions", "Runs that ended, by task type and outcome.", labels=["task_type", "status"]
    )
    for (task_type, status), count in sorted(finished.items()):
        total.add_metric([task_type, status], count)

    unfinished = {(task_type, status): 0 for task_type in types for status in UNFINISHED}
    rows = (
        TaskExecution.objects.filter(status__in=UNFINISHED)
        .values_list("task__task_type", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    unfinished |= {(task_type, status): n for task_type, status, n in rows}
    gauge = GaugeMetricFamily(
        "reviewer_unfinished_executions",
        "Runs queued (pending) or being run (running) now, by task type.",
        labels=["task_type", "status"],
    )
    for (task_type, status), count in sorted(unfinished.items()):
        gauge.add_metric([task_type, status], count)

    oldest = (
        TaskExecution.objects.filter(status=ExecutionStatus.PENDING)
        .order_by("id")
        .values_list("created_at", flat=True)
        .first()
    )
    age = GaugeMetricFamily(
        "reviewer_oldest_pending_execution_age_seconds",
        "How long the oldest pending run has waited for a worker; 0 when none is pending.",
        unit="seconds",
    )
    age.add_metric([], max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)
    return [total, gauge, age]


def finding_metrics() -> list[Metric]:
    rows = (
        Finding.objects.filter(state=FindingState.OPEN)
        .values_list("severity", "category")
        .annotate(n=Count("id"))
        .order_by("severity", "category")
    )
    gauge = GaugeMetricFamily(
        "reviewer_open_findings", "Findings open now, by severity and category.", labels=["severity", "category"]
    )
    for severity, category, n in rows:
        gauge.add_metric([severity, category], n)
    return [gauge]


def broker_metrics() -> list[Metric]:
    queues = celery_queues()
    lengths = queue_lengths(queues)
    windows = {worker_key(queue): settings.READINESS_WORKER_SEEN_SECONDS for queue in queues}
    seen = last_seen(windows)
    messages = GaugeMetricFamily(
        "reviewer_queue_messages",
        "Messages waiting in each Celery queue (not yet taken by a worker).",
        labels=["queue"],
    )
    workers = GaugeMetricFamily(
        "reviewer_queue_workers",
        "Workers of each queue that recorded liveness within READINESS_WORKER_SEEN_SECONDS.",
        labels=["queue"],
    )
    for queue in queues:
        messages.add_metric([queue], lengths[queue])
        workers.add_metric([queue], seen[worker_key(queue)].processes)
    return [messages, workers]


# source name -> what it exposes. "database" covers the application database.
SOURCES: dict[str, Callable[[], list[Metric]]] = {
    "database": lambda: [*connection_metrics(), *execution_metrics(), *finding_metrics()],
    "broker": broker_metrics,
}


class ReviewerCollector(Collector):
    """A prometheus_client collector that reads the state at each scrape."""

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily(
            "reviewer_scrape_errors",
            "1 when this scrape could not read the source (its metrics are missing), else 0.",
            labels=["source"],
        )
        for source, read in SOURCES.items():
            metrics: Iterable[Metric]
            try:
                metrics = read()
            except Exception as exc:  # a dead database or Redis raises many types
                logger.warning("metrics: cannot read the %s: %s", source, type(exc).__name__)
                errors.add_metric([source], 1)
                continue
            errors.add_metric([source], 0)
            yield from metrics
        yield errors
