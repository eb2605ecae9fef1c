"""POST /tasks/{task_id}/execute: a pending run is committed, then queued on Redis."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from monitoring.tests.conftest import API, assert_json_error, client_for
from tasks.models import ExecutionStatus, TaskExecution, Trigger
from tasks.tests.factories import TaskExecutionFactory, TaskFactory
from testing.wait import wait_for


def url(task_id) -> str:
    return f"{API}/tasks/{task_id}/execute"


def test_it_creates_a_pending_manual_execution_and_answers_its_id(operator):
    task = TaskFactory()

    response = operator.post(url(task.id))

    assert response.status_code == 200
    body = response.json()
    assert body == {"message": "Task executed successfully", "execution_id": body["execution_id"]}
    execution = TaskExecution.objects.get(pk=body["execution_id"])
    assert execution.task == task
    assert execution.status == ExecutionStatus.PENDING
    assert execution.trigger == Trigger.MANUAL
    assert execution.triggered_by.username == "operator"


def test_a_run_in_progress_does_not_prevent_a_new_one(operator):
    task = TaskFactory()
    running = TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING)

    response = operator.post(url(task.id))

    assert response.status_code == 200
    assert response.json()["execution_id"] != running.id
    assert task.executions.count() == 2


def test_a_superuser_may_execute(admin_client_token):
    assert admin_client_token.post(url(TaskFactory().id)).status_code == 200


def test_an_unknown_task_is_a_404(operator):
    assert assert_json_error(operator.post(url(999999)), 404) == "Task not found."
    assert not TaskExecution.objects.exists()


@pytest.mark.parametrize("task_id", ["abc", "1.5", "-1"])
def test_a_non_integer_task_id_is_a_json_404(operator, task_id):
    assert_json_error(operator.post(url(task_id)), 404)


def test_an_anonymous_caller_gets_401_with_a_challenge(anonymous):
    response = anonymous.post(url(TaskFactory().id))

    assert_json_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"
    assert not TaskExecution.objects.exists()


def test_an_anonymous_caller_gets_401_even_with_public_read(anonymous, public_read):
    assert_json_error(anonymous.post(url(TaskFactory().id)), 401)


def test_a_user_without_the_run_task_permission_gets_403(reader):
    assert_json_error(reader.post(url(TaskFactory().id)), 403)
    assert not TaskExecution.objects.exists()


def test_get_is_not_allowed(operator):
    response = operator.get(url(TaskFactory().id))

    assert_json_error(response, 405)
    assert "POST" in response["Allow"]


@pytest.mark.django_db(transaction=True)
def test_an_executed_task_reaches_completed_through_a_real_worker(worker):
    client = client_for(User.objects.create_superuser("root"))
    task = TaskFactory()

    execution_id = client.post(url(task.id)).json()["execution_id"]

    def finished() -> dict | None:
        [item] = client.get(f"{API}/tasks/{task.id}/executions").json()
        return item if item["status"] in ("completed", "failed") else None

    item = wait_for(finished, timeout=60)
    assert item["id"] == execution_id
    assert item["status"] == "completed", item["error_message"]
    assert item["result"]["is_healthy"] is True
    assert item["started_at"] and item["completed_at"]
    assert item["duration_seconds"] >= 0


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_broker_is_a_500_and_the_run_is_failed_not_left_pending(unreachable_broker):
    client = client_for(User.objects.create_superuser("root"))
    task = TaskFactory()

    response = client.post(url(task.id))

    detail = assert_json_error(response, 500)
    assert detail.startswith("Could not queue the run: broker unreachable (") and detail.count("queue") == 1
    execution = TaskExecution.objects.get(task=task)
    assert execution.status == ExecutionStatus.FAILED
    assert "broker unreachable" in execution.error_message
    # The document's alerting script reads started_at of every failed row.
    assert execution.started_at is not None
    assert execution.completed_at is not None
