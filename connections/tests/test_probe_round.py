"""A probe round over the fleet: concurrent, each probe under its own deadline."""

from __future__ import annotations

import time

import pytest

from connections.fleet import probe_fleet
from connections.fleet_status import connection_status
from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from testing.network import BlackHole

pytestmark = pytest.mark.django_db


@pytest.fixture
def blackholes():
    holes = [BlackHole() for _ in range(8)]
    yield holes
    for hole in holes:
        hole.close()


def test_a_round_probes_every_active_connection_and_stores_each_result(blackholes, settings):
    settings.PROBE_CONCURRENCY = 16
    healthy = [ConnectionFactory() for _ in range(6)]
    dead = [ConnectionFactory(port=hole.port, connect_timeout=2) for hole in blackholes]
    inactive = ConnectionFactory(is_active=False)

    started = time.monotonic()
    summary = probe_fleet()
    elapsed = time.monotonic() - started

    assert (summary.probed, summary.healthy) == (14, 6)
    # Eight dead hosts probed one after another would take 16 s; concurrently about one
    # 2 s timeout. The bound is generous: it catches serial probing, not a slow machine.
    assert elapsed < 12
    for connection in healthy:
        status = connection_status(connection.id)
        assert status.is_healthy and status.server_version
    for connection in dead:
        status = connection_status(connection.id)
        assert not status.is_healthy
        assert status.error_message == "connection timeout expired"
    assert not ConnectionStatus.objects.filter(connection=inactive).exists()


def test_a_round_with_fewer_slots_than_dead_hosts_still_finishes(blackholes, settings):
    settings.PROBE_CONCURRENCY = 4
    for hole in blackholes:
        ConnectionFactory(port=hole.port, connect_timeout=1)

    started = time.monotonic()
    summary = probe_fleet()

    assert summary.probed == 8 and summary.healthy == 0
    assert time.monotonic() - started < 20  # two waves of 1 s timeouts, generously bounded
