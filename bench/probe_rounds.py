"""Probe rounds at fleet scale: 10,000 connections, 10% black-holed, shared by 1, 2 and 4 probe
worker processes (real `celery worker`s on the `probes` queue).

For each worker count, one round is started as beat starts it (`connections.probe_round`), and
the bench reports:
- the round's wall time (publish to the last stored result) as a multiple of connect_timeout;
- the time until every healthy connection has a fresh result.

"Enough slots" means at least as many probe threads running at once, over every running chunk,
as dead hosts: workers × BENCH_WORKER_CONCURRENCY × PROBE_CONCURRENCY ≥ dead hosts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reviewer_bench .venv/bin/python bench/probe_rounds.py

BENCH_CONNECTIONS (10000), BENCH_WORKERS ("1,2,4"), BENCH_WORKER_CONCURRENCY (4 chunks at once
per worker process), PROBE_CONNECT_TIMEOUT (5) change the scale.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewer.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reviewer_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/12")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import F, Max  # noqa: E402

from connections.models import Connection, ConnectionStatus  # noqa: E402
from connections.tasks import probe_round  # noqa: E402
from testing.network import BlackHole  # noqa: E402
from testing.pg_cluster import PgCluster  # noqa: E402
from testing.worker import WorkerProcess  # noqa: E402

TOTAL = int(os.environ.get("BENCH_CONNECTIONS", "10000"))
WORKER_COUNTS = [int(n) for n in os.environ.get("BENCH_WORKERS", "1,2,4").split(",")]
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "4"))
DEAD_FRACTION = 0.10


def ensure_database() -> None:
    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect(host="127.0.0.1", dbname="postgres", user="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)


def one_round(healthy_ids: set[int], total: int, timeout: int) -> tuple[float | None, float | None, int]:
    """Start a round; seconds until every healthy connection, then every connection, has a
    new row (None if not within the interval plus two timeouts: chunks not started within an
    interval expire, and the next round has them), and how many got one. Earlier results are made one interval old first, so that every connection is due."""
    ConnectionStatus.objects.update(checked_at=F("checked_at") - timedelta(seconds=settings.PROBE_INTERVAL_SECONDS))
    after = ConnectionStatus.objects.aggregate(last=Max("id"))["last"] or 0
    cache.clear()
    started = time.monotonic()
    probe_round()
    healthy_done = None
    while True:
        seen = set(ConnectionStatus.objects.filter(id__gt=after).values_list("connection_id", flat=True))
        now = time.monotonic() - started
        if healthy_done is None and healthy_ids <= seen:
            healthy_done = now
        if len(seen) >= total:
            return healthy_done or now, now, len(seen)
        if now > settings.PROBE_INTERVAL_SECONDS + 2 * timeout:
            return healthy_done, None, len(seen)
        time.sleep(0.2)


def main() -> None:
    ensure_database()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5)
    dead_count = int(TOTAL * DEAD_FRACTION)
    timeout = settings.PROBE_DEFAULT_CONNECT_TIMEOUT
    per_server = settings.PROBE_MAX_PER_SERVER
    # Each running chunk may hold PROBE_MAX_PER_SERVER sessions on the healthy server.
    slots = max(WORKER_COUNTS) * WORKER_CONCURRENCY * per_server + 50
    cluster = PgCluster(auth="trust", settings={"max_connections": str(slots)}).start()
    holes = [BlackHole() for _ in range(dead_count)]
    try:
        ConnectionStatus.objects.all().delete()
        Connection.objects.all().delete()
        targets = [("healthy", cluster.port)] * (TOTAL - dead_count) + [("dead", hole.port) for hole in holes]
        Connection.objects.bulk_create(
            Connection(
                name=f"{kind}-{i}",
                host="127.0.0.1",
                port=port,
                database="postgres",
                username="postgres",
                connect_timeout=timeout,
            )
            for i, (kind, port) in enumerate(targets)
        )
        healthy_ids = set(Connection.objects.filter(name__startswith="healthy-").values_list("id", flat=True))
        print(
            f"machine: {os.cpu_count()} cores; {TOTAL} connections ({dead_count} black-holed, each its own "
            f"server; {TOTAL - dead_count} on one PostgreSQL, max_connections {slots}); connect_timeout={timeout}s; "
            f"PROBE_CHUNK_SIZE={settings.PROBE_CHUNK_SIZE} PROBE_CONCURRENCY={settings.PROBE_CONCURRENCY} "
            f"PROBE_MAX_PER_SERVER={per_server}; {WORKER_CONCURRENCY} chunks at once per worker process",
            flush=True,
        )
        for count in WORKER_COUNTS:
            broker.flushdb()
            workers = [
                WorkerProcess(queues="probes", concurrency=WORKER_CONCURRENCY, name=f"bench-probes-{i}").start()
                for i in range(count)
            ]
            thread_slots = count * WORKER_CONCURRENCY * settings.PROBE_CONCURRENCY
            try:
                ConnectionStatus.objects.all().delete()
                # First round: nothing known yet, dead hosts mixed with healthy ones. Then a
                # steady round: the dead ones (known to fail) in chunks of their own, last.
                for label in ("first round", "steady round"):
                    healthy_s, all_s, probed = one_round(healthy_ids, TOTAL, timeout)
                    whole = (
                        f"{all_s:.1f} s = {all_s / timeout:.2f} x connect_timeout"
                        if all_s
                        else (
                            f"NOT within the interval: {probed} of {TOTAL} probed, the rest expired to the next round"
                        )
                    )
                    healthy = f"{healthy_s:.1f} s" if healthy_s else "not within the interval"
                    print(
                        f"{count} worker(s), {thread_slots} probe threads, {label}: {whole}; "
                        f"every healthy result in {healthy}",
                        flush=True,
                    )
            finally:
                for worker in workers:
                    worker.stop()
    finally:
        for hole in holes:
            hole.close()
        cluster.stop()
        ConnectionStatus.objects.all().delete()
        Connection.objects.all().delete()


if __name__ == "__main__":
    main()
