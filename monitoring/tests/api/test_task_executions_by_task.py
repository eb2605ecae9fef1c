"""GET /tasks/{task_id}/executions: one task's newest executions; 404 for an unknown task."""

from __future__ import annotations

import pytest

from monitoring.tests.conftest import API, assert_json_error
from tasks.models import TaskExecution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory


def url(task_id) -> str:
    return f"{API}/tasks/{task_id}/executions"


def test_it_lists_only_that_tasks_executions_newest_first(reader):
    task = TaskFactory()
    first, second = TaskExecutionFactory.create_batch(2, task=task)
    TaskExecutionFactory()

    response = reader.get(url(task.id))

    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [second.id, first.id]
    assert {item["task_id"] for item in response.json()} == {task.id}


def test_a_task_without_executions_gives_an_empty_list(reader):
    assert reader.get(url(TaskFactory().id)).json() == []


def test_the_default_limit_is_20(reader):
    task = TaskFactory()
    TaskExecution.objects.bulk_create([TaskExecution(task=task) for _ in range(25)])

    assert len(reader.get(url(task.id)).json()) == 20


def test_limit_applies_and_is_capped(reader):
    task = TaskFactory()
    TaskExecution.objects.bulk_create([TaskExecution(task=task) for _ in range(1002)])

    assert len(reader.get(url(task.id), {"limit": "3"}).json()) == 3
    assert len(reader.get(url(task.id), {"limit": "1001"}).json()) == 1000


@pytest.mark.parametrize("limit", ["abc", "0", "-1", "+5", "1e3", "5.0", ""])
def test_a_malformed_limit_is_a_400(reader, limit):
    assert_json_error(reader.get(url(TaskFactory().id), {"limit": limit}), 400)


def test_an_unknown_task_is_a_404(reader):
    assert assert_json_error(reader.get(url(999999)), 404) == "Task not found."


def test_a_task_id_beyond_any_integer_column_is_a_404(reader):
    assert_json_error(reader.get(url("99999999999999999999999")), 404)


@pytest.mark.parametrize("task_id", ["abc", "1.5", "-1", "+1", "%20", "1e3", "١"])
def test_a_path_id_that_is_not_an_integer_is_a_json_404(reader, task_id):
    assert_json_error(reader.get(url(task_id)), 404)
