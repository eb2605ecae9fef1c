"""Paths: trailing slash optional, the /monitoring/ alias, the legacy 308, JSON 404s."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API, assert_json_error
from tasks.models import TaskExecution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

GET_PATHS = [
    "tasks/executions",
    "tasks/{task}/executions",
    "tasks/running",
    "connections/status",
    "connections/{connection}/status",
]
POST_PATHS = ["tasks/{task}/execute", "connections/{connection}/check"]


@pytest.fixture
def ids(db) -> dict[str, int]:
    execution = TaskExecutionFactory()
    return {"task": execution.task_id, "connection": execution.task.connection_id}


@pytest.mark.parametrize("path", GET_PATHS)
@pytest.mark.parametrize("slash", ["", "/"])
def test_every_documented_get_path_answers_with_or_without_a_trailing_slash(reader, ids, path, slash):
    response = reader.get(f"{API}/{path.format(**ids)}{slash}")

    assert response.status_code == 200
    assert isinstance(response.json(), list | dict)


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("slash", ["", "/"])
def test_every_documented_post_path_answers_with_or_without_a_trailing_slash(operator, ids, path, slash):
    assert operator.post(f"{API}/{path.format(**ids)}{slash}").status_code == 200


@pytest.mark.parametrize("path", GET_PATHS)
def test_the_short_alias_answers_exactly_like_the_canonical_path(reader, ids, path):
    path = path.format(**ids)

    canonical = reader.get(f"{API}/{path}?limit=5")
    alias = reader.get(f"/monitoring/{path}?limit=5")

    assert alias.status_code == canonical.status_code == 200
    assert alias.json() == canonical.json()


def test_the_short_alias_takes_posts_too(operator, ids):
    response = operator.post(f"/monitoring/tasks/{ids['task']}/execute")

    assert response.status_code == 200
    assert TaskExecution.objects.filter(pk=response.json()["execution_id"]).exists()


def test_the_legacy_base_redirects_a_get_with_308_keeping_the_query(anonymous):
    response = anonymous.get("/api/monitoring/tasks/executions?task_id=3&limit=10")

    assert response.status_code == 308
    assert response["Location"] == "/api/v1/monitoring/tasks/executions?task_id=3&limit=10"
    assert response["Content-Type"] == "application/json"


def test_the_legacy_base_redirects_a_post_with_308_which_keeps_the_method(operator, ids):
    response = operator.post(f"/api/monitoring/tasks/{ids['task']}/execute")

    assert response.status_code == 308
    assert response["Location"] == f"/api/v1/monitoring/tasks/{ids['task']}/execute"


def test_following_the_legacy_redirect_repeats_the_post(operator, ids):
    response = operator.post(f"/api/monitoring/tasks/{ids['task']}/execute", follow=True)

    assert response.redirect_chain == [(f"/api/v1/monitoring/tasks/{ids['task']}/execute", 308)]
    assert response.status_code == 200
    assert response.json()["message"] == "Task executed successfully"


def test_a_legacy_post_needs_no_csrf_token_to_be_redirected(db):
    client = APIClient(enforce_csrf_checks=True)

    assert client.post("/api/monitoring/tasks/1/execute?x=1")["Location"] == "/api/v1/monitoring/tasks/1/execute?x=1"


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v1/",
        "/api/v1/monitoring/",
        "/api/v1/monitoring/nothing",
        "/api/v1/monitoring/tasks",
        "/api/v1/monitoring/tasks/1",
        "/api/v1/monitoring/tasks/executions//",
        "/api/v1/monitoring/tasks/%00/executions",
        "/api/v1/monitoring/tasks/1/executions/extra",
        "/monitoring/",
        "/monitoring/nothing",
        "/api/v2/monitoring/tasks/executions",
    ],
)
def test_an_unknown_api_path_is_a_json_404(reader, path):
    assert_json_error(reader.get(path), 404)


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(db):
    client = APIClient(enforce_csrf_checks=True)

    assert_json_error(client.post("/api/v1/monitoring/nothing"), 404)


def test_paths_outside_the_api_keep_djangos_html_pages(client, db):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_the_admin_is_still_served(client, db):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_id_from_another_route_is_not_confused_with_a_fixed_segment(reader):
    TaskFactory()
    ConnectionFactory()

    assert reader.get(f"{API}/tasks/running").status_code == 200
    assert reader.get(f"{API}/connections/status").status_code == 200
