"""GET /tasks/executions?status=…&since=…: filters for alerting, validated like limit.

A busy fleet's old failures must not scroll out of a script's window: a script asks for the
failed runs since a time instead of the last N runs of any kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.tests.conftest import API, assert_json_error
from tasks.models import ExecutionStatus
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

URL = f"{API}/tasks/executions"


def run(task, status, started_at=None):
    return TaskExecutionFactory(task=task, status=status, started_at=started_at)


def test_it_keeps_only_executions_in_the_given_status(reader):
    task = TaskFactory()
    failed = run(task, ExecutionStatus.FAILED, datetime.now(UTC))
    for _ in range(60):
        run(task, ExecutionStatus.COMPLETED, datetime.now(UTC))

    body = reader.get(URL, {"status": "failed"}).json()

    assert [item["id"] for item in body] == [failed.id]


def test_it_keeps_only_executions_started_since_the_given_time(reader):
    task = TaskFactory()
    old = run(task, ExecutionStatus.FAILED, datetime(2024, 1, 1, 1, 0, tzinfo=UTC))
    recent = run(task, ExecutionStatus.FAILED, datetime(2024, 1, 1, 3, 0, tzinfo=UTC))
    queued = run(task, ExecutionStatus.PENDING)  # not started: counts from when it was queued

    body = reader.get(URL, {"since": "2024-01-01T02:00:00Z"}).json()

    ids = [item["id"] for item in body]
    assert ids == [queued.id, recent.id]
    assert old.id not in ids


def test_filters_combine_with_task_id_and_limit(reader):
    task, other = TaskFactory(), TaskFactory()
    now = datetime.now(UTC)
    mine = [run(task, ExecutionStatus.FAILED, now - timedelta(minutes=i)) for i in range(5)]
    run(other, ExecutionStatus.FAILED, now)
    run(task, ExecutionStatus.COMPLETED, now)

    since = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = reader.get(URL, {"status": "failed", "since": since, "task_id": task.id, "limit": 3}).json()

    assert [item["id"] for item in body] == [e.id for e in reversed(mine)][:3]


@pytest.mark.parametrize("since", ["2024-01-01T03:00:00+01:00", "2024-01-01T02:00:00", "2024-01-01T02:00:00.5Z"])
def test_it_reads_since_in_utc_or_in_the_zone_it_names(reader, since):
    task = TaskFactory()
    before = run(task, ExecutionStatus.FAILED, datetime(2024, 1, 1, 1, 59, tzinfo=UTC))
    after = run(task, ExecutionStatus.FAILED, datetime(2024, 1, 1, 2, 0, 1, tzinfo=UTC))

    ids = [item["id"] for item in reader.get(URL, {"since": since}).json()]

    assert after.id in ids and before.id not in ids


@pytest.mark.parametrize("status", ["", "FAILED", "done", "failed,completed"])
def test_an_unknown_status_is_a_400(reader, status):
    assert "status must be one of" in assert_json_error(reader.get(URL, {"status": status}), 400)


@pytest.mark.parametrize(
    "since", ["", "yesterday", "2024-01-01", "2024-13-01T00:00:00Z", "1704067200", "2024-01-01 02:00:00Z"]
)
def test_a_malformed_since_is_a_400(reader, since):
    assert "since must be an ISO 8601 time" in assert_json_error(reader.get(URL, {"since": since}), 400)
