"""GET /connections/{id}/status: the cached latest probe; a probe now if there is none."""

from __future__ import annotations

import re

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from connections.models import ConnectionStatus
from connections.status import record_probe
from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API, assert_json_error
from testing.network import free_port


def url(connection_id) -> str:
    return f"{API}/connections/{connection_id}/status"


def test_a_never_probed_connection_is_probed_now_and_the_result_stored(reader):
    connection = ConnectionFactory(name="Local", database="postgres")

    response = reader.get(url(connection.id))

    assert response.status_code == 200
    body = response.json()
    assert body["connection_id"] == connection.id
    assert body["name"] == "Local"
    assert body["is_healthy"] is True
    assert re.fullmatch(r"\d+\.\d+", body["server_version"])
    assert isinstance(body["response_time_ms"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["last_check"])
    assert body["error_message"] is None
    assert ConnectionStatus.objects.filter(connection=connection).count() == 1


def test_a_never_probed_dead_connection_answers_its_failure(reader):
    connection = ConnectionFactory(port=free_port())

    body = reader.get(url(connection.id)).json()

    assert body["is_healthy"] is False
    assert "Connection refused" in body["error_message"]
    assert body["server_version"] is None


def test_the_latest_result_is_served_from_the_cache_without_probing_again(reader):
    connection = ConnectionFactory()
    latest = record_probe(connection)
    reader.get(url(connection.id))  # the first read after a new result loads it

    with CaptureQueriesContext(db_connection) as queries:
        body = reader.get(url(connection.id)).json()

    assert body["last_check"] is not None
    assert body["response_time_ms"] == latest.response_time_ms
    assert ConnectionStatus.objects.filter(connection=connection).count() == 1
    # The token's user, the connection and its status all came from Redis.
    assert queries.captured_queries == []


def test_a_stored_result_is_answered_when_the_cache_is_cold(reader):
    connection = ConnectionFactory(port=free_port())
    ConnectionStatus.objects.create(
        connection=connection, is_healthy=False, checked_at="2024-01-01T11:55:00Z", error_message="boom"
    )

    body = reader.get(url(connection.id)).json()

    assert body["last_check"] == "2024-01-01T11:55:00Z"
    assert body["error_message"] == "boom"
    assert ConnectionStatus.objects.filter(connection=connection).count() == 1


def test_an_unknown_connection_is_a_404(reader):
    assert assert_json_error(reader.get(url(999999)), 404) == "Connection not found."


@pytest.mark.parametrize("connection_id", ["abc", "1.5", "-1", "99999999999999999999999"])
def test_a_malformed_or_impossible_id_is_a_json_404(reader, connection_id):
    assert_json_error(reader.get(url(connection_id)), 404)
