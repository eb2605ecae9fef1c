"""The queries area on real clusters: pg_stat_statements deltas between two reviews around a
burst of slow statements, a cluster without pg_stat_statements, and cache hit ratios made low
by a table far larger than a tiny shared_buffers."""

from __future__ import annotations

import pytest

from tasks.reviews.database.check import Skip
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster

# Low enough for a burst of 5 × 200 ms; far above what the review's own statements take.
DELTA = {"expensive_query_min_ms": 500}


@pytest.fixture(scope="module")
def cluster():
    """pg_stat_statements preloaded, and 128 kB of shared buffers (the minimum, 16 blocks)."""
    cluster = PgCluster(
        settings={"shared_preload_libraries": "'pg_stat_statements'", "shared_buffers": "128kB"}
    ).start()
    admin(cluster, f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
    admin(cluster, f"CREATE ROLE outsider LOGIN PASSWORD '{cluster.superuser_password}'")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def plain():
    """A cluster as initdb makes it: no pg_stat_statements in shared_preload_libraries."""
    cluster = PgCluster().start()
    admin(cluster, f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
    yield cluster
    cluster.stop()


def run(cluster: PgCluster, *statements: str, dbname: str = "postgres") -> None:
    """Each statement on its own in one session, then the session's statistics flushed."""
    with cluster.connect(dbname) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")  # the flush happens when the backend goes idle before this


def by_subject(result) -> dict:
    assert not isinstance(result, Skip), f"skipped: {result}"
    return {problem.subject: problem for problem in result}


def sleep_queryid(cluster: PgCluster, text: str) -> str:
    with cluster.connect() as conn:
        return str(conn.execute("SELECT queryid FROM pg_stat_statements WHERE query = %s", (text,)).fetchone()[0])


def test_expensive_query_reports_the_delta_since_the_previous_review(cluster):
    admin(cluster, "CREATE EXTENSION pg_stat_statements")
    admin(cluster, "SELECT pg_stat_statements_reset()")
    run(cluster, *["SELECT pg_sleep(0.25)"] * 3, "SELECT pg_sleep(0.5), 'earlier'")
    burst = "query " + sleep_queryid(cluster, "SELECT pg_sleep($1)")
    earlier = "query " + sleep_queryid(cluster, "SELECT pg_sleep($1), $2")

    # First review: no snapshot yet, so the totals since the reset.
    first = by_subject(check(cluster, "expensive_query", thresholds=DELTA))
    assert set(first) == {burst, earlier}
    assert first[burst].details["calls"] == 3
    assert first[burst].details["total_ms"] >= 740
    assert first[burst].details["window"].startswith("since reset at ")
    assert first[burst].details["query"] == "SELECT pg_sleep($1)"
    assert first[burst].details["databases"] == ["postgres"]
    assert first[earlier].details["calls"] == 1
    snapshot = check.kept
    assert snapshot["stats_reset"] and snapshot["entries"]

    run(cluster, *["SELECT pg_sleep(0.2)"] * 5)

    # Second review: only what happened since the first, as the pg_monitor role.
    second = by_subject(check(cluster, "expensive_query", thresholds=DELTA, previous=snapshot, user="watcher"))
    assert set(second) == {burst}
    found = second[burst]
    assert found.details["calls"] == 5
    assert 990 <= found.details["total_ms"] < first[burst].details["total_ms"] + 990
    assert found.details["window"] == f"since previous review at {snapshot['taken_at']}"
    assert found.details["share"] > 0.5 and found.severity == "warning"  # the burst is nearly all the time
    assert found.message.startswith(f"{burst} took 1.0 s in 5 calls (mean 20")

    # Third review with nothing new: nothing to report.
    assert subjects(check(cluster, "expensive_query", thresholds=DELTA, previous=check.kept)) == set()

    # A reset starts the window again from the reset: the old snapshot is not subtracted.
    snapshot = check.kept
    admin(cluster, "SELECT pg_stat_statements_reset()")
    run(cluster, *["SELECT pg_sleep(0.2)"] * 3)
    after_reset = by_subject(check(cluster, "expensive_query", thresholds=DELTA, previous=snapshot))
    assert after_reset[burst].details["calls"] == 3
    assert after_reset[burst].details["window"].startswith("since reset at ")
    assert after_reset[burst].details["window"] != first[burst].details["window"]

    # With the default thresholds (2 s at least), 600 ms is not worth a finding.
    assert subjects(check(cluster, "expensive_query", previous=check.kept)) == set()


def test_expensive_query_without_pg_read_all_stats_names_its_grant(cluster):
    result = check(cluster, "expensive_query", user="outsider")
    assert isinstance(result, Skip)
    assert result.grant == "GRANT pg_read_all_stats TO outsider"


def test_query_stats_unavailable_without_the_library_or_the_extension(cluster, plain):
    for user in ("postgres", "watcher"):
        found = by_subject(check(plain, "query_stats_unavailable", user=user))
        assert set(found) == {"pg_stat_statements"}
        problem = found["pg_stat_statements"]
        assert problem.severity == "info"
        assert problem.details["preloaded"] is False and problem.details["created_in_database"] is False
        assert "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';" in problem.remedy
        assert "CREATE EXTENSION pg_stat_statements;" in problem.remedy
        assert check(plain, "expensive_query", user=user) == []  # nothing to read: not a skip

    # Created but not preloaded: the view cannot be read; only the restart step remains.
    admin(plain, "CREATE EXTENSION pg_stat_statements")
    problem = by_subject(check(plain, "query_stats_unavailable", user="watcher"))["pg_stat_statements"]
    assert problem.details["preloaded"] is False and problem.details["created_in_database"] is True
    assert "CREATE EXTENSION" not in problem.remedy
    assert check(plain, "expensive_query") == []

    # Preloaded but not created in the review's database.
    admin(cluster, "CREATE DATABASE elsewhere")
    problem = by_subject(check(cluster, "query_stats_unavailable", "elsewhere"))["pg_stat_statements"]
    assert problem.details["preloaded"] is True and problem.details["created_in_database"] is False
    assert problem.remedy == "CREATE EXTENSION pg_stat_statements;  -- in database elsewhere, as a superuser"
    assert check(cluster, "expensive_query", "elsewhere") == []  # run from a database without it: silent

    # Preloaded and created: nothing to say.
    admin(cluster, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    assert subjects(check(cluster, "query_stats_unavailable", user="watcher")) == set()


def test_cache_hit_ratio_of_a_table_larger_than_shared_buffers(cluster):
    enough = {"cache_hit_ratio_min_blocks": 100}
    # ~4.6 MB of heap and ~450 kB of index against 128 kB of shared buffers: reads miss.
    admin(cluster, "CREATE DATABASE cold")
    run(
        cluster,
        "CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g",
        "CREATE INDEX big_id ON big (id)",
        "SELECT count(*) FROM big",
        "SELECT count(*) FROM big",
        "SET enable_seqscan = off",
        "SET enable_bitmapscan = off",
        "SELECT count(pad) FROM big WHERE id > 0",
        "SELECT count(pad) FROM big WHERE id > 0",
        dbname="cold",
    )
    for user in ("postgres", "watcher"):
        found = by_subject(check(cluster, "cache_hit_ratio", "cold", thresholds=enough, user=user))
        assert set(found) == {"tables", "indexes"}
        tables = found["tables"]
        assert tables.severity == "warning"
        assert tables.details["blocks_read"] > 1000 and tables.details["ratio"] < 0.99
        assert tables.details["shared_buffers"] == "128kB"
        assert "ALTER SYSTEM SET shared_buffers" in tables.remedy
        assert found["indexes"].details["blocks_read"] > 100

    # Too few blocks read to mean anything: silent at the default 10,000 blocks.
    assert subjects(check(cluster, "cache_hit_ratio", "cold")) == set()

    # A table that fits in the cache, read over and over: well above 99%.
    admin(cluster, "CREATE DATABASE warm")
    run(
        cluster,
        "CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 100) g",
        "DO $$ BEGIN FOR i IN 1..2000 LOOP PERFORM count(*) FROM small; END LOOP; END $$",
        dbname="warm",
    )
    assert subjects(check(cluster, "cache_hit_ratio", "warm", thresholds=enough)) == set()
