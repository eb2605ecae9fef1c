"""Property-based fuzzing of every operation in the OpenAPI schema, against a live server on
the test database, plus a regression list of inputs that once broke the API.

Schemathesis generates requests from the schema the server serves (valid and invalid ones)
and checks each answer: never a 5xx, always JSON, and a body, status and content type the
schema documents. The number of examples is bounded so the whole run stays under a minute.
"""

from __future__ import annotations

import os
import urllib.parse

import pytest
import requests
import schemathesis
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from tasks.models import ExecutionStatus
from tasks.tests.factories import TaskExecutionFactory, TaskFactory
from testing.web import WebServer
from testing.worker import database_url_for_test_db

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 40
API = "/api/v1/monitoring"


@pytest.fixture
def fleet():
    """A little of everything, at low ids, so generated ids sometimes hit real rows."""
    connection = ConnectionFactory(host="127.0.0.1", port=5432, database="postgres", username="postgres")
    ConnectionStatus.objects.create(connection=connection, is_healthy=True, checked_at="2026-01-01T00:00:00Z")
    task = TaskFactory(connection=connection)
    TaskExecutionFactory(task=task, status=ExecutionStatus.COMPLETED)
    return connection


@pytest.fixture
def token(fleet) -> str:
    user = User.objects.create_superuser("fuzzer", "fuzzer@example.com", "not-used")
    return Token.objects.create(user=user).key


@pytest.fixture(scope="module")
def web(django_db_setup):
    """The real web process (`manage.py runserver`, as `make run` starts it) on the test database."""
    server = WebServer({**os.environ, "DATABASE_URL": database_url_for_test_db()}).start()
    server.url = server.base
    yield server
    server.stop()


def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(web, token):
    schema = schemathesis.openapi.from_url(f"{web.url}/api/v1/schema/")
    headers = {"Authorization": f"Token {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case) -> None:
            case.call_and_validate(base_url=web.url, headers=headers)

        fuzz()


# Inputs that once answered 500, a traceback, or cost more than they should.
REGRESSIONS = [
    f"{API}/tasks/executions?task_id={'9' * 5000}",
    f"{API}/tasks/executions?limit={'9' * 5000}",
    f"{API}/tasks/executions?since=0001-01-01T00:00:00%2B01:00",
    f"{API}/tasks/executions?since=9999-12-31T23:59:59-01:00",
    f"{API}/tasks/executions?" + "&".join(f"p{n}=1" for n in range(1100)),
    f"{API}/tasks/{'9' * 5000}/executions",
    f"{API}/tasks/executions/{'9' * 5000}/findings",
    f"{API}/connections/{'9' * 30}/status",
    f"{API}/findings?category=%00",
    f"{API}/findings?severity=%00&connection_id=-{'9' * 40}",
    f"{API}/tasks/executions?status=%00",
    f"{API}/tasks/%00/executions",
]


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda path: urllib.parse.unquote(path)[:60])
@pytest.mark.parametrize("who", ["anonymous", "token"])
def test_a_once_harmful_input_gets_a_json_answer_below_500(web, token, path, who):
    headers = {"Authorization": f"Token {token}"} if who == "token" else {}

    response = requests.get(web.url + path, headers=headers, timeout=30)

    assert response.status_code < 500
    assert response.headers["Content-Type"].startswith("application/json")
    assert "detail" in response.json() or isinstance(response.json(), list)


def test_a_bad_host_header_on_the_live_server_is_a_json_400(web):
    response = requests.get(f"{web.url}{API}/tasks/executions", headers={"Host": "evil.example"}, timeout=30)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Bad request")
