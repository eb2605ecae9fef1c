"""Old probe history is purged in batches; a connection's current status never is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import ConnectionStatus
from connections.retention import purge_status_history
from connections.tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def add_status(connection, age_days: float) -> ConnectionStatus:
    return ConnectionStatus.objects.create(
        connection=connection, is_healthy=True, checked_at=timezone.now() - timedelta(days=age_days)
    )


def test_it_purges_results_older_than_the_retention_period():
    connection = ConnectionFactory()
    old = [add_status(connection, 40) for _ in range(5)]
    recent = [add_status(connection, 1) for _ in range(3)]

    assert purge_status_history(days=30) == 5

    remaining = set(ConnectionStatus.objects.values_list("id", flat=True))
    assert remaining == {status.id for status in recent}
    assert not remaining & {status.id for status in old}


def test_it_never_purges_the_latest_status_of_a_connection():
    quiet = ConnectionFactory(is_active=False)
    history = [add_status(quiet, 90 - day) for day in range(5)]

    assert purge_status_history(days=30) == 4

    assert list(ConnectionStatus.objects.filter(connection=quiet)) == [history[-1]]


def test_it_works_through_more_rows_than_one_batch(monkeypatch):
    monkeypatch.setattr("connections.retention.STATUS_BATCH", 7)
    connection = ConnectionFactory()
    for _ in range(30):
        add_status(connection, 45)
    add_status(connection, 0)

    assert purge_status_history(days=30) == 30
    assert ConnectionStatus.objects.count() == 1
