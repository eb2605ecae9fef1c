"""A latest status older than the staleness limit is reported unhealthy, never healthy.

If the probe worker or beat dies, the last results would otherwise stay "healthy" forever.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API


def status(connection, age_seconds: int, healthy: bool = True) -> ConnectionStatus:
    return ConnectionStatus.objects.create(
        connection=connection,
        is_healthy=healthy,
        checked_at=timezone.now() - timedelta(seconds=age_seconds),
        response_time_ms=3,
        server_version="15.4",
    )


@pytest.fixture
def stale_after(settings):
    settings.PROBE_STALE_AFTER_SECONDS = 180
    return 180


def test_a_fresh_healthy_status_is_healthy(reader, stale_after):
    connection = ConnectionFactory()
    status(connection, age_seconds=60)

    body = reader.get(f"{API}/connections/{connection.id}/status").json()

    assert body["is_healthy"] is True and body["error_message"] is None


def test_a_stale_healthy_status_is_reported_unhealthy_with_its_age(reader, stale_after):
    connection = ConnectionFactory()
    old = status(connection, age_seconds=12 * 60)

    for body in (
        reader.get(f"{API}/connections/{connection.id}/status").json(),
        reader.get(f"{API}/connections/status").json()[0],
    ):
        assert body["is_healthy"] is False
        assert body["error_message"] == "no probe result for 12 minutes: are the probe worker and beat running?"
        assert body["last_check"] == old.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert body["server_version"] == "15.4"


def test_the_documented_alerting_query_counts_a_stale_connection(reader, stale_after):
    status(ConnectionFactory(), age_seconds=10)
    status(ConnectionFactory(), age_seconds=3 * 3600)

    body = reader.get(f"{API}/connections/status").json()

    assert [item["is_healthy"] for item in body] == [True, False]
    assert body[1]["error_message"].startswith("no probe result for 3 hours")
