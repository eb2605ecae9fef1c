"""log_analysis end to end: real events in a real server's log, read through the connection.

A throwaway cluster with the log collector on and the usual DBA logging settings; the test
provokes each event for real (a deadlock between two sessions, a wrong password, a temp file,
a division by zero, a lock wait, a slow statement), then a real worker runs the review.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from tasks.models import ExecutionStatus, Finding, TaskExecution
from tasks.runner import start_execution
from tasks.tests.factories import TaskFactory
from testing.pg_cluster import PgCluster
from testing.wait import wait_for
from testing.worker import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

LOGGING = {
    "logging_collector": "on",
    "log_destination": "'stderr'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "log_min_duration_statement": "200",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "deadlock_timeout": "'100ms'",
    "log_connections": "on",
    "lc_messages": "'C'",
    # The smallest WAL between checkpoints, and a checkpoint_warning of its own: a little WAL
    # makes PostgreSQL warn, and the review must use the server's threshold, not its default.
    "max_wal_size": "'32MB'",
    "min_wal_size": "'32MB'",
    "checkpoint_warning": "'25s'",
}


@pytest.fixture(scope="module")
def logging_cluster():
    cluster = PgCluster(auth="scram-sha-256", settings=LOGGING).start()
    cluster.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
    cluster.execute("INSERT INTO accounts VALUES (1, 100), (2, 100)")
    cluster.execute(f"CREATE ROLE limited LOGIN PASSWORD '{cluster.superuser_password}'")
    yield cluster
    cluster.stop()


@pytest.fixture
def log_worker(transactional_db, logging_cluster):
    # The review logs in with libpq's own sources: PGPASSWORD, as a .pgpass would.
    proc = WorkerProcess(extra_env={"PGPASSWORD": logging_cluster.superuser_password}).start()
    yield proc
    proc.stop()


def provoke_deadlock(cluster: PgCluster) -> None:
    first, second = cluster.connect(autocommit=False), cluster.connect(autocommit=False)
    first.execute("UPDATE accounts SET balance = balance - 1 WHERE id = 1")
    second.execute("UPDATE accounts SET balance = balance - 1 WHERE id = 2")
    errors = []

    def cross(conn, row_id):
        try:
            conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = %s", (row_id,))
        except psycopg.errors.DeadlockDetected as exc:
            errors.append(exc)
        finally:
            conn.rollback()

    thread = threading.Thread(target=cross, args=(first, 2))
    thread.start()
    time.sleep(0.3)  # `first` now waits for `second`
    cross(second, 1)
    thread.join(timeout=30)
    first.close()
    second.close()
    assert len(errors) == 1


def provoke_lock_wait(cluster: PgCluster) -> None:
    holder = cluster.connect(autocommit=False)
    holder.execute("SELECT * FROM accounts WHERE id = 1 FOR UPDATE")
    waiter = threading.Thread(target=lambda: cluster.execute("UPDATE accounts SET balance = 0 WHERE id = 1"))
    waiter.start()
    time.sleep(0.5)  # well past deadlock_timeout: "still waiting for ShareLock"
    holder.commit()
    holder.close()
    waiter.join(timeout=30)


def provoke_wrong_password(cluster: PgCluster) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=cluster.host, port=cluster.port, dbname="postgres", user="limited", password="wrong")


def provoke_division_by_zero(cluster: PgCluster) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero):
        cluster.execute("SELECT 1 / 0")


def run_analysis(task) -> TaskExecution:
    execution = start_execution(task)
    return wait_for(
        lambda: (e := TaskExecution.objects.get(pk=execution.id)).is_finished and e, timeout=90, interval=0.3
    )


def log_task(cluster: PgCluster, username: str = "postgres", **config):
    return TaskFactory(
        task_type="log_analysis",
        connection__port=cluster.port,
        connection__username=username,
        config={"slow_query_ms": 200, **config},
    )


def findings_by_category(execution) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in Finding.objects.filter(execution=execution):
        grouped.setdefault(finding.category, []).append(finding)
    return grouped


def test_it_finds_each_provoked_event_with_its_count(logging_cluster, log_worker):
    task = log_task(logging_cluster)
    provoke_deadlock(logging_cluster)
    provoke_lock_wait(logging_cluster)
    provoke_wrong_password(logging_cluster)
    provoke_division_by_zero(logging_cluster)
    logging_cluster.execute(
        "SET work_mem = '64kB'; SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC) s"
    )
    logging_cluster.execute("SELECT pg_sleep(0.3)")

    done = run_analysis(task)

    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    result = done.result
    assert result["analyzed_logs"] > 10 and result["bytes_read"] > 0
    assert result["issues_found"] == Finding.objects.filter(execution=done).count()
    found = findings_by_category(done)
    assert sum(f.count for f in found["deadlock"]) == 1
    assert found["deadlock"][0].severity in ("warning", "critical")
    assert sum(f.count for f in found["auth_failure"]) == 1
    assert found["auth_failure"][0].user == "limited"
    assert sum(f.count for f in found["lock_wait"]) >= 2  # the deadlock's wait and the plain one
    assert sum(f.count for f in found["temp_file"]) >= 1
    division = [f for f in found["error"] if f.details.get("sqlstate") == "22012"]
    assert division and division[0].count == 1
    slow = [f for f in found["slow_query"] if "pg_sleep" in f.details.get("query", "")]
    assert slow and slow[0].count == 1
    assert all(f.connection_id == task.connection_id for group in found.values() for f in group)


def test_a_second_run_reads_only_new_bytes_and_follows_rotation(logging_cluster, log_worker):
    task = log_task(logging_cluster)
    first = run_analysis(task)
    assert first.status == ExecutionStatus.COMPLETED, first.error_message

    provoke_division_by_zero(logging_cluster)
    second = run_analysis(task)

    assert second.status == ExecutionStatus.COMPLETED, second.error_message
    assert second.result["bytes_read"] < first.result["bytes_read"]
    errors = [f for f in findings_by_category(second).get("error", []) if f.details.get("sqlstate") == "22012"]
    assert [f.count for f in errors] == [1]
    assert "deadlock" not in findings_by_category(second)

    logging_cluster.execute("SELECT pg_rotate_logfile()")
    time.sleep(0.5)
    provoke_division_by_zero(logging_cluster)
    third = run_analysis(task)

    assert third.status == ExecutionStatus.COMPLETED, third.error_message
    assert len(third.result["files"]) >= 1
    errors = [f for f in findings_by_category(third).get("error", []) if f.details.get("sqlstate") == "22012"]
    assert [f.count for f in errors] == [1]


def test_checkpoint_warnings_are_counted_as_written_with_the_servers_own_settings(logging_cluster, log_worker):
    task = log_task(logging_cluster)
    logging_cluster.execute(
        "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 300000) g"
    )
    logging_cluster.execute("UPDATE filler SET pad = repeat('y', 200)")
    logging_cluster.execute("CHECKPOINT")  # waits for the WAL-forced ones; a manual one is never warned about
    time.sleep(1)
    logs = (logging_cluster.datadir / "log").glob("*.log")
    warned = sum(text.count("LOG:  checkpoints are occurring too frequently") for text in map(Path.read_text, logs))

    done = run_analysis(task)

    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    (finding,) = findings_by_category(done)["checkpoint_frequency"]
    assert warned >= 1 and finding.count == warned
    assert finding.details["checkpoint_warning"] == "25s" and finding.details["threshold_seconds"] == 25
    assert (finding.details["max_wal_size"], finding.details["checkpoint_timeout"]) == ("32MB", "5min")
    assert "ALTER SYSTEM SET max_wal_size = '" in finding.remedy


def test_a_role_that_may_not_read_the_log_gets_the_grant_it_needs(logging_cluster, log_worker):
    task = log_task(logging_cluster, username="limited")

    failed = run_analysis(task)
    assert failed.status == ExecutionStatus.FAILED
    assert failed.error_message == (
        'role "limited" may not read the log settings or list the server log directory: GRANT pg_monitor TO "limited";'
    )

    logging_cluster.execute("GRANT pg_monitor TO limited")
    try:
        failed = run_analysis(task)
        assert failed.status == ExecutionStatus.FAILED
        assert 'GRANT pg_read_server_files TO "limited"' in failed.error_message
    finally:
        logging_cluster.execute("REVOKE pg_monitor FROM limited")


def test_a_server_without_the_log_collector_says_which_settings_to_change(transactional_db):
    worker = WorkerProcess().start()
    try:
        task = TaskFactory(task_type="log_analysis")  # the machine's PostgreSQL: Debian default, collector off
        failed = run_analysis(task)
    finally:
        worker.stop()

    assert failed.status == ExecutionStatus.FAILED
    assert failed.error_message.startswith("logging_collector is off")
    assert "logging_collector = on" in failed.error_message
