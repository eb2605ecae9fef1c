"""The OpenAPI schema at /api/v1/schema/ describes the real responses, errors included.

Each real response is validated (jsonschema) against the schema the server serves for its
path, method and status code; objects are made strict (no undocumented keys) for the check.
"""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest
import yaml
from drf_spectacular.validation import validate_schema

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API, SCHEMA_URL
from tasks.models import ExecutionStatus
from tasks.tests.factories import TaskExecutionFactory, TaskFactory
from testing.network import free_port


def test_the_schema_is_valid_openapi_3_listing_the_seven_endpoints_and_findings(openapi):
    validate_schema(openapi)
    assert openapi["openapi"].startswith("3.")
    assert sorted(openapi["paths"]) == sorted(
        f"{API}/{path}"
        for path in [
            "tasks/executions",
            "tasks/{task_id}/executions",
            "tasks/{task_id}/execute",
            "tasks/running",
            "connections/status",
            "connections/{connection_id}/status",
            "connections/{connection_id}/check",
            "tasks/executions/{execution_id}/findings",
            "findings",
        ]
    )


def test_the_schema_is_also_served_as_yaml(anonymous, openapi):
    response = anonymous.get(SCHEMA_URL, {"format": "yaml"})

    assert response.status_code == 200
    assert yaml.safe_load(response.content) == openapi


def test_the_list_endpoints_document_their_parameters(openapi):
    def parameters(path: str) -> dict:
        return {p["name"]: p for p in openapi["paths"][f"{API}/{path}"]["get"]["parameters"]}

    assert set(parameters("tasks/executions")) == {"task_id", "status", "since", "limit"}
    assert set(parameters("tasks/{task_id}/executions")) == {"task_id", "limit"}
    assert parameters("tasks/executions")["limit"]["schema"]["type"] == "integer"
    assert "default 20" in parameters("tasks/{task_id}/executions")["limit"]["description"]


def test_execution_lists_match_the_schema(reader, anonymous, check):
    task = TaskFactory()
    now = datetime.now(UTC)
    TaskExecutionFactory(
        task=task,
        status=ExecutionStatus.COMPLETED,
        started_at=now,
        completed_at=now,
        duration_seconds=1.5,
        result={"is_healthy": True},
    )
    TaskExecutionFactory(
        task=task,
        status=ExecutionStatus.FAILED,
        started_at=now,
        completed_at=now,
        duration_seconds=0,
        error_message="boom",
    )
    TaskExecutionFactory(task=task)

    check(reader.get(f"{API}/tasks/executions"), "tasks/executions", "get")
    check(reader.get(f"{API}/tasks/executions", {"limit": "abc"}), "tasks/executions", "get")
    check(anonymous.get(f"{API}/tasks/executions"), "tasks/executions", "get")
    check(reader.get(f"{API}/tasks/{task.id}/executions"), "tasks/{task_id}/executions", "get")
    check(reader.get(f"{API}/tasks/999999/executions"), "tasks/{task_id}/executions", "get")
    check(reader.get(f"{API}/tasks/{task.id}/executions", {"limit": "0"}), "tasks/{task_id}/executions", "get")


def test_execute_responses_match_the_schema(operator, reader, anonymous, check):
    task = TaskFactory()

    check(operator.post(f"{API}/tasks/{task.id}/execute"), "tasks/{task_id}/execute", "post")
    check(operator.post(f"{API}/tasks/999999/execute"), "tasks/{task_id}/execute", "post")
    check(reader.post(f"{API}/tasks/{task.id}/execute"), "tasks/{task_id}/execute", "post")
    check(anonymous.post(f"{API}/tasks/{task.id}/execute"), "tasks/{task_id}/execute", "post")


def test_running_tasks_match_the_schema(reader, check):
    task = TaskFactory()
    TaskExecutionFactory(task=task, status=ExecutionStatus.COMPLETED, duration_seconds=30)
    TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, started_at=datetime.now(UTC))
    TaskExecutionFactory(status=ExecutionStatus.RUNNING, started_at=datetime.now(UTC))

    check(reader.get(f"{API}/tasks/running"), "tasks/running", "get")


def test_connection_statuses_match_the_schema(reader, check):
    probed = ConnectionFactory()
    ConnectionStatus.objects.create(
        connection=probed, is_healthy=True, checked_at=datetime.now(UTC), response_time_ms=3, server_version="16.2"
    )
    ConnectionFactory()  # never probed: nulls

    check(reader.get(f"{API}/connections/status"), "connections/status", "get")
    check(reader.get(f"{API}/connections/{probed.id}/status"), "connections/{connection_id}/status", "get")
    check(reader.get(f"{API}/connections/999999/status"), "connections/{connection_id}/status", "get")


def test_health_checks_match_the_schema(operator, reader, settings, check):
    settings.VAULT_ADDR = ""
    path = "connections/{connection_id}/check"
    for connection in (
        ConnectionFactory(),
        ConnectionFactory(port=free_port()),
        ConnectionFactory(vault_path="secret/reviewer/db"),
    ):
        check(operator.post(f"{API}/connections/{connection.id}/check"), path, "post")
    check(operator.post(f"{API}/connections/999999/check"), path, "post")
    check(reader.post(f"{API}/connections/{ConnectionFactory().id}/check"), path, "post")


def test_a_500_matches_the_schema(reader, monkeypatch, check):
    from tasks import estimates

    monkeypatch.setattr(estimates, "running_runs", lambda: 1 / 0)

    check(reader.get(f"{API}/tasks/running"), "tasks/running", "get")


def test_the_check_itself_rejects_an_undocumented_key(reader, check):
    ConnectionFactory()
    response = reader.get(f"{API}/connections/status")
    body = response.json()
    response.json = lambda: [{**body[0], "surprise": 1}]

    with pytest.raises(jsonschema.ValidationError):
        check(response, "connections/status", "get")


OPERATION_IDS = {
    ("tasks/executions", "get"): "list_executions",
    ("tasks/{task_id}/executions", "get"): "list_task_executions",
    ("tasks/{task_id}/execute", "post"): "execute_task",
    ("tasks/running", "get"): "list_running_tasks",
    ("connections/status", "get"): "list_connection_statuses",
    ("connections/{connection_id}/status", "get"): "get_connection_status",
    ("connections/{connection_id}/check", "post"): "check_connection",
    ("tasks/executions/{execution_id}/findings", "get"): "list_execution_findings",
    ("findings", "get"): "list_findings",
}


def test_each_operation_has_one_stable_operation_id(openapi):
    found = {
        (path.removeprefix(f"{API}/"), method): operation["operationId"]
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
    }
    assert found == OPERATION_IDS


def test_the_whole_urlconf_describes_each_operation_once():
    # drf-spectacular's own checks (manage.py check --deploy) walk every route, the alias and
    # the trailing-slash forms included: they must not yield a second copy of an operation.
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation_ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert sorted(operation_ids) == sorted(OPERATION_IDS.values())
