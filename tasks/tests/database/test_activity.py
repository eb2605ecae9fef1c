"""The activity checks against real sessions on a throwaway cluster: a statement that runs long,
a session idle in transaction, an UPDATE waiting for a row lock, connection slots nearly used
up, and a prepared transaction left behind. Each is provoked, reported with the right pid or
gid, then ended and no longer reported."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tasks.reviews.database.check import Skip
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster
from testing.wait import wait_for


@pytest.fixture(scope="module")
def cluster():
    cluster = PgCluster(settings={"max_prepared_transactions": "5"}).start()
    password = cluster.superuser_password
    admin(
        cluster,
        f"CREATE ROLE watcher LOGIN PASSWORD '{password}' IN ROLE pg_monitor;"
        f"CREATE ROLE plain LOGIN PASSWORD '{password}';"
        "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);"
        "INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 10) g;"
        "GRANT ALL ON accounts TO plain",
    )
    yield cluster
    cluster.stop()


class Running:
    """One statement running in a thread, on a session of its own whose pid is known."""

    def __init__(self, cluster: PgCluster, sql: str, **kwargs) -> None:
        self.conn = cluster.connect(**kwargs)
        self.pid = self.conn.info.backend_pid
        self.error: psycopg.Error | None = None
        self.thread = threading.Thread(target=self._run, args=(sql,), daemon=True)
        self.thread.start()

    def _run(self, sql: str) -> None:
        try:
            self.conn.execute(sql)
        except psycopg.Error as exc:
            self.error = exc

    def finish(self, cancel: bool = False) -> None:
        if cancel:
            self.conn.cancel()
        self.thread.join(15)
        assert not self.thread.is_alive()
        self.conn.close()


def reported(cluster, name, expected: set[str], **kwargs):
    """Poll the check until it reports exactly `expected`; return its problems by subject."""
    result = wait_for(lambda: (r := check(cluster, name, **kwargs)) and subjects(r) == expected and r, timeout=15)
    return {problem.subject: problem for problem in result}


def test_long_running_query_reported_with_its_pid_then_not_once_it_ends(cluster):
    fast = {"long_running_query_seconds": 0.5}
    sleeper = Running(cluster, "SELECT pg_sleep(60) /* nightly report */")
    try:
        found = reported(cluster, "long_running_query", {f"pid {sleeper.pid}"}, thresholds=fast)
        problem = found[f"pid {sleeper.pid}"]
        assert problem.severity == "warning"
        assert "pg_sleep(60) /* nightly report */" in problem.message
        assert "user postgres" in problem.message and "database postgres" in problem.message
        assert problem.remedy.startswith(f"SELECT pg_cancel_backend({sleeper.pid});")
        assert f"pg_terminate_backend({sleeper.pid})" in problem.remedy
        assert problem.details["pid"] == sleeper.pid
        assert problem.details["seconds"] >= 0.5
        assert "pg_sleep(60)" in problem.details["query"]

        # Above the second threshold it is critical; the same pid stays the same subject.
        again = check(cluster, "long_running_query", thresholds={**fast, "long_running_query_critical_seconds": 0.5})
        assert [(p.subject, p.severity) for p in again] == [(f"pid {sleeper.pid}", "critical")]

        # The default threshold (60 s) is not reached yet.
        assert subjects(check(cluster, "long_running_query")) == set()

        # pg_monitor sees other roles' queries; a role without pg_read_all_stats is told what to grant.
        watched = check(cluster, "long_running_query", thresholds=fast, user="watcher")
        assert subjects(watched) == {f"pid {sleeper.pid}"}
        assert "pg_sleep(60)" in watched[0].details["query"]
        blind = check(cluster, "long_running_query", thresholds=fast, user="plain")
        assert isinstance(blind, Skip)
        assert "pg_read_all_stats" in blind.reason
        assert blind.grant == "GRANT pg_monitor TO plain"
    finally:
        sleeper.finish(cancel=True)
    assert isinstance(sleeper.error, psycopg.errors.QueryCanceled)
    assert subjects(check(cluster, "long_running_query", thresholds=fast)) == set()


def test_idle_in_transaction_and_aborted_reported_then_not_once_they_end(cluster):
    fast = {"idle_in_transaction_seconds": 0.2}
    idle = cluster.connect(autocommit=False)
    aborted = cluster.connect(autocommit=False, user="plain")
    # A session only between statements of an autocommit client is not in a transaction.
    bystander = cluster.connect()
    try:
        idle.execute("SELECT balance FROM accounts WHERE id = 1 FOR UPDATE")
        with pytest.raises(psycopg.errors.DivisionByZero):
            aborted.execute("SELECT 1 / 0")
        bystander.execute("SELECT 1")
        expected = {f"pid {idle.info.backend_pid}", f"pid {aborted.info.backend_pid}"}
        found = reported(cluster, "idle_in_transaction", expected, thresholds=fast)

        first = found[f"pid {idle.info.backend_pid}"]
        assert first.severity == "warning"
        assert "idle in transaction for" in first.message and "(aborted)" not in first.message
        assert "FOR UPDATE" in first.message
        assert first.remedy.startswith(f"SELECT pg_terminate_backend({idle.info.backend_pid});")
        assert "ALTER ROLE postgres SET idle_in_transaction_session_timeout" in first.remedy
        assert first.details["aborted"] is False
        assert first.details["xmin_age"] >= 0

        second = found[f"pid {aborted.info.backend_pid}"]
        assert "idle in transaction (aborted)" in second.message
        assert "until the application rolls back" in second.message and "locks" not in second.message
        assert "keeps VACUUM from removing dead rows" in first.message
        assert "user plain" in second.message
        assert second.details["aborted"] is True
        assert "ALTER ROLE plain SET" in second.remedy

        critical = check(
            cluster, "idle_in_transaction", thresholds={**fast, "idle_in_transaction_critical_seconds": 0.2}
        )
        assert {p.severity for p in critical} == {"critical"}
        assert subjects(check(cluster, "idle_in_transaction")) == set()  # default: 30 minutes
        assert subjects(check(cluster, "idle_in_transaction", thresholds=fast, user="watcher")) == expected
    finally:
        idle.rollback()
        aborted.rollback()
    try:
        assert subjects(check(cluster, "idle_in_transaction", thresholds=fast)) == set()
    finally:
        for conn in (idle, aborted, bystander):
            conn.close()


def test_blocked_update_reported_with_its_blocker_then_not_once_the_lock_is_released(cluster):
    fast = {"blocked_query_seconds": 0.2}
    holder = cluster.connect(autocommit=False)
    holder.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 2")
    waiter = Running(cluster, "UPDATE accounts SET balance = balance - 1 WHERE id = 2", user="plain")
    try:
        found = reported(cluster, "blocked_query", {f"pid {waiter.pid}"}, thresholds=fast)
        problem = found[f"pid {waiter.pid}"]
        assert problem.severity == "warning"
        assert problem.details["blocking_pids"] == [holder.info.backend_pid]
        assert problem.details["blocked_by_prepared_transaction"] is False
        [blocker] = problem.details["blocking"]
        assert blocker["pid"] == holder.info.backend_pid
        assert blocker["state"] == "idle in transaction"
        assert blocker["transaction_seconds"] > 0
        assert "balance + 1" in blocker["query"]
        assert "balance - 1" in problem.details["query"]
        assert f"lock held by pid {holder.info.backend_pid} (idle in transaction" in problem.message
        assert "balance - 1" in problem.message and "balance + 1" in problem.message
        assert problem.remedy.startswith(f"SELECT pg_terminate_backend({holder.info.backend_pid});")

        critical = check(cluster, "blocked_query", thresholds={**fast, "blocked_query_critical_seconds": 0.2})
        assert [p.severity for p in critical] == ["critical"]
        assert subjects(check(cluster, "blocked_query", thresholds=fast, user="watcher")) == {f"pid {waiter.pid}"}
        # A statement waiting on a lock is the blocked one, not a long-running one.
        assert subjects(check(cluster, "long_running_query", thresholds={"long_running_query_seconds": 0.1})) == set()
    finally:
        holder.commit()
        waiter.finish()
        holder.close()
    assert waiter.error is None
    assert subjects(check(cluster, "blocked_query", thresholds=fast)) == set()


def test_prepared_transaction_left_behind_reported_and_named_as_blocker_then_not_after_rollback(cluster):
    with cluster.connect(autocommit=False) as conn:
        conn.execute("UPDATE accounts SET balance = 0 WHERE id = 3")
        conn.execute("PREPARE TRANSACTION 'forgotten-2pc'")
    waiter = Running(cluster, "UPDATE accounts SET balance = 1 WHERE id = 3")
    try:
        found = reported(
            cluster,
            "orphaned_prepared_transaction",
            {"forgotten-2pc"},
            thresholds={"orphaned_prepared_transaction_seconds": 0},
        )
        problem = found["forgotten-2pc"]
        assert problem.severity == "warning"
        assert problem.remedy.startswith("ROLLBACK PREPARED 'forgotten-2pc';")
        assert "database postgres" in problem.remedy
        assert problem.details["database"] == "postgres" and problem.details["owner"] == "postgres"
        assert problem.details["locks"] >= 1  # at least the row's transaction id lock
        assert subjects(check(cluster, "orphaned_prepared_transaction")) == set()  # default: 5 minutes
        assert subjects(
            check(
                cluster,
                "orphaned_prepared_transaction",
                thresholds={"orphaned_prepared_transaction_seconds": 0},
                user="watcher",
            )
        ) == {"forgotten-2pc"}

        # pg_blocking_pids names a prepared transaction as pid 0.
        blocked = reported(cluster, "blocked_query", {f"pid {waiter.pid}"}, thresholds={"blocked_query_seconds": 0.2})
        details = blocked[f"pid {waiter.pid}"].details
        assert details["blocked_by_prepared_transaction"] is True
        assert details["blocking_pids"] == [] and details["blocking"] == []
        assert "a prepared transaction" in blocked[f"pid {waiter.pid}"].message
    finally:
        admin(cluster, "ROLLBACK PREPARED 'forgotten-2pc'")
        waiter.finish()
    assert waiter.error is None
    assert (
        subjects(
            check(cluster, "orphaned_prepared_transaction", thresholds={"orphaned_prepared_transaction_seconds": 0})
        )
        == set()
    )


@pytest.fixture(scope="module")
def small():
    """A cluster with 7 connection slots for clients: max_connections 10, 3 reserved for superusers."""
    cluster = PgCluster(settings={"max_connections": "10", "superuser_reserved_connections": "3"}).start()
    password = cluster.superuser_password
    admin(
        cluster,
        f"CREATE ROLE watcher LOGIN PASSWORD '{password}' IN ROLE pg_monitor; CREATE ROLE plain LOGIN PASSWORD '{password}'",
    )
    yield cluster
    cluster.stop()


def test_connection_saturation_reported_while_slots_are_used_then_not(small):
    sessions = [small.connect() for _ in range(5)]
    try:
        # 5 sessions and the review's own: 6 of 7 (86%) - under the default 90%.
        assert subjects(check(small, "connection_saturation")) == set()
        [problem] = check(small, "connection_saturation", thresholds={"connection_saturation_ratio": 0.8})
        assert problem.subject == "max_connections"
        assert problem.severity == "warning"
        assert problem.details["used"] == 6 and problem.details["available"] == 7
        assert problem.details["max_connections"] == 10 and problem.details["superuser_reserved_connections"] == 3
        assert problem.message.startswith("6 of 7 connections in use (86%")
        assert problem.details["idle"] == 5
        assert {"user": "postgres", "database": "postgres", "connections": 6, "idle": 5} in problem.details[
            "by_user_and_database"
        ]
        # pg_monitor counts every session too.
        [watched] = check(
            small, "connection_saturation", thresholds={"connection_saturation_ratio": 0.8}, user="watcher"
        )
        assert watched.details["used"] == 6
        # Without pg_read_all_stats other sessions show no backend_type: skipped, with the grant.
        blind = check(small, "connection_saturation", user="plain")
        assert isinstance(blind, Skip) and blind.grant == "GRANT pg_monitor TO plain"

        sessions.append(small.connect())
        # 7 of 7: critical (the review gets in on a superuser slot).
        [full] = check(small, "connection_saturation")
        assert full.severity == "critical"
        assert full.details["used"] == 7
    finally:
        for conn in sessions:
            conn.close()
    # Closed sessions leave pg_stat_activity as their backends exit; then only the review's own is left.
    [alone] = reported(
        small, "connection_saturation", {"max_connections"}, thresholds={"connection_saturation_ratio": 0.1}
    )
    wait_for(
        lambda: check(small, "connection_saturation", thresholds={"connection_saturation_ratio": 0.1})[0].details[
            "used"
        ]
        == 1
    )
    assert subjects(check(small, "connection_saturation", thresholds={"connection_saturation_ratio": 0.2})) == set()
