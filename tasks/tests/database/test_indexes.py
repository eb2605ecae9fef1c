"""The index checks against a real server: each condition is made real (duplicate and unused
indexes, unindexed foreign keys, sequentially scanned tables, a bloated btree), reported, and
shown not reported once the cause is gone or in its negative twin. Each test has a database of
its own, so that what one test builds never shows in another's report."""

from __future__ import annotations

import itertools

import pytest

from tasks.reviews.database import check as check_module
from tasks.reviews.database import indexes
from tasks.reviews.database.check import Skip
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster
from testing.wait import wait_for

_numbers = itertools.count()


@pytest.fixture(scope="module")
def cluster():
    cluster = PgCluster().start()
    admin(cluster, f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
    yield cluster
    cluster.stop()


@pytest.fixture
def db(cluster):
    name = f"indexes_{next(_numbers)}"
    admin(cluster, f"CREATE DATABASE {name}")
    return name


def as_watcher(cluster, name, db, **kwargs):
    return check(cluster, name, db, user="watcher", **kwargs)


def by_subject(result):
    assert not isinstance(result, Skip), f"skipped: {result}"
    return {problem.subject: problem for problem in result}


def flushed(cluster, db, sql):
    """Run `sql` in a session that flushes its statistics counters before it ends."""
    with cluster.connect(db) as conn:
        conn.execute(sql)
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")


# --- duplicate_index -------------------------------------------------------------------------


def test_duplicate_index_exact_prefix_and_unique(cluster, db):
    admin(
        cluster,
        """
        CREATE TABLE t (a int, b int, c int);
        CREATE INDEX t_ab_1 ON t (a, b);
        CREATE INDEX t_ab_2 ON t (a, b);          -- exact duplicate of t_ab_1: the larger name goes
        CREATE INDEX t_a ON t (a);                -- a prefix of (a, b)
        CREATE INDEX t_b_desc ON t (b DESC);      -- not a prefix of anything
        CREATE INDEX t_c_incl ON t (c) INCLUDE (a);
        CREATE INDEX t_c ON t (c);                -- covered by (c) INCLUDE (a), whatever the names

        CREATE TABLE u (x int, y text);
        CREATE INDEX aa_plain ON u (x);           -- duplicates the unique index: reported
        CREATE UNIQUE INDEX zz_unique ON u (x);   -- a unique index is never the redundant one
        CREATE UNIQUE INDEX u_x_y ON u (x, y);    -- nor a unique index covered by a longer one

        CREATE TABLE p (a int, b int);
        CREATE INDEX p_a ON p (a);
        CREATE INDEX p_a_positive ON p (a) WHERE a > 0;   -- partial: not a duplicate of p_a
        CREATE INDEX p_a_hash ON p USING hash (a);        -- another method
        CREATE INDEX p_lower ON p ((a + 1));               -- an expression
        CREATE INDEX p_lower_b ON p ((a + 2), b);          -- other expression: not covering p_lower
        """,
        db,
    )
    found = by_subject(check(cluster, "duplicate_index", db))
    assert set(found) == {"public.t_ab_2", "public.t_a", "public.t_c", "public.aa_plain"}
    assert found["public.t_ab_2"].details["covering_index"] == "public.t_ab_1"
    assert found["public.t_a"].details["covering_index"] == "public.t_ab_1"
    assert found["public.t_c"].details["covering_index"] == "public.t_c_incl"
    assert found["public.aa_plain"].details["covering_index"] == "public.zz_unique"
    problem = found["public.t_a"]
    assert problem.severity == "warning"
    assert problem.remedy == "DROP INDEX CONCURRENTLY public.t_a;"
    assert problem.details["definition"] == "CREATE INDEX t_a ON public.t USING btree (a)"
    assert problem.details["covering_definition"] == "CREATE INDEX t_ab_1 ON public.t USING btree (a, b)"
    assert problem.details["size_bytes"] == 8192
    assert "covered by public.t_ab_1" in problem.message
    assert "a duplicate of public.t_ab_1" in found["public.t_ab_2"].message

    # A pg_monitor role sees the same.
    assert subjects(as_watcher(cluster, "duplicate_index", db)) == set(found)

    admin(cluster, "DROP INDEX t_ab_2, t_a, t_c, aa_plain", db)
    assert subjects(check(cluster, "duplicate_index", db)) == set()


def test_duplicate_index_same_expressions_and_predicate(cluster, db):
    admin(
        cluster,
        """
        CREATE TABLE e (a int, b int);
        CREATE INDEX e_expr ON e ((a + 1));
        CREATE INDEX e_expr_b ON e ((a + 1), b);
        CREATE INDEX e_part_1 ON e (b) WHERE a IS NULL;
        CREATE INDEX e_part_2 ON e (b) WHERE (a IS NULL);
        """,
        db,
    )
    assert subjects(check(cluster, "duplicate_index", db)) == {"public.e_expr", "public.e_part_2"}


def test_duplicate_index_on_partitioned_table_once(cluster, db):
    admin(
        cluster,
        """
        CREATE TABLE m (a int, b int) PARTITION BY RANGE (a);
        CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (10);
        CREATE TABLE m2 PARTITION OF m FOR VALUES FROM (10) TO (20);
        CREATE INDEX m_a ON m (a);
        CREATE INDEX m_a_b ON m (a, b);
        """,
        db,
    )
    # Reported on the partitioned index, not on each partition's (which cannot be dropped alone).
    found = by_subject(check(cluster, "duplicate_index", db))
    assert set(found) == {"public.m_a"}
    assert found["public.m_a"].remedy.startswith("DROP INDEX public.m_a;")
    assert found["public.m_a"].details["size_bytes"] == 2 * 8192


def test_at_most_max_problems_and_says_so(cluster, db, monkeypatch):
    admin(
        cluster,
        "CREATE TABLE w (a int); CREATE INDEX w_1 ON w (a); CREATE INDEX w_2 ON w (a); CREATE INDEX w_3 ON w (a)",
        db,
    )
    assert subjects(check(cluster, "duplicate_index", db)) == {"public.w_2", "public.w_3"}
    monkeypatch.setattr(indexes, "MAX_PROBLEMS", 1)  # the query's LIMIT
    monkeypatch.setattr(check_module, "MAX_PROBLEMS", 1)  # the cut and its note
    result = check(cluster, "duplicate_index", db)
    assert len(result) == 1
    assert "only the first 1" in result[0].details["truncated"]


# --- unused_index ----------------------------------------------------------------------------


def test_unused_index_scanned_or_not(cluster, db):
    admin(
        cluster,
        """
        CREATE TABLE events (id int PRIMARY KEY, kind int, owner int, note text);
        INSERT INTO events SELECT g, g % 50, g % 977, 'n' FROM generate_series(1, 20000) g;
        CREATE INDEX events_kind ON events (kind);
        CREATE INDEX events_owner ON events (owner);
        CREATE INDEX events_tiny ON events (note) WHERE id < 10;
        ALTER TABLE events ADD CONSTRAINT events_owner_kind_key UNIQUE (owner, kind, id);
        CREATE TABLE bookings (during int4range, EXCLUDE USING gist (during WITH &&));
        INSERT INTO bookings SELECT int4range(g, g + 1) FROM generate_series(1, 20000) g;
        ANALYZE events;
        """,
        db,
    )
    flushed(cluster, db, "SET enable_seqscan = off; SELECT count(*) FROM events WHERE kind = 7")
    thresholds = {"unused_index_min_bytes": 100_000}

    def report():
        result = check(cluster, "unused_index", db, thresholds=thresholds)
        return result if subjects(result) == {"public.events_owner"} else None

    found = by_subject(wait_for(report, timeout=15))
    problem = found["public.events_owner"]
    assert problem.severity == "warning"
    assert problem.remedy.startswith("DROP INDEX CONCURRENTLY public.events_owner;")
    assert problem.details["index_scans"] == 0
    assert problem.details["size_bytes"] > 100_000
    # Statistics never reset in this fresh cluster: the message says so honestly.
    assert problem.details["statistics_since"] is None
    assert "never reset" in problem.message

    # PgHero's dashboard default is 0 scans; a higher max reports the scanned index too.
    assert subjects(check(cluster, "unused_index", db, thresholds={**thresholds, "unused_index_max_scans": 5})) == {
        "public.events_owner",
        "public.events_kind",
    }
    # However often scanned, a primary key, unique or exclusion constraint's index is never reported.
    assert subjects(
        check(cluster, "unused_index", db, thresholds={**thresholds, "unused_index_max_scans": 10**12})
    ) == {"public.events_owner", "public.events_kind"}
    # The default size threshold (1 MB) leaves these ~450 kB indexes alone.
    assert subjects(check(cluster, "unused_index", db)) == set()
    # A pg_monitor role sees the same.
    assert subjects(as_watcher(cluster, "unused_index", db, thresholds=thresholds)) == {"public.events_owner"}

    # After a reset the message names its date.
    admin(cluster, "SELECT pg_stat_reset()", db)
    after = by_subject(check(cluster, "unused_index", db, thresholds=thresholds))
    assert set(after) == {"public.events_owner", "public.events_kind"}
    assert after["public.events_owner"].details["statistics_since"] is not None
    assert "since the statistics were reset on" in after["public.events_owner"].message

    admin(cluster, "DROP INDEX events_owner, events_kind", db)
    assert subjects(check(cluster, "unused_index", db, thresholds=thresholds)) == set()


# --- missing_fk_index ------------------------------------------------------------------------


def test_missing_fk_index(cluster, db):
    admin(
        cluster,
        """
        CREATE TABLE customers (id int PRIMARY KEY);
        CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers);
        CREATE TABLE invoices (id int PRIMARY KEY, customer_id int REFERENCES customers);
        CREATE INDEX invoices_customer ON invoices (customer_id);

        CREATE TABLE parts (a int, b int, PRIMARY KEY (a, b));
        CREATE TABLE uses (x int, a int, b int, FOREIGN KEY (a, b) REFERENCES parts);
        CREATE INDEX uses_b_a_x ON uses (b, a, x);           -- led by the key's columns, in another order
        CREATE TABLE half (a int, b int, CONSTRAINT half_parts FOREIGN KEY (a, b) REFERENCES parts);
        CREATE INDEX half_a ON half (a);                     -- leads with only one of the two
        CREATE INDEX half_b_a_partial ON half (b, a) WHERE a > 0;  -- partial: does not serve every row
        """,
        db,
    )
    found = by_subject(check(cluster, "missing_fk_index", db))
    assert set(found) == {"public.orders.orders_customer_id_fkey", "public.half.half_parts"}
    problem = found["public.orders.orders_customer_id_fkey"]
    assert problem.severity == "warning"
    assert problem.remedy == "CREATE INDEX CONCURRENTLY ON public.orders (customer_id);"
    assert problem.details["referenced_table"] == "public.customers"
    assert found["public.half.half_parts"].remedy == "CREATE INDEX CONCURRENTLY ON public.half (a, b);"

    assert subjects(as_watcher(cluster, "missing_fk_index", db)) == set(found)

    admin(cluster, "CREATE INDEX ON orders (customer_id); CREATE INDEX ON half (b, a)", db)
    assert subjects(check(cluster, "missing_fk_index", db)) == set()

    # A partitioned table: one finding for the key of the table, none for its partitions' copies.
    admin(
        cluster,
        """
        CREATE TABLE visits (customer_id int REFERENCES customers, at int) PARTITION BY RANGE (at);
        CREATE TABLE visits_1 PARTITION OF visits FOR VALUES FROM (0) TO (10);
        CREATE TABLE visits_2 PARTITION OF visits FOR VALUES FROM (10) TO (20);
        INSERT INTO customers VALUES (1);
        INSERT INTO visits SELECT 1, g % 20 FROM generate_series(1, 100) g;
        ANALYZE visits;
        """,
        db,
    )
    found = by_subject(check(cluster, "missing_fk_index", db))
    assert set(found) == {"public.visits.visits_customer_id_fkey"}
    problem = found["public.visits.visits_customer_id_fkey"]
    assert problem.remedy.startswith("CREATE INDEX ON public.visits (customer_id);")
    assert problem.details["table_rows_estimate"] == 100
    admin(cluster, "CREATE INDEX ON visits (customer_id)", db)
    assert subjects(check(cluster, "missing_fk_index", db)) == set()


# --- missing_index ---------------------------------------------------------------------------


def test_missing_index_on_sequentially_scanned_table(cluster, db):
    admin(
        cluster,
        """
        CREATE TABLE scanned (id int PRIMARY KEY, v int);
        INSERT INTO scanned SELECT g, g % 100 FROM generate_series(1, 3000) g;
        CREATE TABLE looked_up (id int PRIMARY KEY, v int);
        INSERT INTO looked_up SELECT g, g % 100 FROM generate_series(1, 3000) g;
        CREATE TABLE heap_only (id int, v int);   -- no index at all: idx_scan is NULL
        INSERT INTO heap_only SELECT g, g % 100 FROM generate_series(1, 3000) g;
        CREATE TABLE small (id int, v int);
        INSERT INTO small SELECT g, g FROM generate_series(1, 100) g;
        ANALYZE;
        """,
        db,
    )
    scans = ";".join(f"SELECT count(*) FROM scanned WHERE v = {n}" for n in range(30))
    scans += ";" + ";".join(f"SELECT count(*) FROM small WHERE v = {n}" for n in range(30))
    scans += ";" + ";".join(f"SELECT count(*) FROM heap_only WHERE v = {n}" for n in range(30))
    lookups = ";".join(f"SELECT v FROM looked_up WHERE id = {n}" for n in range(1, 60))
    flushed(cluster, db, scans)
    flushed(cluster, db, "SET enable_seqscan = off;" + lookups)
    thresholds = {
        "missing_index_min_rows": 1000,
        "missing_index_min_seq_tup_read": 50_000,
    }

    def report():
        result = check(cluster, "missing_index", db, thresholds=thresholds)
        return result if subjects(result) == {"public.scanned", "public.heap_only"} else None

    found = by_subject(wait_for(report, timeout=15))
    assert found["public.heap_only"].details["has_any_index"] is False
    assert found["public.heap_only"].details["idx_scan"] == 0
    problem = found["public.scanned"]
    assert problem.severity == "warning"
    # 30 scans by the test and one by the primary key's index build.
    assert problem.details["seq_scan"] == 31
    assert problem.details["seq_tup_read"] >= 30 * 3000
    assert problem.details["has_any_index"] is True
    assert "pg_stat_statements" in problem.remedy
    # The default thresholds (10,000 rows) leave a 3,000-row table alone.
    assert subjects(check(cluster, "missing_index", db)) == set()
    assert subjects(as_watcher(cluster, "missing_index", db, thresholds=thresholds)) == set(found)


# --- index_bloat -----------------------------------------------------------------------------


def test_index_bloat_estimate(cluster, db):
    admin(
        cluster,
        """
        CREATE TABLE bloated (id int, v int);
        INSERT INTO bloated SELECT g, g FROM generate_series(1, 100000) g;
        CREATE INDEX bloated_id ON bloated (id);
        CREATE TABLE fresh (id int, v int);
        INSERT INTO fresh SELECT g, g FROM generate_series(1, 100000) g;
        CREATE INDEX fresh_id ON fresh (id);
        DELETE FROM bloated WHERE id % 10 <> 0;      -- 90% of the rows, on every leaf page
        DELETE FROM fresh WHERE id % 10 <> 0;
        """,
        db,
    )
    for statement in ("VACUUM bloated", "VACUUM fresh", "REINDEX INDEX fresh_id", "ANALYZE bloated, fresh"):
        admin(cluster, statement, db)  # one by one: VACUUM refuses a multi-statement string
    thresholds = {"index_bloat_min_bytes": 1024 * 1024, "index_bloat_ratio": 0.5}
    found = by_subject(check(cluster, "index_bloat", db, thresholds=thresholds))
    assert set(found) == {"public.bloated_id"}
    problem = found["public.bloated_id"]
    assert problem.severity == "warning"
    assert "ESTIMATE" in problem.message
    assert problem.details["estimate"] is True
    assert problem.details["estimated_wasted_ratio"] > 0.8
    assert problem.details["estimated_wasted_bytes"] > 1024 * 1024
    assert problem.remedy == "REINDEX INDEX CONCURRENTLY public.bloated_id;"
    # The default (100 MB wasted, PgHero) leaves a 2 MB index alone.
    assert subjects(check(cluster, "index_bloat", db)) == set()

    # pg_stats shows a pg_monitor role no column of these tables: skipped, with the grant.
    skipped = as_watcher(cluster, "index_bloat", db, thresholds=thresholds)
    assert isinstance(skipped, Skip)
    assert "pg_stats" in skipped.reason
    assert skipped.grant == "GRANT pg_read_all_data TO watcher"

    # Given one table, it estimates that one and counts the others.
    admin(cluster, "GRANT SELECT ON bloated TO watcher", db)
    partial = by_subject(as_watcher(cluster, "index_bloat", db, thresholds=thresholds))
    assert set(partial) == {"public.bloated_id"}
    assert partial["public.bloated_id"].details["indexes_without_statistics_access"] == 1

    admin(cluster, "REINDEX INDEX bloated_id", db)
    assert subjects(check(cluster, "index_bloat", db, thresholds=thresholds)) == set()
