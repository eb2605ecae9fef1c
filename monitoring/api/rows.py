"""The API's long lists as plain rows, from written-out SQL: executions, findings and a run's
sightings.

A list of 1,000 executions through a ModelSerializer built 1,000 model instances of all 15
columns (two unused timestamptz columns among them, each loaded by Django in Python) and
then visited every field of every row through DRF's field machinery: 3.45 times the cost of
fetching the same rows with psycopg and dumping them as JSON. Here each list is one SELECT
written out below: the database selects only the columns served, writes the times in the
API's form (see `_time`), and each row becomes a dict in one pass, its keys in the documented
order.

Why SQL and not the ORM's values_list: the rows were already plain, but building the query
(filters, clones, the compiler) cost about 0.3 ms a request, the largest part of a short
list's time. These statements are the ones the ORM wrote, so the indexes that serve them are
the same (tasks/models.py; bench/api_scale.py reads their EXPLAIN at 1M rows).

The serializers in serializers.py still describe these shapes for the OpenAPI schema;
monitoring/tests/api/test_list_rows.py proves that both write the same JSON bytes. A field
added to a serializer must be added here too (that test fails until it is).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from tasks.models import Finding, Sighting, TaskExecution

TIME, JSON = "time", "json"


def _time(column: str) -> str:
    """A timestamptz column as tasks.timestamps.utc_iso writes it, written by the database;
    NULL stays NULL.

    Django loads a timestamptz through a loader written in Python (about 3.5 µs a value) and
    utc_iso costs as much again: at 1,000 rows of two or four times each, most of a list's
    cost. Text from the database costs neither.

    PostgreSQL: `to_char` of the time in UTC, whose `SS` drops the fraction as `utc_iso` does
    (never rounds up). SQLite (the local default) stores Django's aware datetimes as UTC text,
    "YYYY-MM-DD HH:MM:SS[.ffffff]": the first 19 characters are the time to the second.
    test_list_rows.py checks every list against the serializers' output, and the SQLite smoke
    test (reviewer/tests/test_local_default.py) the form on SQLite.
    """
    if connection.vendor == "sqlite":
        return f"replace(substr({column}, 1, 19), ' ', 'T') || 'Z'"
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


@dataclass(frozen=True)
class ListQuery:
    """One list: its FROM clause, and for each JSON key (in the serializer's order) the column
    that fills it and how it is read (as is, a time, or JSON text)."""

    source: str
    columns: dict[str, tuple[str, str | None]]
    order_by: str

    def statement(self, conditions: dict[str, Any], limit: int) -> tuple[str, list[Any]]:
        """The SELECT of the newest `limit` rows where every `expression %s` of `conditions`
        holds (a None value: that filter is off), and its parameters."""
        selected = ", ".join(_time(column) if kind == TIME else column for column, kind in self.columns.values())
        where = [(expression, value) for expression, value in conditions.items() if value is not None]
        sql = f"SELECT {selected} FROM {self.source}"
        if where:
            sql += " WHERE " + " AND ".join(f"{expression} %s" for expression, _ in where)
        sql += f" ORDER BY {self.order_by} DESC LIMIT %s"
        return sql, [_adapted(value) for _, value in where] + [limit]

    def rows(self, statement: tuple[str, list[Any]]) -> list[dict[str, Any]]:
        """The rows of one of this list's statements, as dicts; one query."""
        sql, params = statement
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        keys = tuple(self.columns)
        # Both backends hand JSON columns over as text (Django's psycopg set-up does so for
        # jsonb, so that JSONField parses it), parsed here as the JSONField would.
        decoded = [index for index, (_, kind) in enumerate(self.columns.values()) if kind == JSON]
        if not decoded:
            return [dict(zip(keys, row, strict=True)) for row in fetched]
        loads = json.loads
        rows = []
        for row in fetched:
            values = list(row)
            for index in decoded:
                if values[index] is not None:
                    values[index] = loads(values[index])
            rows.append(dict(zip(keys, values, strict=True)))
        return rows


def _adapted(value: Any) -> Any:
    """A parameter as the ORM passes it (a datetime in the backend's storage form)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


EXECUTIONS = ListQuery(
    source=TaskExecution._meta.db_table,
    columns={
        "id": ("id", None),
        "task_id": ("task_id", None),
        "status": ("status", None),
        "started_at": ("started_at", TIME),
        "completed_at": ("completed_at", TIME),
        "duration_seconds": ("duration_seconds", None),
        "result": ("result", JSON),
        "error_message": ("error_message", None),
    },
    order_by="id",
)

FINDINGS = ListQuery(
    source=Finding._meta.db_table,
    columns={
        "id": ("id", None),
        "execution_id": ("execution_id", None),
        "task_id": ("task_id", None),
        "connection_id": ("connection_id", None),
        "severity": ("severity", None),
        "category": ("category", None),
        "subject": ("subject", None),
        "state": ("state", None),
        "message": ("message", None),
        "remedy": ("remedy", None),
        "count": ("count", None),
        "first_seen": ("first_seen", TIME),
        "last_seen": ("last_seen", TIME),
        "resolved_at": ("resolved_at", TIME),
        "database": ("database", None),
        "user": ('"user"', None),
        "sample": ("sample", None),
        "details": ("details", JSON),
        "created_at": ("created_at", TIME),
    },
    order_by="id",
)

# A sighting reads like a finding: what this run saw (severity, message, count, times,
# sample, details) and, from the tracked finding, what identifies it and where it stands.
SIGHTINGS = ListQuery(
    source=f"{Sighting._meta.db_table} s JOIN {Finding._meta.db_table} f ON f.id = s.finding_id",
    columns={
        "id": ("s.finding_id", None),
        "execution_id": ("s.execution_id", None),
        "task_id": ("f.task_id", None),
        "connection_id": ("f.connection_id", None),
        "severity": ("s.severity", None),
        "category": ("f.category", None),
        "subject": ("f.subject", None),
        "state": ("f.state", None),
        "message": ("s.message", None),
        "remedy": ("f.remedy", None),
        "count": ("s.count", None),
        "first_seen": ("s.first_seen", TIME),
        "last_seen": ("s.last_seen", TIME),
        "resolved_at": ("f.resolved_at", TIME),
        "database": ("s.database", None),
        "user": ('s."user"', None),
        "sample": ("s.sample", None),
        "details": ("s.details", JSON),
        "created_at": ("f.created_at", TIME),
    },
    order_by="s.id",
)


def execution_rows(**filters: Any) -> list[dict[str, Any]]:
    """The newest executions as ExecutionSerializer describes them (filters: those of
    execution_statement)."""
    return EXECUTIONS.rows(execution_statement(**filters))


def execution_statement(
    *, limit: int, task_id: int | None = None, status: str | None = None, since: datetime | None = None
) -> tuple[str, list[Any]]:
    """The SELECT of the newest executions, and its parameters.

    `since`: started at or after it, or, not started yet, queued at or after it (the alerting
    script reads started_at, which every finished run has). One expression, because the
    execution indexes on `coalesce(started_at, created_at)` (tasks/models.py) serve it: an OR
    of the two columns made PostgreSQL read every failed run of the history to keep the last
    hour's."""
    conditions = {"task_id =": task_id, "status =": status, "COALESCE(started_at, created_at) >=": since}
    return EXECUTIONS.statement(conditions, limit)


def finding_rows(
    *,
    limit: int,
    connection_id: int | None = None,
    task_id: int | None = None,
    state: str | None = None,
    severity: str | None = None,
    category: str | None = None,
) -> list[dict[str, Any]]:
    """The newest findings as FindingSerializer describes them."""
    conditions = {
        "connection_id =": connection_id,
        "task_id =": task_id,
        "state =": state,
        "severity =": severity,
        "category =": category,
    }
    return FINDINGS.rows(FINDINGS.statement(conditions, limit))


def sighting_rows(*, execution_id: int, limit: int) -> list[dict[str, Any]]:
    """A run's sightings, newest first, as SightingSerializer describes them."""
    return SIGHTINGS.rows(SIGHTINGS.statement({"s.execution_id =": execution_id}, limit))
