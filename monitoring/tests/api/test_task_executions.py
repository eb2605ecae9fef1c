"""GET /tasks/executions: the newest executions of every task, filtered by task_id, limited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from monitoring.tests.conftest import API, assert_json_error
from tasks.models import ExecutionStatus, TaskExecution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

URL = f"{API}/tasks/executions"
FIELDS = ["id", "task_id", "status", "started_at", "completed_at", "duration_seconds", "result", "error_message"]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_it_lists_executions_newest_first_with_the_documented_fields(reader):
    started = datetime(2024, 1, 1, 2, 0, 0, 123456, tzinfo=UTC)
    done = TaskExecutionFactory(
        status=ExecutionStatus.COMPLETED,
        started_at=started,
        completed_at=started + timedelta(minutes=5),
        duration_seconds=300,
        result={"analyzed_logs": 1000, "issues_found": 5},
    )
    queued = TaskExecutionFactory(task=done.task)

    response = reader.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body] == [queued.id, done.id]
    assert list(body[1]) == FIELDS
    assert body[1] == {
        "id": done.id,
        "task_id": done.task_id,
        "status": "completed",
        "started_at": "2024-01-01T02:00:00Z",
        "completed_at": "2024-01-01T02:05:00Z",
        "duration_seconds": 300,
        "result": {"analyzed_logs": 1000, "issues_found": 5},
        "error_message": None,
    }


def test_a_queued_execution_has_null_times_and_no_result(reader):
    TaskExecutionFactory()

    [item] = reader.get(URL).json()

    assert item["status"] == "pending"
    assert item["started_at"] is item["completed_at"] is item["duration_seconds"] is item["result"] is None


def test_a_failed_execution_carries_its_error(reader):
    failed = TaskExecutionFactory(
        status=ExecutionStatus.FAILED,
        started_at=datetime.now(UTC),
        completed_at=datetime.now(UTC),
        duration_seconds=0.25,
        error_message="connection timeout expired",
    )

    [item] = reader.get(URL).json()

    assert item["id"] == failed.id
    assert item["error_message"] == "connection timeout expired"
    assert item["duration_seconds"] == 0.25
    assert TIMESTAMP.fullmatch(item["started_at"])


def test_it_filters_by_task_id(reader):
    mine = TaskExecutionFactory()
    TaskExecutionFactory()

    body = reader.get(URL, {"task_id": mine.task_id}).json()

    assert [item["id"] for item in body] == [mine.id]


@pytest.mark.parametrize("task_id", ["999999", "-1", "99999999999999999999999"])
def test_a_task_id_no_task_has_gives_an_empty_list(reader, task_id):
    TaskExecutionFactory()

    response = reader.get(URL, {"task_id": task_id})

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("task_id", ["abc", "1.5", "", "+1", " 1", "1e3", "١"])
def test_a_task_id_that_is_not_an_integer_is_a_400(reader, task_id):
    detail = assert_json_error(reader.get(URL, {"task_id": task_id}), 400)
    assert "task_id" in detail


def test_the_default_limit_is_50(reader):
    task = TaskFactory()
    TaskExecution.objects.bulk_create([TaskExecution(task=task) for _ in range(55)])

    body = reader.get(URL).json()

    assert len(body) == 50
    assert body[0]["id"] == TaskExecution.objects.order_by("-id").first().id


def test_limit_takes_the_newest_rows(reader):
    task = TaskFactory()
    TaskExecution.objects.bulk_create([TaskExecution(task=task) for _ in range(5)])
    newest = list(TaskExecution.objects.order_by("-id").values_list("id", flat=True)[:2])

    body = reader.get(URL, {"limit": "2"}).json()

    assert [item["id"] for item in body] == newest


@pytest.mark.parametrize("limit", ["1001", "5000", "99999999999999999999999"])
def test_a_limit_above_1000_is_capped_at_1000(reader, limit):
    task = TaskFactory()
    TaskExecution.objects.bulk_create([TaskExecution(task=task) for _ in range(1003)])

    response = reader.get(URL, {"limit": limit})

    assert response.status_code == 200
    assert len(response.json()) == 1000


def test_a_limit_with_leading_zeros_is_still_a_number(reader):
    TaskExecutionFactory.create_batch(3)

    assert len(reader.get(URL, {"limit": "002"}).json()) == 2


@pytest.mark.parametrize("limit", ["abc", "0", "-1", "+5", "1e3", "5.0", "", " 5", "5 ", "0x10", "²", "١٢", "000"])
def test_a_malformed_limit_is_a_400(reader, limit):
    detail = assert_json_error(reader.get(URL, {"limit": limit}), 400)
    assert "limit" in detail
