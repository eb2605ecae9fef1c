"""GET /connections/status: every active connection with its latest probe, by id."""

from __future__ import annotations

from datetime import UTC, datetime

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API

URL = f"{API}/connections/status"
FIELDS = [
    "connection_id",
    "name",
    "host",
    "port",
    "database",
    "is_healthy",
    "last_check",
    "response_time_ms",
    "server_version",
    "error_message",
]


def probe_row(connection, **fields) -> ConnectionStatus:
    values = {"is_healthy": True, "checked_at": datetime.now(UTC), "response_time_ms": 12, "server_version": "16.2"}
    return ConnectionStatus.objects.create(connection=connection, **{**values, **fields})


def test_it_lists_each_active_connection_by_id_with_its_latest_probe(reader, settings):
    settings.PROBE_STALE_AFTER_SECONDS = 10**10  # the document's 2024 examples, not stale here
    production = ConnectionFactory(name="Production DB", host="prod-db.example.com", database="myapp")
    test_db = ConnectionFactory(name="Test DB", host="test-db.example.com", database="testdb")
    probe_row(production, is_healthy=False, error_message="old failure")
    probe_row(production, checked_at=datetime(2024, 1, 1, 12, 0, 0, 500000, tzinfo=UTC), response_time_ms=50)
    probe_row(
        test_db,
        is_healthy=False,
        checked_at=datetime(2024, 1, 1, 11, 55, tzinfo=UTC),
        response_time_ms=5000,
        server_version=None,
        error_message="connection timeout expired",
    )

    response = reader.get(URL)

    assert response.status_code == 200
    assert response.json() == [
        {
            "connection_id": production.id,
            "name": "Production DB",
            "host": "prod-db.example.com",
            "port": 5432,
            "database": "myapp",
            "is_healthy": True,
            "last_check": "2024-01-01T12:00:00Z",
            "response_time_ms": 50,
            "server_version": "16.2",
            "error_message": None,
        },
        {
            "connection_id": test_db.id,
            "name": "Test DB",
            "host": "test-db.example.com",
            "port": 5432,
            "database": "testdb",
            "is_healthy": False,
            "last_check": "2024-01-01T11:55:00Z",
            "response_time_ms": 5000,
            "server_version": None,
            "error_message": "connection timeout expired",
        },
    ]
    assert list(response.json()[0]) == FIELDS


def test_a_never_probed_connection_has_null_probe_fields(reader):
    connection = ConnectionFactory()

    [item] = reader.get(URL).json()

    assert item["connection_id"] == connection.id
    assert all(item[field] is None for field in FIELDS[5:])


def test_inactive_connections_are_left_out(reader):
    active = ConnectionFactory()
    ConnectionFactory(is_active=False)

    assert [item["connection_id"] for item in reader.get(URL).json()] == [active.id]


def test_no_connections_gives_an_empty_list(reader):
    assert reader.get(URL).json() == []


def test_it_answers_with_a_trailing_slash_too(reader):
    ConnectionFactory()

    assert reader.get(f"{URL}/").json() == reader.get(URL).json()
