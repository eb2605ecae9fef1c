"""One full database review of a big schema: 10,000 tables and 20,000 indexes.

Generates the schema in a throwaway cluster (each table: a primary key, a second index, a few
thousand rows in one table in a hundred so the statistics views have something to say, one
foreign key in ten), then runs every check of `database_review` once as the superuser and once
as a role with only pg_monitor, the way a worker does (read-only sessions, the default
timeouts). Prints the wall time, the number of statements sent, the slowest checks, and as the
reference measured in the same run, the time to read the three statistics views that any
review of this database must read once (pg_stat_user_tables, pg_stat_user_indexes, pg_index).

    .venv/bin/python bench/database_review.py        # BENCH_TABLES=10000 by default
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tasks.reviews.database.catalog import CHECKS, THRESHOLDS  # noqa: E402
from tasks.reviews.database.check import session_settings  # noqa: E402
from tasks.reviews.database.review import review  # noqa: E402
from testing.pg_cluster import PgCluster  # noqa: E402

TABLES = int(os.environ.get("BENCH_TABLES", "10000"))
STATEMENT_TIMEOUT_MS, LOCK_TIMEOUT_MS = 5000, 1000  # database_review's defaults

GENERATE = """
DO $$
BEGIN
  FOR i IN 1..%(tables)s LOOP
    EXECUTE format('CREATE TABLE t%%s (id int PRIMARY KEY, parent int, v text, at timestamptz DEFAULT now())', i);
    EXECUTE format('CREATE INDEX t%%s_v_idx ON t%%s (v)', i, i);
    IF i %% 10 = 0 THEN
      EXECUTE format('ALTER TABLE t%%s ADD FOREIGN KEY (parent) REFERENCES t%%s (id)', i, i - 1);
    END IF;
    IF i %% 100 = 0 THEN
      EXECUTE format('INSERT INTO t%%s (id, v) SELECT g, md5(g::text) FROM generate_series(1, 5000) g', i);
      EXECUTE format('DELETE FROM t%%s WHERE id %%%% 3 = 0', i);
    END IF;
    IF i %% 500 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;
"""


class Counting(psycopg.Cursor):
    statements = 0

    def execute(self, *args, **kwargs):
        Counting.statements += 1
        return super().execute(*args, **kwargs)


def timed(check, timings):
    def run(ctx):
        started = time.perf_counter()
        try:
            return list(check.run(ctx))
        finally:
            timings[check.name] = timings.get(check.name, 0) + time.perf_counter() - started

    return dataclasses.replace(check, run=run)


def full_review(cluster: PgCluster, user: str):
    options = " ".join(f"-c {k}={v}" for k, v in session_settings(STATEMENT_TIMEOUT_MS, LOCK_TIMEOUT_MS).items())

    def open_database(name):
        return psycopg.connect(
            host=cluster.host,
            port=cluster.port,
            dbname=name or "bench",
            user=user,
            password=cluster.superuser_password,
            options=options,
            autocommit=True,
            cursor_factory=Counting,
        )

    timings: dict[str, float] = {}
    Counting.statements = 0
    started = time.perf_counter()
    outcome = review(open_database, [timed(c, timings) for c in CHECKS.values()], THRESHOLDS, [], {})
    return time.perf_counter() - started, Counting.statements, outcome, timings


def reference(cluster: PgCluster) -> float:
    with cluster.connect("bench") as conn:
        started = time.perf_counter()
        for view in ("pg_stat_user_tables", "pg_stat_user_indexes", "pg_index"):
            conn.execute(f"SELECT * FROM {view}").fetchall()
        return time.perf_counter() - started


def main() -> None:
    cluster = PgCluster(
        settings={"shared_preload_libraries": "'pg_stat_statements'", "max_locks_per_transaction": "256"}
    )
    cluster.start()
    try:
        cluster.execute("CREATE DATABASE bench")
        cluster.execute(f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
        started = time.perf_counter()
        with cluster.connect("bench") as conn:
            conn.execute(GENERATE % {"tables": TABLES})
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("ANALYZE")
            tables, indexes = conn.execute(
                "SELECT count(*) FILTER (WHERE relkind = 'r'), count(*) FILTER (WHERE relkind = 'i')"
                " FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            ).fetchone()
        print(f"generated {tables} tables and {indexes} indexes in {time.perf_counter() - started:.0f} s")
        ref = min(reference(cluster) for _ in range(3))
        print(f"reference (read pg_stat_user_tables, pg_stat_user_indexes, pg_index once): {ref * 1000:.0f} ms")
        for user in ("postgres", "watcher"):
            runs = [full_review(cluster, user) for _ in range(3)]
            wall, statements, outcome, timings = min(runs, key=lambda run: run[0])
            slowest = sorted(timings.items(), key=lambda item: -item[1])[:5]
            print(
                f"{user}: {len(CHECKS)} checks, wall {wall:.2f} s (best of 3; = {wall / ref:.1f}x the reference), "
                f"{statements} statements, {outcome.summary()['checks_run']} run, "
                f"{len(outcome.skipped)} skipped, {len(outcome.problems)} problems"
            )
            print("  slowest: " + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in slowest))
            for skipped in outcome.skipped:
                print(f"  skipped {skipped['check']}: {skipped['reason']}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
