"""Probe rounds shared by real probe worker processes."""

from __future__ import annotations

import os
import re
import signal
import time
from itertools import pairwise

import pytest

from connections.models import ConnectionStatus
from connections.tasks import probe_round
from connections.tests.factories import ConnectionFactory
from testing.network import BlackHole
from testing.worker import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

# Short intervals so that "the next round" comes within a test; the workers read the same.
ROUND_ENV = {"PROBE_INTERVAL_SECONDS": "10", "PROBE_FRESH_SECONDS": "5", "VAULT_TIMEOUT_SECONDS": "1"}
PROBED = re.compile(r"probe round (\w+): probed (\d+) connections")


@pytest.fixture
def round_settings(settings):
    settings.PROBE_INTERVAL_SECONDS = 10
    settings.PROBE_FRESH_SECONDS = 5
    settings.PROBE_CHUNK_SIZE = 2
    settings.VAULT_TIMEOUT_SECONDS = 1
    return settings


@pytest.fixture
def holes():
    made = [BlackHole() for _ in range(4)]
    yield made
    for hole in made:
        hole.close()


def rows_per_connection() -> dict[int, int]:
    counts: dict[int, int] = {}
    for connection_id in ConnectionStatus.objects.values_list("connection_id", flat=True):
        counts[connection_id] = counts.get(connection_id, 0) + 1
    return counts


def wait_for_rows(connections, timeout: float) -> dict[int, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = rows_per_connection()
        if all(counts.get(c.id) for c in connections):
            return counts
        time.sleep(0.2)
    raise AssertionError(f"not every connection probed in {timeout} s: {rows_per_connection()}")


def probed_by(worker: WorkerProcess, round_id: str) -> int:
    return sum(int(n) for r, n in PROBED.findall(worker.log()) if r == round_id)


def start_workers(*names: str) -> list[WorkerProcess]:
    return [WorkerProcess(queues="probes", name=name, extra_env=ROUND_ENV).start() for name in names]


def test_two_probe_workers_share_a_round_and_probe_each_connection_once(round_settings, holes):
    workers = start_workers("probes-a", "probes-b")
    try:
        healthy = [ConnectionFactory() for _ in range(8)]
        dead = [ConnectionFactory(port=hole.port, connect_timeout=2) for hole in holes]
        fleet = healthy + dead

        plan = probe_round()
        assert plan["connections"] == 12 and plan["chunks"] == 6
        probe_round()  # beat ticking again while the round runs: nothing is due twice
        wait_for_rows(fleet, timeout=30)
        time.sleep(1)  # any duplicate would land now

        assert rows_per_connection() == {c.id: 1 for c in fleet}
        counts = [probed_by(worker, plan["round_id"]) for worker in workers]
        assert all(counts) and sum(counts) == 12, counts
    finally:
        for worker in workers:
            worker.stop()


def test_a_round_survives_a_probe_worker_killed_mid_round(round_settings, holes):
    """The killed worker's chunk is not lost for good: its claims expire after about two
    timeouts, and the next round probes those connections, inside the staleness bound."""
    round_settings.PROBE_CHUNK_SIZE = 100
    dead = [ConnectionFactory(port=hole.port, connect_timeout=3) for hole in holes]
    healthy = [ConnectionFactory() for _ in range(4)]
    fleet = dead + healthy
    (doomed,) = start_workers("probes-doomed")
    survivor = None
    try:
        started = time.monotonic()
        first = probe_round()
        while "probe_chunk" not in doomed.log() or not all(hole._accepted for hole in holes):
            assert time.monotonic() - started < 30, doomed.log()
            time.sleep(0.1)
        os.killpg(doomed.proc.pid, signal.SIGKILL)  # mid-chunk: black holes still connecting
        doomed.proc.wait(timeout=10)
        assert rows_per_connection() == {}

        (survivor,) = start_workers("probes-survivor")
        later_rounds = []
        while not all(rows_per_connection().get(c.id) for c in fleet):  # beat ticking on
            assert time.monotonic() - started < 60, rows_per_connection()
            later_rounds.append(probe_round()["round_id"])
            time.sleep(1)
        time.sleep(1)  # any duplicate would land now

        # Beat ticks faster than the interval here, so the healthy ones may be due again;
        # but never twice within PROBE_FRESH_SECONDS, and every probe is one of a round's.
        for connection in fleet:
            times = sorted(ConnectionStatus.objects.filter(connection=connection).values_list("checked_at", flat=True))
            assert all((b - a).total_seconds() >= 4 for a, b in pairwise(times)), times
        assert sum(probed_by(survivor, round_id) for round_id in later_rounds) == ConnectionStatus.objects.count()
        assert probed_by(survivor, first["round_id"]) == 0  # the lost message stayed lost
        assert time.monotonic() - started < round_settings.PROBE_STALE_AFTER_SECONDS
    finally:
        doomed.stop()
        if survivor:
            survivor.stop()
