"""The execution and finding lists, built as plain rows (monitoring/api/rows.py), answer the
same JSON bytes as the serializers that describe them in the OpenAPI schema.

The rows are chosen to differ wherever a conversion could: every status, nulls in every
nullable field, fractions of a second that must be cut (never rounded), times from the first
and the last year a datetime can hold, long and non-ASCII text (with the line separators the
renderer escapes), and JSON results of every kind.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitoring.api.rows import execution_rows, finding_rows, sighting_rows
from monitoring.api.serializers import ExecutionSerializer, FindingSerializer, SightingSerializer
from monitoring.api.views import SpacedJSONRenderer
from monitoring.tests.conftest import API
from tasks.models import ExecutionStatus, Finding, FindingState, Sighting, TaskExecution
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory

PARIS_SUMMER = timezone(timedelta(hours=2))
LONG_ERROR = 'FATAL: password authentication failed for user "app" — ' + 'ошибка ✗ 🐘 \\ " ' * 700
ODD_TEXT = "tab\there, line\u2028separator, paragraph\u2029separator, nul-free \x01 control, 日本語"


def serializer_bytes(serializer, queryset) -> bytes:
    """What the list answered before rows.py: the ModelSerializer's data, rendered."""
    return SpacedJSONRenderer().render(serializer(queryset, many=True).data)


def varied_executions() -> int:
    """Executions of two tasks, covering every status and every null; how many."""
    task, other = TaskFactory(), TaskFactory()
    start = datetime(2024, 1, 1, 2, 0, 59, 999_999, tzinfo=UTC)
    rows = [
        {"status": ExecutionStatus.PENDING},
        {"status": ExecutionStatus.RUNNING, "started_at": start.astimezone(PARIS_SUMMER)},
        {
            "status": ExecutionStatus.COMPLETED,
            "started_at": start,
            "completed_at": start + timedelta(seconds=300, microseconds=1),
            "duration_seconds": 300.000001,
            "result": {"analyzed_logs": 1000, "issues_found": 5, "ratio": 0.1, "big": 2**62, "none": None},
        },
        {
            "status": ExecutionStatus.COMPLETED,
            "started_at": datetime(1, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC),
            "completed_at": datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
            "duration_seconds": 0.0,
            "result": {"ключ": ["значение", ODD_TEXT, {"nested": [True, False, 1.5e-9, -0.0]}], "": ""},
        },
        {
            "status": ExecutionStatus.COMPLETED,
            "started_at": datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
            "completed_at": start,
            "duration_seconds": 1e-9,
            "result": [1, "two", 3.0],
        },
        {"status": ExecutionStatus.COMPLETED, "started_at": start, "completed_at": start, "result": "just text"},
        {"status": ExecutionStatus.COMPLETED, "started_at": start, "completed_at": start, "result": {}},
        {
            "status": ExecutionStatus.FAILED,
            "started_at": start,
            "completed_at": start + timedelta(hours=30),
            "duration_seconds": 108000.125,
            "error_message": LONG_ERROR,
        },
        {"status": ExecutionStatus.FAILED, "started_at": start, "completed_at": start, "error_message": ODD_TEXT},
        {"status": ExecutionStatus.FAILED, "started_at": start, "completed_at": start, "error_message": ""},
    ]
    for n, fields in enumerate(rows):
        TaskExecutionFactory(task=task if n % 2 else other, **fields)
    return len(rows)


def varied_findings() -> int:
    """Findings open and resolved, with and without their optional fields, each with a
    sighting whose own fields differ from the finding's; how many."""
    start = datetime(2024, 3, 31, 0, 59, 59, 999_999, tzinfo=UTC)
    findings = [
        FindingFactory(),
        FindingFactory(
            severity="critical",
            category="connection_slots",
            subject="53300 — слоты",
            state=FindingState.RESOLVED,
            message=LONG_ERROR,
            remedy="ALTER SYSTEM SET max_connections = 200;\nSELECT pg_reload_conf();",
            count=2**31 - 1,
            first_seen=start,
            last_seen=start + timedelta(days=1),
            resolved_at=start.astimezone(PARIS_SUMMER),
            database="app",
            user="пользователь",
            sample=ODD_TEXT,
            details={"sqlstate": "53300", "top": [{"message": ODD_TEXT, "count": 3}], "ratio": 0.25},
        ),
        FindingFactory(severity="info", first_seen=datetime(999, 1, 1, tzinfo=UTC), details={"empty": {}}),
    ]
    for n, finding in enumerate(findings):
        Sighting.objects.filter(finding=finding).update(
            severity="info",
            message=f"seen by this run {n} ✓",
            count=n + 7,
            first_seen=start - timedelta(minutes=n),
            last_seen=None if n == 0 else start,
            sample=f"sample {n}\u2028",
            database=f"db{n}",
            user="",
            details={"run": n, "times": [ODD_TEXT]},
        )
    return len(findings)


@pytest.fixture
def executions(db) -> int:
    return varied_executions()


@pytest.fixture
def findings(db) -> int:
    return varied_findings()


def test_the_executions_list_answers_what_the_serializer_wrote(anonymous, public_read, executions):
    response = anonymous.get(f"{API}/tasks/executions?limit=1000")

    assert len(response.json()) == executions
    assert response.content == serializer_bytes(ExecutionSerializer, TaskExecution.objects.order_by("-id"))


def test_a_tasks_executions_answer_what_the_serializer_wrote(anonymous, public_read, executions):
    task_id = TaskExecution.objects.order_by("id").last().task_id
    response = anonymous.get(f"{API}/tasks/{task_id}/executions")

    assert len(response.json()) == executions // 2
    mine = TaskExecution.objects.filter(task_id=task_id).order_by("-id")
    assert response.content == serializer_bytes(ExecutionSerializer, mine)


@pytest.mark.parametrize("status", ExecutionStatus.values)
def test_each_status_filter_answers_what_the_serializer_wrote(anonymous, public_read, executions, status):
    response = anonymous.get(f"{API}/tasks/executions?status={status}")

    assert response.json() and {row["status"] for row in response.json()} == {status}
    same = TaskExecution.objects.filter(status=status).order_by("-id")
    assert response.content == serializer_bytes(ExecutionSerializer, same)


def test_times_are_cut_to_the_second_in_utc_with_four_digit_years(executions):
    written = json.dumps(execution_rows(limit=1000))

    assert "2024-01-01T02:00:59Z" in written  # .999999 s cut, Paris time moved to UTC
    assert "0001-01-01T00:00:00Z" in written and "9999-12-31T23:59:59Z" in written
    assert "0999-12-31T23:59:59Z" in written


def test_the_findings_list_answers_what_the_serializer_wrote(anonymous, public_read, findings):
    response = anonymous.get(f"{API}/findings?limit=1000")

    assert len(response.json()) == findings
    assert response.content == serializer_bytes(FindingSerializer, Finding.objects.order_by("-id"))


def test_a_runs_findings_answer_what_the_serializer_wrote_of_its_sightings(anonymous, public_read, findings):
    for finding in Finding.objects.all():
        response = anonymous.get(f"{API}/tasks/executions/{finding.execution_id}/findings")

        # This run's own message, not the tracked finding's.
        sighting = Sighting.objects.get(finding=finding)
        assert [row["message"] for row in response.json()] == [sighting.message] != [finding.message]
        sightings = Sighting.objects.filter(execution_id=finding.execution_id).select_related("finding").order_by("-id")
        assert response.content == serializer_bytes(SightingSerializer, sightings)


def test_the_rows_hold_the_same_values_as_the_serializers(executions, findings):
    """Equal as Python values too, so a key in another order or an int for a float shows here
    with a readable diff."""
    runs = TaskExecution.objects.order_by("-id")
    problems = Finding.objects.order_by("-id")

    assert execution_rows(limit=1000) == ExecutionSerializer(runs, many=True).data
    assert finding_rows(limit=1000) == FindingSerializer(problems, many=True).data
    for run_id in Sighting.objects.values_list("execution_id", flat=True).distinct():
        seen = Sighting.objects.filter(execution_id=run_id).select_related("finding").order_by("-id")
        assert sighting_rows(execution_id=run_id, limit=1000) == SightingSerializer(seen, many=True).data
    for rows, serializer in (
        (execution_rows(limit=1000), ExecutionSerializer),
        (finding_rows(limit=1000), FindingSerializer),
    ):
        assert [list(row) for row in rows] == [list(serializer.Meta.fields)] * len(rows)
