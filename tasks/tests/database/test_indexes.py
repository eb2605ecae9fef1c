"""Index checks on a real cluster: duplicates, unused, unindexed foreign keys, tables read by
sequential scans, and btree bloat, each made real and then taken away."""

from __future__ import annotations

import pytest

from tasks.reviews.database.check import Skip
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster

LOW = {"unused_index_min_bytes": 0, "missing_index_min_rows": 1000, "missing_index_min_seq_scans": 5}


@pytest.fixture(scope="module")
def cluster():
    cluster = PgCluster(settings={"autovacuum": "off"}).start()
    admin(cluster, f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
    yield cluster
    cluster.stop()


def fresh_database(cluster: PgCluster, name: str) -> str:
    admin(cluster, f"DROP DATABASE IF EXISTS {name}")
    admin(cluster, f"CREATE DATABASE {name}")
    return name


def as_watcher(cluster, name, db, **kwargs):
    return check(cluster, name, db, user="watcher", password=cluster.superuser_password, **kwargs)


def test_duplicate_and_redundant_prefix_indexes(cluster):
    db = fresh_database(cluster, "dupes")
    admin(
        cluster,
        """
        CREATE TABLE exact (x int);
        CREATE INDEX exact_x_first ON exact (x);
        CREATE INDEX exact_x_second ON exact (x);
        CREATE TABLE prefix (a int, b int);
        CREATE INDEX prefix_a ON prefix (a);
        CREATE INDEX prefix_a_b ON prefix (a, b);
        CREATE INDEX prefix_a_positive ON prefix (a) WHERE b > 0;
        CREATE INDEX prefix_b_a ON prefix (b, a);
        CREATE INDEX prefix_a_desc ON prefix (a DESC, b);
        CREATE TABLE keyed (k int PRIMARY KEY, u int UNIQUE);
        CREATE INDEX keyed_k ON keyed (k);
        CREATE INDEX keyed_u_hash ON keyed USING hash (u);
        """,
        db,
    )

    for found in (check(cluster, "duplicate_index", db), as_watcher(cluster, "duplicate_index", db)):
        # The newer of two identical indexes; the prefix (a) of (a, b); the plain copy of the
        # primary key. Never the primary key, the unique index, the partial or the reordered one.
        assert subjects(found) == {"public.exact_x_second", "public.prefix_a", "public.keyed_k"}
    by_subject = {p.subject: p for p in check(cluster, "duplicate_index", db)}
    assert by_subject["public.keyed_k"].details["covered_by"] == "public.keyed_pkey"
    assert by_subject["public.prefix_a"].details["covered_by"] == "public.prefix_a_b"
    assert by_subject["public.prefix_a"].remedy == "DROP INDEX CONCURRENTLY public.prefix_a;"

    admin(cluster, "DROP INDEX exact_x_second, prefix_a, keyed_k", db)
    assert subjects(check(cluster, "duplicate_index", db)) == set()


def test_an_index_never_scanned_is_unused_and_a_scanned_one_is_not(cluster):
    db = fresh_database(cluster, "usage")
    admin(
        cluster,
        """
        CREATE TABLE events (id int PRIMARY KEY, kind int, at int);
        INSERT INTO events SELECT g, g % 10, g FROM generate_series(1, 5000) g;
        CREATE INDEX events_kind ON events (kind);
        CREATE INDEX events_at ON events (at);
        ANALYZE events;
        """,
        db,
    )
    with cluster.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SELECT count(*) FROM events WHERE kind = 3").fetchone()
        conn.execute("SELECT pg_stat_force_next_flush()")

    found = check(cluster, "unused_index", db, thresholds=LOW)
    assert subjects(found) == {"public.events_at"}  # not the scanned one, not the primary key
    [problem] = found
    assert "has had no scans since statistics began (never reset)" in problem.message
    assert problem.severity == "info"  # small
    assert subjects(as_watcher(cluster, "unused_index", db, thresholds=LOW)) == {"public.events_at"}
    assert subjects(check(cluster, "unused_index", db)) == set()  # under the default 1 MB


def test_a_foreign_key_without_an_index_leading_with_its_columns(cluster):
    db = fresh_database(cluster, "fks")
    admin(
        cluster,
        """
        CREATE TABLE customers (id int PRIMARY KEY, region int, UNIQUE (region, id));
        CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers);
        CREATE TABLE invoices (id int PRIMARY KEY, customer_id int REFERENCES customers);
        CREATE INDEX invoices_customer ON invoices (customer_id);
        CREATE TABLE shipments (id int, region int, customer_id int,
                                FOREIGN KEY (region, customer_id) REFERENCES customers (region, id));
        CREATE INDEX shipments_customer_region ON shipments (customer_id, region, id);
        CREATE TABLE returns (id int, region int, customer_id int,
                              FOREIGN KEY (region, customer_id) REFERENCES customers (region, id));
        CREATE INDEX returns_region ON returns (region);
        """,
        db,
    )

    found = check(cluster, "missing_fk_index", db)
    assert subjects(found) == {"public.orders (customer_id)", "public.returns (region, customer_id)"}
    orders = next(p for p in found if p.subject.startswith("public.orders"))
    assert orders.remedy == "CREATE INDEX CONCURRENTLY ON public.orders (customer_id);"
    assert orders.details["referenced_table"] == "public.customers"
    assert subjects(as_watcher(cluster, "missing_fk_index", db)) == subjects(found)

    admin(cluster, "CREATE INDEX ON orders (customer_id); CREATE INDEX ON returns (customer_id, region)", db)
    assert subjects(check(cluster, "missing_fk_index", db)) == set()


def test_a_big_table_read_by_sequential_scans_is_missing_an_index(cluster):
    db = fresh_database(cluster, "scans")
    admin(
        cluster,
        """
        CREATE TABLE logs (id int PRIMARY KEY, level int);
        INSERT INTO logs SELECT g, g % 5 FROM generate_series(1, 5000) g;
        CREATE TABLE users (id int PRIMARY KEY, name text);
        INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 5000) g;
        ANALYZE;
        """,
        db,
    )
    with cluster.connect(db) as conn:
        for _ in range(10):
            conn.execute("SELECT count(*) FROM logs WHERE level = 3").fetchone()
            conn.execute("SELECT name FROM users WHERE id = 42").fetchone()
        conn.execute("SELECT pg_stat_force_next_flush()")

    found = check(cluster, "missing_index", db, thresholds=LOW)
    assert subjects(found) == {"public.logs"}
    assert found[0].details["seq_scans"] >= 10
    assert subjects(as_watcher(cluster, "missing_index", db, thresholds=LOW)) == {"public.logs"}
    assert subjects(check(cluster, "missing_index", db)) == set()  # 5,000 rows: under the default 10,000


def test_a_bloated_btree_index_is_estimated_and_a_rebuilt_one_is_not(cluster):
    db = fresh_database(cluster, "bloat")
    admin(
        cluster,
        """
        CREATE TABLE readings (id int, sensor int);
        INSERT INTO readings SELECT g, g % 100 FROM generate_series(1, 200000) g;
        CREATE INDEX readings_id ON readings (id);
        DELETE FROM readings WHERE id % 10 <> 0;
        """,
        db,
    )
    admin(cluster, "VACUUM readings", db)  # frees the dead entries' space; the pages stay
    admin(cluster, "ANALYZE readings", db)
    low = {"index_bloat_min_bytes": 100_000, "index_bloat_ratio": 0.5}

    found = check(cluster, "index_bloat", db, thresholds=low)
    assert subjects(found) == {"public.readings_id"}
    assert "ESTIMATE" in found[0].message and found[0].details["estimate"] is True
    assert found[0].details["bloat_share"] > 0.8
    assert found[0].remedy == "REINDEX INDEX CONCURRENTLY public.readings_id;"
    # pg_stats shows a pg_monitor role none of the table's columns: skipped, with the grant.
    skipped = as_watcher(cluster, "index_bloat", db, thresholds=low)
    assert isinstance(skipped, Skip)
    assert skipped.grant == "GRANT pg_read_all_data TO watcher"

    admin(cluster, "REINDEX INDEX readings_id", db)
    admin(cluster, "ANALYZE readings", db)
    assert subjects(check(cluster, "index_bloat", db, thresholds=low)) == set()
