"""The API's long lists as plain rows: executions, findings and a run's sightings.

A list of 1,000 executions through a ModelSerializer built 1,000 model instances of all 15
columns (two unused timestamptz columns among them, each loaded by Django in Python) and
then visited every field of every row through DRF's field machinery: 3.45 times the cost of
fetching the same rows with psycopg and dumping them as JSON. Here the database selects only
the columns served, writes the times in the API's form (UtcIso, below), and each
row becomes a dict in one pass, its keys in the documented order.

The serializers in serializers.py still describe these shapes for the OpenAPI schema;
monitoring/tests/api/test_list_rows.py proves that both write the same JSON bytes. A field
added to a serializer must be added here too (that test fails until it is).
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Func, QuerySet

from tasks.models import Finding, Sighting, TaskExecution


class UtcIso(Func):
    """A datetime column as tasks.timestamps.utc_iso writes it, written by the database; NULL
    stays NULL.

    Django loads a timestamptz through a loader written in Python (about 3.5 µs a value) and
    utc_iso costs as much again: at 1,000 rows of two or four times each, most of a list's
    cost. Text from the database costs neither.

    PostgreSQL: `to_char` of the time in UTC, whose `SS` drops the fraction as `utc_iso` does
    (never rounds up). SQLite (the local default) stores Django's aware datetimes as UTC text,
    "YYYY-MM-DD HH:MM:SS[.ffffff]": the first 19 characters are the time to the second.
    test_list_rows.py checks every list against the serializers' output, and the SQLite smoke
    test (reviewer/tests/test_local_default.py) the form on SQLite.
    """

    arity = 1
    output_field = CharField()
    template = """to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""

    def as_sqlite(self, compiler, connection, **extra_context):
        template = "replace(substr(%(expressions)s, 1, 19), ' ', 'T') || 'Z'"
        return self.as_sql(compiler, connection, template=template, **extra_context)


# Each list: the JSON key, and the column (or expression) that fills it, in the order the
# serializer writes them.
EXECUTION_COLUMNS: dict[str, Any] = {
    "id": "id",
    "task_id": "task_id",
    "status": "status",
    "started_at": UtcIso("started_at"),
    "completed_at": UtcIso("completed_at"),
    "duration_seconds": "duration_seconds",
    "result": "result",
    "error_message": "error_message",
}

FINDING_COLUMNS: dict[str, Any] = {
    "id": "id",
    "execution_id": "execution_id",
    "task_id": "task_id",
    "connection_id": "connection_id",
    "severity": "severity",
    "category": "category",
    "subject": "subject",
    "state": "state",
    "message": "message",
    "remedy": "remedy",
    "count": "count",
    "first_seen": UtcIso("first_seen"),
    "last_seen": UtcIso("last_seen"),
    "resolved_at": UtcIso("resolved_at"),
    "database": "database",
    "user": "user",
    "sample": "sample",
    "details": "details",
    "created_at": UtcIso("created_at"),
}

# A sighting reads like a finding: what this run saw (severity, message, count, times,
# sample, details) and, from the tracked finding, what identifies it and where it stands.
SIGHTING_COLUMNS: dict[str, Any] = {
    "id": "finding_id",
    "execution_id": "execution_id",
    "task_id": "finding__task_id",
    "connection_id": "finding__connection_id",
    "severity": "severity",
    "category": "finding__category",
    "subject": "finding__subject",
    "state": "finding__state",
    "message": "message",
    "remedy": "finding__remedy",
    "count": "count",
    "first_seen": UtcIso("first_seen"),
    "last_seen": UtcIso("last_seen"),
    "resolved_at": UtcIso("finding__resolved_at"),
    "database": "database",
    "user": "user",
    "sample": "sample",
    "details": "details",
    "created_at": UtcIso("finding__created_at"),
}


def _rows(queryset: QuerySet, columns: dict[str, Any]) -> list[dict[str, Any]]:
    """One query; one dict per row, keys in the order of `columns`."""
    keys = tuple(columns)
    return [dict(zip(keys, row, strict=True)) for row in queryset.values_list(*columns.values())]


def execution_rows(executions: QuerySet[TaskExecution]) -> list[dict[str, Any]]:
    """Executions as ExecutionSerializer describes them (the queryset is already ordered and
    limited)."""
    return _rows(executions, EXECUTION_COLUMNS)


def finding_rows(findings: QuerySet[Finding]) -> list[dict[str, Any]]:
    """Findings as FindingSerializer describes them."""
    return _rows(findings, FINDING_COLUMNS)


def sighting_rows(sightings: QuerySet[Sighting]) -> list[dict[str, Any]]:
    """A run's sightings as SightingSerializer describes them."""
    return _rows(sightings, SIGHTING_COLUMNS)
