"""POST /connections/{id}/check: a real probe now, 200 whether healthy or not."""

from __future__ import annotations

import re

import pytest

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API, assert_json_error
from testing.network import free_port


def url(connection_id) -> str:
    return f"{API}/connections/{connection_id}/check"


def test_a_healthy_database_answers_the_success_shape(operator):
    connection = ConnectionFactory()

    response = operator.post(url(connection.id))

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["connection_id", "is_healthy", "response_time_ms", "server_version", "last_check"]
    assert body["connection_id"] == connection.id
    assert body["is_healthy"] is True
    assert re.fullmatch(r"\d+\.\d+", body["server_version"])
    assert isinstance(body["response_time_ms"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["last_check"])


def test_a_refused_port_answers_the_failure_shape(operator):
    connection = ConnectionFactory(port=free_port())

    response = operator.post(url(connection.id))

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["connection_id", "is_healthy", "error_message", "response_time_ms", "last_check"]
    assert body["is_healthy"] is False
    assert "Connection refused" in body["error_message"]
    assert isinstance(body["response_time_ms"], int)


def test_a_missing_database_answers_the_servers_message(operator):
    connection = ConnectionFactory(database="no_such_database")

    body = operator.post(url(connection.id)).json()

    assert body["is_healthy"] is False
    assert body["error_message"] == 'FATAL: database "no_such_database" does not exist'


def test_unavailable_credentials_answer_a_null_response_time(operator, settings):
    settings.VAULT_ADDR = ""
    connection = ConnectionFactory(vault_path="secret/reviewer/prod-db")

    body = operator.post(url(connection.id)).json()

    assert body["is_healthy"] is False
    assert body["error_message"].startswith("Vault:")
    assert body["response_time_ms"] is None


def test_the_result_is_stored_and_becomes_the_status(operator):
    connection = ConnectionFactory()

    checked = operator.post(url(connection.id)).json()
    status = operator.get(f"{API}/connections/{connection.id}/status").json()

    assert ConnectionStatus.objects.filter(connection=connection).count() == 1
    assert status["last_check"] == checked["last_check"]
    assert status["response_time_ms"] == checked["response_time_ms"]


def test_a_superuser_may_check(admin_client_token):
    assert admin_client_token.post(url(ConnectionFactory().id)).status_code == 200


def test_an_unknown_connection_is_a_404(operator):
    assert assert_json_error(operator.post(url(999999)), 404) == "Connection not found."


@pytest.mark.parametrize("connection_id", ["abc", "1.5", "-1"])
def test_a_non_integer_id_is_a_json_404(operator, connection_id):
    assert_json_error(operator.post(url(connection_id)), 404)


def test_an_anonymous_caller_gets_401(anonymous, public_read):
    assert_json_error(anonymous.post(url(ConnectionFactory().id)), 401)
    assert not ConnectionStatus.objects.exists()


def test_a_user_without_the_check_permission_gets_403(reader):
    assert_json_error(reader.post(url(ConnectionFactory().id)), 403)
    assert not ConnectionStatus.objects.exists()
