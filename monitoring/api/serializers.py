"""Response bodies of the monitoring API: the documented fields, nothing more (docs/api.md).

All output-only. Times go through `UtcTimestampField` ("2024-01-01T02:00:00Z").

The lists of executions, findings and a run's sightings are built as plain rows by rows.py,
at a fraction of the cost; ExecutionSerializer, FindingSerializer and SightingSerializer
describe those shapes in the OpenAPI schema, and monitoring/tests/api/test_list_rows.py
checks that they and rows.py write the same bytes.
"""

from __future__ import annotations

from datetime import datetime

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connections.fleet_status import FleetEntry
from connections.health import HealthJudge
from connections.models import ConnectionStatus
from tasks.estimates import RunningRun
from tasks.models import ExecutionStatus, Finding, FindingState, Severity, Sighting, TaskExecution
from tasks.timestamps import utc_iso


def utc_timestamp(value: datetime | None) -> str | None:
    """UTC, ISO 8601, whole seconds, trailing Z: "2024-01-01T02:00:00Z".

    Exactly the form jq's `fromdateiso8601` accepts (no fraction, no offset), which alerting
    scripts rely on. The one form of tasks.timestamps, which results and finding details
    use too.
    """
    return utc_iso(value)


@extend_schema_field({"type": "string", "format": "date-time", "example": "2024-01-01T02:00:00Z"})
class UtcTimestampField(serializers.Field):
    """A datetime written in UTC with whole seconds and a trailing Z."""

    def to_representation(self, value: datetime) -> str | None:
        return utc_timestamp(value)


class ErrorSerializer(serializers.Serializer):
    """Every error response: {"detail": "<human sentence>"}."""

    detail = serializers.CharField()


class ExecutionSerializer(serializers.ModelSerializer):
    """One run of a task, newest first in lists."""

    task_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ExecutionStatus.choices)
    started_at = UtcTimestampField(allow_null=True)
    completed_at = UtcTimestampField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True, help_text="Seconds; null until finished.")
    result = serializers.JSONField(
        allow_null=True,
        help_text="What the review returned (completed executions only); depends on the task type. "
        "A log_analysis result carries `workload`, the workload report of the part of the log that run read "
        "(queries, top queries, sessions, connections, checkpoints, autovacuum, temp files, errors, per hour).",
    )
    error_message = serializers.CharField(allow_null=True)

    class Meta:
        model = TaskExecution
        fields = [
            "id",
            "task_id",
            "status",
            "started_at",
            "completed_at",
            "duration_seconds",
            "result",
            "error_message",
        ]


class ConnectionStatusSerializer(serializers.Serializer):
    """A connection and its latest probe; the probe fields are all null before the first one."""

    connection_id = serializers.IntegerField(source="connection.id")
    name = serializers.CharField(source="connection.name")
    host = serializers.CharField(source="connection.host")
    port = serializers.IntegerField(source="connection.port")
    database = serializers.CharField(source="connection.database")
    # `status.x` with status None reads as null (DRF returns None for allow_null fields).
    is_healthy = serializers.BooleanField(
        allow_null=True, help_text="False also when the latest result is stale (no probe for too long)."
    )
    last_check = UtcTimestampField(source="status.checked_at", allow_null=True)
    response_time_ms = serializers.IntegerField(source="status.response_time_ms", allow_null=True)
    server_version = serializers.CharField(source="status.server_version", allow_null=True)
    error_message = serializers.CharField(allow_null=True)


def fleet_status_item(entry: FleetEntry, judge: HealthJudge) -> dict:
    """One item of GET /connections/status (and the body of /connections/{id}/status), exactly
    as ConnectionStatusSerializer describes it (which stays the schema's), built in one pass:
    the list is the most read response of the API. Its health is judged by `judge`, at the
    time of the request, not when the entry was cached."""
    if entry.checked_at is None:
        is_healthy = error_message = None
    else:
        is_healthy, error_message = judge(entry.is_healthy, entry.checked_at, entry.error_message)
    return {
        "connection_id": entry.connection_id,
        "name": entry.name,
        "host": entry.host,
        "port": entry.port,
        "database": entry.database,
        "is_healthy": is_healthy,
        "last_check": utc_timestamp(entry.checked_at),
        "response_time_ms": entry.response_time_ms,
        "server_version": entry.server_version,
        "error_message": error_message,
    }


class HealthyCheckSerializer(serializers.Serializer):
    """A check that connected: no error_message."""

    connection_id = serializers.IntegerField()
    is_healthy = serializers.BooleanField(help_text="Always true here.")
    response_time_ms = serializers.IntegerField(help_text="Connecting and reading the version, in ms.")
    server_version = serializers.CharField(help_text='Short form, e.g. "15.4".')
    last_check = UtcTimestampField(source="checked_at")


class UnhealthyCheckSerializer(serializers.Serializer):
    """A check that failed: no server_version. response_time_ms is null when the credentials
    could not be obtained, because no connection was attempted."""

    connection_id = serializers.IntegerField()
    is_healthy = serializers.BooleanField(help_text="Always false here.")
    error_message = serializers.CharField()
    response_time_ms = serializers.IntegerField(allow_null=True)
    last_check = UtcTimestampField(source="checked_at")


def check_result(status: ConnectionStatus) -> dict:
    """The body of POST /connections/{id}/check, per "Health Check Responses"."""
    serializer = HealthyCheckSerializer if status.is_healthy else UnhealthyCheckSerializer
    return serializer(status).data


class RunningTaskSerializer(serializers.Serializer):
    """A running execution, described by its task (`id` is the task's id)."""

    id = serializers.IntegerField(source="task.id")
    name = serializers.CharField(source="task.name")
    task_type = serializers.CharField(source="task.task_type")
    connection_id = serializers.IntegerField(source="task.connection_id")
    execution_id = serializers.IntegerField(source="id")
    execution_started_at = UtcTimestampField(source="started_at", allow_null=True)
    estimated_duration = serializers.CharField(
        allow_null=True, help_text="From the median of the task's last 10 completed runs; null without any."
    )


def running_task_item(run: RunningRun) -> dict:
    """One item of GET /tasks/running, exactly as RunningTaskSerializer describes it (which
    stays the schema's), built in one pass."""
    return {
        "id": run.task_id,
        "name": run.name,
        "task_type": run.task_type,
        "connection_id": run.connection_id,
        "execution_id": run.execution_id,
        "execution_started_at": utc_timestamp(run.started_at),
        "estimated_duration": run.estimated_duration,
    }


FINDING_FIELDS = [
    "id",
    "execution_id",
    "task_id",
    "connection_id",
    "severity",
    "category",
    "subject",
    "state",
    "message",
    "remedy",
    "count",
    "first_seen",
    "last_seen",
    "resolved_at",
    "database",
    "user",
    "sample",
    "details",
    "created_at",
]


class FindingSerializer(serializers.ModelSerializer):
    """One problem on one connection, tracked across runs: open until a run that looks for it
    no longer sees it. `execution_id` is the run that last saw it."""

    execution_id = serializers.IntegerField()
    task_id = serializers.IntegerField()
    connection_id = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    subject = serializers.CharField(
        allow_blank=True, help_text="What it is about: an index, table, role, setting, SQLSTATE, query…"
    )
    state = serializers.ChoiceField(choices=FindingState.choices)
    remedy = serializers.CharField(allow_blank=True, help_text="What to do, as text to copy; never run by the service.")
    first_seen = UtcTimestampField(allow_null=True, help_text="Open since (first seen in this open period).")
    last_seen = UtcTimestampField(allow_null=True)
    resolved_at = UtcTimestampField(allow_null=True, help_text="When a run no longer saw it; null while open.")
    created_at = UtcTimestampField()
    database = serializers.CharField(allow_blank=True)
    user = serializers.CharField(allow_blank=True)
    details = serializers.JSONField(help_text="Category-specific: e.g. sqlstate and top messages, or query timings.")

    class Meta:
        model = Finding
        fields = FINDING_FIELDS


class SightingSerializer(serializers.ModelSerializer):
    """A finding as one run saw it: that run's own counts, times, sample and details; `id`,
    category, subject, state and remedy are the tracked finding's."""

    id = serializers.IntegerField(source="finding_id")
    execution_id = serializers.IntegerField()
    task_id = serializers.IntegerField(source="finding.task_id")
    connection_id = serializers.IntegerField(source="finding.connection_id")
    severity = serializers.ChoiceField(choices=Severity.choices)
    category = serializers.CharField(source="finding.category")
    subject = serializers.CharField(source="finding.subject", allow_blank=True)
    state = serializers.ChoiceField(source="finding.state", choices=FindingState.choices)
    remedy = serializers.CharField(source="finding.remedy", allow_blank=True)
    first_seen = UtcTimestampField(allow_null=True)
    last_seen = UtcTimestampField(allow_null=True)
    resolved_at = UtcTimestampField(source="finding.resolved_at", allow_null=True)
    created_at = UtcTimestampField(source="finding.created_at")
    database = serializers.CharField(allow_blank=True)
    user = serializers.CharField(allow_blank=True)
    details = serializers.JSONField()

    class Meta:
        model = Sighting
        fields = FINDING_FIELDS
