"""What every check gets from the framework: read-only sessions, timeouts that skip instead
of hanging or failing, and the GRANT that a missing privilege needs."""

from __future__ import annotations

import time

import pytest

from tasks.reviews.database.catalog import CHECKS
from tasks.reviews.database.check import DATABASE, Check, Skip
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster


@pytest.fixture(scope="module")
def cluster():
    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


def test_invalid_index_left_by_failed_concurrent_build(cluster):
    admin(cluster, "CREATE TABLE dupes (id int); INSERT INTO dupes VALUES (1), (1)")
    with pytest.raises(Exception, match="could not create unique index"):
        admin(cluster, "CREATE UNIQUE INDEX CONCURRENTLY dupes_id_key ON dupes (id)")
    assert subjects(check(cluster, "invalid_index")) == {"public.dupes_id_key"}
    admin(cluster, "DROP INDEX dupes_id_key")
    assert subjects(check(cluster, "invalid_index")) == set()


def test_a_check_cannot_write(cluster, monkeypatch):
    def writes(ctx):
        ctx.rows("CREATE TABLE written_by_a_review (id int)")
        return []

    result = check_with(cluster, Check("writes", "indexes", DATABASE, writes, "test"))
    assert isinstance(result, Skip)
    assert "read-only transaction" in result.reason


def test_a_slow_statement_is_skipped_at_statement_timeout(cluster):
    def sleeps(ctx):
        ctx.rows("SELECT pg_sleep(30)")
        return []

    started = time.monotonic()
    result = check_with(cluster, Check("sleeps", "indexes", DATABASE, sleeps, "test"), statement_ms=300)
    assert isinstance(result, Skip)
    assert result.reason.startswith("timed out after statement_timeout (300ms)")
    assert time.monotonic() - started < 10


def test_a_missing_privilege_names_its_grant(cluster):
    admin(cluster, f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}'")

    def reads_authid(ctx):
        ctx.rows("SELECT rolpassword FROM pg_authid")
        return []

    probe = Check("authid", "security", DATABASE, reads_authid, "test", grant="GRANT pg_read_all_data TO {role}")
    result = check_with(cluster, probe, user="watcher")
    assert isinstance(result, Skip)
    assert result.reason.startswith("permission denied")
    assert result.grant == "GRANT pg_read_all_data TO watcher"


def check_with(cluster, extra: Check, **kwargs):
    CHECKS[extra.name] = extra
    try:
        return check(cluster, extra.name, **kwargs)
    finally:
        del CHECKS[extra.name]


def test_a_check_that_waits_for_a_lock_is_skipped_at_lock_timeout(cluster):
    """PgHero's hang: a size query behind a migration's ACCESS EXCLUSIVE lock. Here it waits
    lock_timeout, is skipped with that reason, and the session stays usable."""
    admin(cluster, "CREATE TABLE migrating (id int)")
    holder = cluster.connect(autocommit=False)
    holder.execute("LOCK TABLE migrating IN ACCESS EXCLUSIVE MODE")

    def sizes(ctx):
        ctx.rows("SELECT pg_relation_size('migrating'::regclass)")
        return []

    try:
        started = time.monotonic()
        result = check_with(cluster, Check("sizes", "indexes", DATABASE, sizes, "test"), lock_ms=200)
        assert isinstance(result, Skip)
        assert result.reason == "a lock it needs was held longer than lock_timeout (200ms)"
        assert time.monotonic() - started < 10
    finally:
        holder.rollback()
        holder.close()
