"""Access: token or session; reads need a user unless REVIEWER_PUBLIC_READ; actions need
their permission. Anonymous callers get 401, authenticated ones without permission 403."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from monitoring.tests.conftest import API, assert_json_error
from tasks.tests.factories import TaskExecutionFactory

GET_PATHS = [
    "tasks/executions",
    "tasks/{task}/executions",
    "tasks/running",
    "connections/status",
    "connections/{connection}/status",
]


@pytest.fixture
def ids(db) -> dict[str, int]:
    execution = TaskExecutionFactory(task__connection__port=1)  # a probe of it fails fast
    return {"task": execution.task_id, "connection": execution.task.connection_id}


@pytest.mark.parametrize("path", GET_PATHS)
def test_an_anonymous_read_is_a_401_with_a_token_challenge(anonymous, ids, path):
    response = anonymous.get(f"{API}/{path.format(**ids)}")

    assert_json_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("path", GET_PATHS)
def test_public_read_lets_anonymous_clients_read(anonymous, ids, public_read, path):
    assert anonymous.get(f"{API}/{path.format(**ids)}").status_code == 200


@pytest.mark.parametrize("path", GET_PATHS)
def test_public_read_also_opens_the_short_alias(anonymous, ids, public_read, path):
    assert anonymous.get(f"/monitoring/{path.format(**ids)}").status_code == 200


def test_public_read_is_read_at_request_time(anonymous, settings, ids):
    settings.REVIEWER_PUBLIC_READ = False
    assert anonymous.get(f"{API}/tasks/executions").status_code == 401
    settings.REVIEWER_PUBLIC_READ = True
    assert anonymous.get(f"{API}/tasks/executions").status_code == 200


def test_a_wrong_token_is_a_401_even_with_public_read(anonymous, public_read):
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert_json_error(anonymous.get(f"{API}/tasks/executions"), 401)


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token \u00e9"])
def test_a_malformed_token_header_is_a_json_401(anonymous, header):
    anonymous.credentials(HTTP_AUTHORIZATION=header)

    assert_json_error(anonymous.get(f"{API}/tasks/executions"), 401)


def test_a_logged_in_admin_session_may_read(ids):
    User.objects.create_user("staff", password="pw-staff-1")
    client = APIClient()
    assert client.login(username="staff", password="pw-staff-1")

    assert client.get(f"{API}/tasks/executions").status_code == 200


def test_a_session_post_without_the_csrf_token_is_a_json_403(ids):
    User.objects.create_superuser("root", password="pw-root-1")
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="root", password="pw-root-1")

    detail = assert_json_error(client.post(f"{API}/tasks/{ids['task']}/execute"), 403)
    assert "CSRF" in detail


def test_a_session_post_with_the_csrf_token_is_allowed(ids):
    User.objects.create_superuser("root", password="pw-root-1")
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="root", password="pw-root-1")
    client.get("/admin/")  # sets the csrftoken cookie, as the admin pages do
    token = client.cookies["csrftoken"].value

    response = client.post(f"{API}/tasks/{ids['task']}/execute", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["tasks/{task}/execute", "connections/{connection}/check"])
def test_an_action_by_a_user_without_its_permission_is_a_403(reader, ids, path):
    assert_json_error(reader.post(f"{API}/{path.format(**ids)}"), 403)


def test_each_action_needs_its_own_permission(ids):
    from django.contrib.auth.models import Permission

    from monitoring.tests.conftest import client_for

    user = User.objects.create_user("runner")
    user.user_permissions.add(Permission.objects.get(codename="run_task"))
    client = client_for(user)

    assert client.post(f"{API}/tasks/{ids['task']}/execute").status_code == 200
    assert_json_error(client.post(f"{API}/connections/{ids['connection']}/check"), 403)
