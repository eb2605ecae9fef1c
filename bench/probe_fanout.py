"""Probe fan-out: one probe round over 500 connections, 10% of them black-holed.

Measures the round's wall time divided by connect_timeout (the physical floor is 1.0: a
black-holed host cannot be declared dead before its timeout) with the default settings, and
the probe rate over the healthy connections alone.

Runs against a private PostgreSQL cluster (max_connections 400, so 64 concurrent probes and
the application never run out of slots) and black-holed loopback listeners; the application
database is a scratch database on the machine's PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reviewer_bench .venv/bin/python bench/probe_fanout.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewer.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reviewer_bench")
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/12")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from connections.fleet import probe_fleet  # noqa: E402
from connections.models import Connection, ConnectionStatus  # noqa: E402
from testing.network import BlackHole  # noqa: E402
from testing.pg_cluster import PgCluster  # noqa: E402

TOTAL = int(os.environ.get("BENCH_CONNECTIONS", "500"))
DEAD_FRACTION = 0.10


def ensure_database() -> None:
    import psycopg

    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect(host="127.0.0.1", dbname="postgres", user="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)


def main() -> None:
    ensure_database()
    cluster = PgCluster(auth="trust", settings={"max_connections": "400"}).start()
    dead_count = int(TOTAL * DEAD_FRACTION)
    holes = [BlackHole() for _ in range(dead_count)]
    timeout = settings.PROBE_DEFAULT_CONNECT_TIMEOUT
    try:
        ConnectionStatus.objects.all().delete()
        Connection.objects.all().delete()
        targets = [("healthy", cluster.port)] * (TOTAL - dead_count) + [("dead", hole.port) for hole in holes]
        rows = [
            Connection(
                name=f"{kind}-{i}",
                host="127.0.0.1",
                port=port,
                database="postgres",
                username="postgres",
                connect_timeout=timeout,
            )
            for i, (kind, port) in enumerate(targets)
        ]
        Connection.objects.bulk_create(rows)

        round_summary = probe_fleet()
        ratio = round_summary.seconds / timeout

        Connection.objects.filter(name__startswith="dead-").update(is_active=False)
        healthy_rounds = [probe_fleet() for _ in range(3)]
        best = min(healthy_rounds, key=lambda summary: summary.seconds)
        rate = best.probed / best.seconds

        # Reference in the same run: plain serial psycopg connects + SELECT 1 to the same server.
        import psycopg

        started = time.monotonic()
        for _ in range(200):
            with psycopg.connect(host="127.0.0.1", port=cluster.port, dbname="postgres", user="postgres") as conn:
                conn.execute("SELECT 1")
        serial_rate = 200 / (time.monotonic() - started)

        print(
            f"machine: {os.cpu_count()} cores; PostgreSQL {cluster.port}; PROBE_CONCURRENCY={settings.PROBE_CONCURRENCY}"
        )
        print(f"round over {round_summary.probed} connections ({dead_count} black-holed), connect_timeout={timeout}s:")
        print(f"  wall {round_summary.seconds:.2f} s  -> {ratio:.2f} x connect_timeout (goal <= 1.5)")
        print(f"  healthy: {round_summary.healthy}")
        print(f"healthy-only rounds ({best.probed} connections): best {best.seconds:.2f} s -> {rate:.0f} probes/s")
        print(
            f"reference: serial psycopg connect+SELECT 1: {serial_rate:.0f}/s -> fan-out is {rate / serial_rate:.1f}x"
        )
    finally:
        for hole in holes:
            hole.close()
        cluster.stop()
        ConnectionStatus.objects.all().delete()
        Connection.objects.all().delete()


if __name__ == "__main__":
    main()
