"""Probe chunks in one process: planning a round, idempotent chunks, the per-server bound."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django import db
from django.utils import timezone

from connections import rounds
from connections.models import Connection, ConnectionStatus
from connections.signals import probe_recorded
from connections.tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def rows_per_connection() -> dict[int, int]:
    counts: dict[int, int] = {}
    for connection_id in ConnectionStatus.objects.values_list("connection_id", flat=True):
        counts[connection_id] = counts.get(connection_id, 0) + 1
    return counts


def test_interleaving_spreads_one_servers_databases_over_chunks():
    big = [Connection(id=i, host="big", port=5432) for i in range(6)]
    small = [Connection(id=10 + i, host="small", port=5432) for i in range(2)]
    order = rounds.interleave_by_server(big + small)
    assert [c.host for c in order[:4]] == ["big", "small", "big", "small"]
    chunks = rounds.chunked(order, 4)
    assert [sum(c.host == "big" for c in chunk) for chunk in chunks] == [2, 4]


def test_a_round_plans_due_connections_only_with_failing_ones_last(settings):
    settings.PROBE_CHUNK_SIZE = 2
    settings.PROBE_FRESH_SECONDS = 30
    never = ConnectionFactory()
    old_ok = ConnectionFactory()
    old_failing = ConnectionFactory()
    fresh = ConnectionFactory()
    ConnectionFactory(is_active=False)
    long_ago = timezone.now() - timedelta(seconds=45)
    ConnectionStatus.objects.create(connection=old_ok, is_healthy=True, checked_at=long_ago)
    ConnectionStatus.objects.create(connection=old_failing, is_healthy=False, checked_at=long_ago)
    ConnectionStatus.objects.create(connection=fresh, is_healthy=True, checked_at=timezone.now())

    plan = rounds.plan_round("r1")

    assert plan.chunks == [[never.id, old_ok.id], [old_failing.id]]


def test_a_chunk_stores_its_results_in_one_insert_and_one_signal(settings, django_assert_max_num_queries):
    connections = [ConnectionFactory() for _ in range(5)]
    batches = []

    def receiver(sender, statuses, **kwargs):
        batches.append([s.connection_id for s in statuses])

    probe_recorded.connect(receiver)
    try:
        summary, statuses = rounds.probe_chunk([c.id for c in connections], "r1")
    finally:
        probe_recorded.disconnect(receiver)

    assert (summary.probed, summary.healthy, summary.skipped) == (5, 5, 0)
    assert batches == [[c.id for c in connections]]
    assert rows_per_connection() == {c.id: 1 for c in connections}


def test_a_chunk_delivered_twice_probes_nothing_twice(settings):
    connections = [ConnectionFactory() for _ in range(4)]
    ids = [c.id for c in connections]

    rounds.probe_chunk(ids, "r1")
    summary, _ = rounds.probe_chunk(ids, "r1")  # the redelivered message

    assert summary.probed == 0 and summary.skipped == 4
    assert rows_per_connection() == {c.id: 1 for c in connections}
    # And the next round does not pick them either: they are fresh.
    assert rounds.plan_round("r2").chunks == []


@pytest.mark.django_db(transaction=True)  # the copies run in threads, with their own connections
def test_two_copies_of_a_chunk_at_once_probe_each_connection_once(blackhole, settings):
    """Both copies run while the first is still connecting: the claim, not the stored
    result, keeps the second away."""
    connections = [ConnectionFactory(port=blackhole.port, connect_timeout=1) for _ in range(3)]
    connections += [ConnectionFactory() for _ in range(3)]
    ids = [c.id for c in connections]
    summaries = []

    def run():
        try:
            summaries.append(rounds.probe_chunk(ids, "r1")[0])
        finally:
            db.connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(s.probed for s in summaries) == 6
    assert rows_per_connection() == {c.id: 1 for c in connections}


@pytest.mark.django_db(transaction=True)
def test_attempts_against_one_server_are_bounded(blackhole, settings):
    settings.PROBE_MAX_PER_SERVER = 3
    settings.PROBE_CONCURRENCY = 64
    connections = [ConnectionFactory(port=blackhole.port, connect_timeout=1) for _ in range(9)]
    other = ConnectionFactory()

    started = time.monotonic()

    def run():
        try:
            rounds.probe_chunk([c.id for c in [*connections, other]], "r1")
        finally:
            db.connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.6)
    at_once = len(blackhole._accepted)
    thread.join()
    elapsed = time.monotonic() - started

    assert at_once == 3
    assert elapsed >= 2.5  # three waves of three 1 s timeouts, not one wave of nine
    assert rows_per_connection() == {c.id: 1 for c in [*connections, other]}
