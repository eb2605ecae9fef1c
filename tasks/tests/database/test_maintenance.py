"""The maintenance checks on a real cluster: every condition is made real (transaction IDs
consumed, multixacts created by concurrent row locks, sequences advanced with nextval, rows
deleted), reported, then removed and no longer reported. Each test works in its own database,
so that what one test leaves behind is not another test's subject.

The cluster runs with autovacuum off, so that no background VACUUM or ANALYZE changes what a
test has set up; the per-table autovacuum_enabled option is what autovacuum_disabled reads."""

from __future__ import annotations

import pytest

from tasks.reviews.database.check import Skip
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster
from testing.wait import wait_for

WRAP = 2**31


@pytest.fixture(scope="module")
def cluster():
    cluster = PgCluster(settings={"autovacuum": "off"}).start()
    admin(cluster, f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
    yield cluster
    cluster.stop()


def database(cluster: PgCluster, name: str) -> str:
    admin(cluster, f"CREATE DATABASE {name}")
    return name


def provoke(cluster: PgCluster, sql: str, dbname: str) -> None:
    """Run `sql` as the superuser and flush its statistics before returning."""
    with cluster.connect(dbname) as conn:
        conn.execute(sql)
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")  # the flush happens when the backend goes idle after the call above


def consume_xids(cluster: PgCluster, count: int) -> None:
    """`count` real transactions, each assigned a transaction ID."""
    admin(cluster, f"DO $$ BEGIN FOR i IN 1..{count} LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$")


def freeze_all_but(cluster: PgCluster, dbname: str, keep: set[str]) -> None:
    """VACUUM FREEZE every table of `dbname` (catalogs included) except those named in `keep`,
    so that only those keep an old relfrozenxid/relminmxid."""
    with cluster.connect(dbname) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT oid::regclass::text FROM pg_class WHERE relkind IN ('r', 'm') AND relpersistence <> 't'"
                " AND NOT relname = ANY(%s)",
                (list(keep),),
            )
        ]
        conn.execute(f"VACUUM (FREEZE) {', '.join(names)}")


def by_subject(result):
    assert not isinstance(result, Skip), f"skipped: {result}"
    return {problem.subject: problem for problem in result}


def test_xid_wraparound_reports_the_database_and_its_old_table_and_toast(cluster):
    db = database(cluster, "xid_db")
    admin(
        cluster,
        "CREATE TABLE old_t (id int, doc text); INSERT INTO old_t VALUES (1, 'a');"
        "CREATE TABLE frozen_t (id int, doc text); INSERT INTO frozen_t VALUES (1, 'a')",
        db,
    )
    consume_xids(cluster, 1000)
    freeze_all_but(cluster, db, {"old_t"})  # frozen_t and the catalogs are young again

    low = {"xid_wraparound_warning_ratio": 500 / WRAP, "xid_wraparound_critical_ratio": 1.0}
    found = by_subject(check(cluster, "xid_wraparound", db, thresholds=low))
    assert set(found) == {"xid_db", "public.old_t", "public.old_t (TOAST)"}
    assert {p.severity for p in found.values()} == {"warning"}
    table = found["public.old_t"]
    assert table.details["age"] >= 1000 and table.details["toast"] is False
    assert table.remedy.startswith("VACUUM (FREEZE, VERBOSE) public.old_t;")
    assert found["public.old_t (TOAST)"].remedy.startswith("VACUUM (FREEZE, VERBOSE) public.old_t;")
    assert found["xid_db"].details["age"] >= 1000 and "datfrozenxid" in found["xid_db"].message
    assert "1,0" in table.message  # the age, with its thousands separator

    critical = {**low, "xid_wraparound_critical_ratio": 500 / WRAP}
    assert {p.severity for p in check(cluster, "xid_wraparound", db, thresholds=critical)} == {"critical"}
    assert subjects(check(cluster, "xid_wraparound", db)) == set()  # defaults: ~1 billion

    # pg_monitor reads pg_class and pg_database: the same findings.
    assert subjects(check(cluster, "xid_wraparound", db, thresholds=low, user="watcher")) == set(found)

    admin(cluster, "VACUUM (FREEZE) old_t", db)
    assert subjects(check(cluster, "xid_wraparound", db, thresholds=low)) == set()


def test_multixact_wraparound_reports_the_table_whose_rows_were_share_locked(cluster):
    db = database(cluster, "mxid_db")
    admin(cluster, "CREATE TABLE locked (id int PRIMARY KEY, doc text); INSERT INTO locked VALUES (1, 'a')", db)
    admin(cluster, "CREATE TABLE quiet (id int PRIMARY KEY, doc text); INSERT INTO quiet VALUES (1, 'a')", db)
    # Two transactions share-locking one row make a multixact; five of them, one after the other.
    with cluster.connect(db) as first, cluster.connect(db) as second:
        for _ in range(5):
            for conn in (first, second):
                conn.execute("BEGIN")
                conn.execute("SELECT * FROM locked WHERE id = 1 FOR SHARE")
            first.execute("COMMIT")
            second.execute("COMMIT")
    freeze_all_but(cluster, db, {"locked"})

    low = {"multixact_wraparound_warning_ratio": 3 / WRAP, "multixact_wraparound_critical_ratio": 1.0}
    found = by_subject(check(cluster, "multixact_wraparound", db, thresholds=low))
    assert set(found) == {"mxid_db", "public.locked", "public.locked (TOAST)"}
    assert found["public.locked"].details["age"] >= 5
    assert "relminmxid" in found["public.locked"].message
    assert subjects(check(cluster, "multixact_wraparound", db)) == set()
    assert subjects(check(cluster, "multixact_wraparound", db, thresholds=low, user="watcher")) == set(found)

    admin(cluster, "VACUUM (FREEZE) locked", db)
    assert subjects(check(cluster, "multixact_wraparound", db, thresholds=low)) == set()


def test_sequence_exhaustion_against_column_type_and_sequence_limit(cluster):
    db = database(cluster, "seq_db")
    near = 2**31 - 1001
    admin(
        cluster,
        f"""
        CREATE TABLE s_int (id serial PRIMARY KEY, v text);
        SELECT setval('s_int_id_seq', {near}); INSERT INTO s_int (v) VALUES ('a');
        CREATE TABLE s_big (id bigserial PRIMARY KEY, v text);
        SELECT setval('s_big_id_seq', {near}); INSERT INTO s_big (v) VALUES ('a');
        CREATE TABLE s_ident (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);
        SELECT setval(pg_get_serial_sequence('s_ident', 'id'), {int(0.92 * 2**31)});
        INSERT INTO s_ident (v) VALUES ('a');
        CREATE TABLE s_max (id bigint PRIMARY KEY, v text);
        CREATE SEQUENCE s_max_seq MAXVALUE 1000 OWNED BY s_max.id;
        ALTER TABLE s_max ALTER COLUMN id SET DEFAULT nextval('s_max_seq');
        SELECT setval('s_max_seq', 970); INSERT INTO s_max (v) VALUES ('a');
        CREATE TABLE s_narrow (id bigint PRIMARY KEY, v text);
        CREATE SEQUENCE s_narrow_seq AS integer OWNED BY s_narrow.id;
        ALTER TABLE s_narrow ALTER COLUMN id SET DEFAULT nextval('s_narrow_seq');
        SELECT setval('s_narrow_seq', {near}); INSERT INTO s_narrow (v) VALUES ('a');
        CREATE TABLE s_fresh (id serial PRIMARY KEY);
        """,
        db,
    )
    found = by_subject(check(cluster, "sequence_exhaustion", db))
    assert set(found) == {"public.s_int_id_seq", "public.s_ident_id_seq", "public.s_max_seq", "public.s_narrow_seq"}

    serial = found["public.s_int_id_seq"]
    assert serial.severity == "critical"
    assert serial.details["column"] == "public.s_int.id" and serial.details["column_type"] == "integer"
    assert serial.details["last_value"] == near + 1 and serial.details["max_value"] == 2**31 - 1
    assert serial.details["values_left"] == 999 and serial.details["limited_by"] == "column type"
    assert "ALTER TABLE public.s_int ALTER COLUMN id TYPE bigint;" in serial.remedy
    assert "ALTER SEQUENCE public.s_int_id_seq AS bigint;" in serial.remedy
    assert "999 values left" in serial.message

    identity = found["public.s_ident_id_seq"]
    assert identity.severity == "warning" and identity.details["identity"] is True
    assert 0.92 <= identity.details["share_used"] < 0.93
    assert identity.remedy.startswith("ALTER TABLE public.s_ident ALTER COLUMN id TYPE bigint;")

    own_limit = found["public.s_max_seq"]
    assert own_limit.severity == "critical" and own_limit.details["limited_by"] == "sequence"
    assert own_limit.details["max_value"] == 1000 and own_limit.details["column_type"] == "bigint"
    assert own_limit.remedy == "ALTER SEQUENCE public.s_max_seq NO MAXVALUE;"

    narrow = found["public.s_narrow_seq"]  # a bigint column fed by an integer sequence
    assert narrow.severity == "critical" and narrow.details["limited_by"] == "sequence"
    assert narrow.details["max_value"] == 2**31 - 1
    assert narrow.remedy == "ALTER SEQUENCE public.s_narrow_seq AS bigint;"

    # pg_monitor may not read a sequence's last value: the check is skipped with its GRANT ...
    skipped = check(cluster, "sequence_exhaustion", db, user="watcher")
    assert isinstance(skipped, Skip)
    assert skipped.grant == "GRANT pg_read_all_data TO watcher"
    assert "public" in skipped.reason
    # ... and with SELECT on some sequences, those are checked and the others are named by schema.
    admin(cluster, "GRANT SELECT ON SEQUENCE s_ident_id_seq TO watcher", db)
    partial = by_subject(check(cluster, "sequence_exhaustion", db, user="watcher"))
    assert set(partial) == {"public.s_ident_id_seq", "public"}
    assert partial["public"].severity == "info"
    assert partial["public"].details == {"sequences_not_checked": 5}
    assert partial["public"].remedy == "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO watcher;"
    # The GRANT the skip names is enough for all of them.
    admin(cluster, "GRANT pg_read_all_data TO watcher")
    try:
        assert subjects(check(cluster, "sequence_exhaustion", db, user="watcher")) == set(found)
    finally:
        admin(cluster, "REVOKE pg_read_all_data FROM watcher")

    admin(
        cluster,
        "ALTER TABLE s_int ALTER COLUMN id TYPE bigint; ALTER SEQUENCE s_int_id_seq AS bigint;"
        "ALTER TABLE s_ident ALTER COLUMN id TYPE bigint; ALTER SEQUENCE s_max_seq NO MAXVALUE;"
        "ALTER SEQUENCE s_narrow_seq AS bigint",
        db,
    )
    assert subjects(check(cluster, "sequence_exhaustion", db)) == set()


def test_dead_tuples_on_a_table_with_autovacuum_disabled(cluster):
    db = database(cluster, "churn_db")
    provoke(
        cluster,
        "CREATE TABLE churn (id int, payload text) WITH (autovacuum_enabled = false);"
        "INSERT INTO churn SELECT g, repeat('x', 100) FROM generate_series(1, 40000) g;"
        "DELETE FROM churn WHERE id % 10 <> 0;"
        "CREATE TABLE toasty (id int, doc text) WITH (toast.autovacuum_enabled = off);"
        "CREATE TABLE fine (id int); INSERT INTO fine SELECT generate_series(1, 60000); DELETE FROM fine WHERE id <= 100",
        db,
    )
    wait_for(lambda: subjects(check(cluster, "vacuum_overdue", db)))
    overdue = by_subject(check(cluster, "vacuum_overdue", db))  # default thresholds
    assert set(overdue) == {"public.churn"}
    details = overdue["public.churn"].details
    assert (details["n_dead_tup"], details["n_live_tup"]) == (36000, 4000)
    assert details["autovacuum_enabled"] is False and details["last_vacuum"] is None
    assert "36,000 dead rows (90% of 40,000)" in overdue["public.churn"].message
    assert overdue["public.churn"].remedy == "VACUUM (VERBOSE, ANALYZE) public.churn;"

    disabled = by_subject(check(cluster, "autovacuum_disabled", db))
    assert set(disabled) == {"public.churn", "public.toasty"}
    assert disabled["public.churn"].remedy == "ALTER TABLE public.churn RESET (autovacuum_enabled);"
    assert disabled["public.churn"].details["n_dead_tup"] == 36000
    assert disabled["public.toasty"].remedy == "ALTER TABLE public.toasty RESET (toast.autovacuum_enabled);"

    # pg_monitor reads the statistics views and pg_class: the same findings.
    assert subjects(check(cluster, "vacuum_overdue", db, user="watcher")) == {"public.churn"}
    assert subjects(check(cluster, "autovacuum_disabled", db, user="watcher")) == {"public.churn", "public.toasty"}

    admin(cluster, "ANALYZE churn; ANALYZE fine", db)
    low = {"table_bloat_min_bytes": 1024**2, "table_bloat_ratio": 0.5}
    bloat = by_subject(check(cluster, "table_bloat", db, thresholds=low))
    assert set(bloat) == {"public.churn"}
    estimate = bloat["public.churn"]
    assert estimate.details["estimate"] is True and "ESTIMATE" in estimate.message
    assert 0.8 < estimate.details["bloat_share"] < 0.95
    assert estimate.details["reltuples"] == 4000
    assert subjects(check(cluster, "table_bloat", db)) == set()  # defaults: 1 GB

    # pg_stats hides the columns pg_monitor may not SELECT: no table estimable, the check is skipped ...
    skipped = check(cluster, "table_bloat", db, thresholds=low, user="watcher")
    assert isinstance(skipped, Skip) and skipped.grant == "GRANT pg_read_all_data TO watcher"
    # ... and with SELECT on one table, that one is estimated and the others are counted by schema.
    admin(cluster, "GRANT SELECT ON churn TO watcher", db)
    partial = by_subject(check(cluster, "table_bloat", db, thresholds=low, user="watcher"))
    assert set(partial) == {"public.churn", "public"}
    assert partial["public"].severity == "info" and partial["public"].details == {"tables_not_estimated": 1}
    admin(cluster, "GRANT pg_read_all_data TO watcher")
    try:
        assert subjects(check(cluster, "table_bloat", db, thresholds=low, user="watcher")) == {"public.churn"}
    finally:
        admin(cluster, "REVOKE pg_read_all_data FROM watcher")

    admin(cluster, "VACUUM churn", db)
    assert subjects(check(cluster, "vacuum_overdue", db)) == set()
    assert subjects(check(cluster, "autovacuum_disabled", db)) == {"public.churn", "public.toasty"}
    admin(
        cluster, "ALTER TABLE churn RESET (autovacuum_enabled); ALTER TABLE toasty RESET (toast.autovacuum_enabled)", db
    )
    assert subjects(check(cluster, "autovacuum_disabled", db)) == set()


def test_analyze_overdue_never_analyzed_then_changed_since(cluster):
    db = database(cluster, "stats_db")
    provoke(
        cluster,
        "CREATE TABLE facts (id int); INSERT INTO facts SELECT generate_series(1, 20000);"
        "CREATE TABLE tiny (id int); INSERT INTO tiny SELECT generate_series(1, 100)",
        db,
    )
    wait_for(lambda: subjects(check(cluster, "analyze_overdue", db)))
    found = by_subject(check(cluster, "analyze_overdue", db))  # default thresholds
    assert set(found) == {"public.facts"}
    assert found["public.facts"].details["never_analyzed"] is True
    assert found["public.facts"].details["n_mod_since_analyze"] == 20000
    assert "never been analyzed" in found["public.facts"].message
    assert found["public.facts"].remedy == "ANALYZE public.facts;"
    assert subjects(check(cluster, "analyze_overdue", db, user="watcher")) == {"public.facts"}

    admin(cluster, "ANALYZE facts", db)
    assert subjects(check(cluster, "analyze_overdue", db)) == set()

    provoke(cluster, "UPDATE facts SET id = id WHERE id <= 5000", db)  # 25% of the rows
    low = {"analyze_overdue_min_changed_rows": 1000}
    wait_for(lambda: subjects(check(cluster, "analyze_overdue", db, thresholds=low)))
    changed = by_subject(check(cluster, "analyze_overdue", db, thresholds=low))
    assert set(changed) == {"public.facts"}
    assert changed["public.facts"].details["never_analyzed"] is False
    assert changed["public.facts"].details["n_mod_since_analyze"] == 5000
    assert subjects(check(cluster, "analyze_overdue", db)) == set()  # 5,000 < 10,000 by default

    admin(cluster, "ANALYZE facts", db)
    assert subjects(check(cluster, "analyze_overdue", db, thresholds=low)) == set()
