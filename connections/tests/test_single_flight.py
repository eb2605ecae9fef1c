"""Concurrent checks of one connection share one probe (single flight)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db_connection

from connections.models import ConnectionStatus
from connections.status import check_connection
from connections.tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def check_concurrently(connection, callers: int) -> list[ConnectionStatus]:
    results: list[ConnectionStatus] = []
    barrier = threading.Barrier(callers)

    def caller() -> None:
        try:
            barrier.wait()
            results.append(check_connection(connection))
        finally:
            db_connection.close()  # each thread has its own database connection

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_checks_that_arrive_while_a_probe_runs_answer_with_its_result(blackhole):
    # A black-holed host keeps the first probe busy for its whole 2 s timeout.
    connection = ConnectionFactory(port=blackhole.port, connect_timeout=2)

    results = check_concurrently(connection, callers=5)

    assert len(results) == 5
    assert ConnectionStatus.objects.filter(connection=connection).count() == 1
    assert {status.id for status in results} == {ConnectionStatus.objects.get(connection=connection).id}
    assert results[0].error_message == "connection timeout expired"


def test_a_check_after_the_shared_one_finished_probes_again():
    connection = ConnectionFactory()

    first = check_connection(connection)
    second = check_connection(connection)

    assert first.id != second.id
    assert ConnectionStatus.objects.filter(connection=connection).count() == 2
