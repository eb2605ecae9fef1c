"""Real logs of a throwaway PostgreSQL cluster writing stderr, csvlog and jsonlog at once.

The events of tasks/tests/logs/generate.py (errors, a deadlock on rows, failed logins, refused
connections, a backend killed with SIGKILL...), plus a deadlock on two tables' locks and a
checkpoint storm (max_wal_size at its minimum). The command line and the review's `file`
source tell each file's format from its content, refuse a file read as the wrong format, find
every event as often as grep does, and say what to do about each.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tasks.models import ExecutionStatus, Finding, LogCursor, TaskExecution
from tasks.runner import claim_execution, run_claimed_execution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory
from tasks.tests.logs import generate
from testing.pg_cluster import PgCluster

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"stderr": "postgresql.log", "csvlog": "postgresql.csv", "jsonlog": "postgresql.json"}
SETTINGS = {
    "logging_collector": "on",
    "log_destination": "'stderr,csvlog,jsonlog'",
    "log_directory": "'log'",
    "log_filename": "'postgresql'",
    "log_line_prefix": f"'{generate.PREFIX}'",
    "log_min_duration_statement": "1000",
    "log_connections": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "log_checkpoints": "on",
    "deadlock_timeout": "'100ms'",
    "lc_messages": "'C'",
    "max_connections": "6",
    "superuser_reserved_connections": "2",
    "restart_after_crash": "on",
    "max_wal_size": "'32MB'",
    "min_wal_size": "'32MB'",
    "checkpoint_warning": "'30s'",
}


def table_deadlock(cluster: PgCluster) -> None:
    """Two sessions lock two tables in opposite orders: the DETAIL names relations by OID."""
    cluster.execute("CREATE TABLE ledger (id int); CREATE TABLE accounts (id int)")
    first, second = cluster.connect(autocommit=False), cluster.connect(autocommit=False)
    first.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
    second.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")

    def cross(conn, table):
        try:
            conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        except psycopg.errors.DeadlockDetected:
            pass
        finally:
            conn.rollback()

    waiter = threading.Thread(target=cross, args=(first, "accounts"))
    waiter.start()
    time.sleep(0.3)  # `first` waits for `second`
    cross(second, "ledger")
    waiter.join(timeout=30)
    first.close()
    second.close()


def checkpoint_storm(cluster: PgCluster) -> None:
    """About 80 MB of WAL in seconds: checkpoints forced by WAL, a few seconds apart."""
    cluster.execute("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 300000) g")
    cluster.execute("UPDATE filler SET pad = repeat('y', 200)")


@pytest.fixture(scope="module")
def real_logs(tmp_path_factory) -> Path:
    """The three log files of one session, copied out of the stopped cluster."""
    cluster = PgCluster(auth="trust", settings=SETTINGS).start()
    target = tmp_path_factory.mktemp("real-logs")
    try:
        cluster.wait_ready()
        generate.provoke(cluster)
        table_deadlock(cluster)
        checkpoint_storm(cluster)
        time.sleep(1)  # the collector has written everything
        for name in NAMES.values():
            # log_filename 'postgresql': the stderr file has no suffix, csvlog and jsonlog add theirs.
            shutil.copy(cluster.datadir / "log" / name.removesuffix(".log"), target / name)
    finally:
        cluster.stop()
    return target


def grep(path: Path, text: str) -> int:
    return sum(text in line for line in path.read_text().splitlines())


def cli(*args: str, shell: str | None = None) -> subprocess.CompletedProcess:
    command = shell if shell is not None else [sys.executable, "-m", "tasks.logs", *args]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, shell=shell is not None, executable=None
    )


def counted(findings: list[dict], category: str) -> int:
    return sum(f["count"] for f in findings if f["category"] == category)


# --- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", NAMES)
def test_the_command_line_tells_the_format_and_finds_every_event_as_often_as_grep(real_logs, fmt):
    stderr_log = real_logs / NAMES["stderr"]

    done = cli(str(real_logs / NAMES[fmt]))

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    summary, findings = report["summary"], report["findings"]
    assert summary["files"] == [{"path": str(real_logs / NAMES[fmt]), "format": fmt}]
    assert summary["unparsed_lines"] == 0
    assert counted(findings, "deadlock") == grep(stderr_log, "ERROR:  deadlock detected") == 2
    assert counted(findings, "connection_slots") == grep(stderr_log, "FATAL:  sorry, too many clients") + grep(
        stderr_log, "FATAL:  remaining connection slots are reserved"
    )
    assert counted(findings, "crash") == grep(stderr_log, "was terminated by signal 9") == 1
    warned = grep(stderr_log, "LOG:  checkpoints are occurring too frequently")
    assert warned >= 1 and counted(findings, "checkpoint_frequency") == warned
    assert counted(findings, "auth_failure") == grep(stderr_log, "password authentication failed") == 2
    assert all(f["remedy"] for f in findings)


def test_the_deadlocks_name_their_tables_and_the_oids_of_locked_relations(real_logs):
    report = json.loads(cli(str(real_logs / NAMES["jsonlog"])).stdout)

    deadlocks = {f["subject"]: f for f in report["findings"] if f["category"] == "deadlock"}

    assert set(deadlocks) == {"t", "accounts, ledger"}
    tables = deadlocks["accounts, ledger"]
    assert tables["details"]["locks"] == {"AccessExclusiveLock on relation": 2}
    assert len(tables["details"]["relation_oids"]) == 2
    assert "::regclass" in tables["remedy"] and "one order" in tables["remedy"]
    assert deadlocks["t"]["details"]["locks"] == {"ShareLock on transaction": 2}


def test_the_remedies_name_the_fix_for_slots_crashes_and_checkpoints(real_logs):
    report = json.loads(cli(str(real_logs / NAMES["csvlog"])).stdout)
    remedy = {f["category"]: f["remedy"] for f in report["findings"]}

    assert "PgBouncer" in remedy["connection_slots"] and "superuser_reserved_connections" in remedy["connection_slots"]
    assert "OOM killer" in remedy["crash"] and "vm.overcommit_memory = 2" in remedy["crash"]
    assert "max_wal_size" in remedy["checkpoint_frequency"]


def test_a_shell_expanded_glob_of_rotated_files_makes_one_report_oldest_first(real_logs, tmp_path):
    lines = (real_logs / NAMES["stderr"]).read_text().splitlines(keepends=True)
    # Rotate at an entry boundary: a line of its own, not a continuation.
    cut = next(i for i in range(len(lines) // 2, len(lines)) if "LOG:  connection received" in lines[i])
    (tmp_path / "postgresql.log.1").write_text("".join(lines[:cut]))
    time.sleep(0.05)
    (tmp_path / "postgresql.log").write_text("".join(lines[cut:]))  # newer, though first by name

    rotated = cli(shell=f"{sys.executable} -m tasks.logs {tmp_path}/postgresql.log*")
    whole = cli(str(real_logs / NAMES["stderr"]))

    assert rotated.returncode == 0, rotated.stderr
    report = json.loads(rotated.stdout)
    assert [f["path"] for f in report["summary"]["files"]] == [
        str(tmp_path / "postgresql.log.1"),
        str(tmp_path / "postgresql.log"),
    ]
    expected = json.loads(whole.stdout)["summary"]
    for key in ("analyzed_logs", "totals", "categories", "first_entry_at", "last_entry_at"):
        assert report["summary"][key] == expected[key]


def test_several_paths_and_a_quoted_glob_read_each_file_once(real_logs):
    done = cli(str(real_logs / "*.csv"), str(real_logs / NAMES["jsonlog"]), str(real_logs / "postgresql.*"))

    assert done.returncode == 0, done.stderr
    formats = sorted(f["format"] for f in json.loads(done.stdout)["summary"]["files"])
    assert formats == ["csvlog", "jsonlog", "stderr"]
    assert "several formats (csvlog, jsonlog, stderr)" in done.stderr  # one session logged three times


def test_a_missing_file_fails_with_status_2_and_no_report(real_logs):
    done = cli(str(real_logs / NAMES["stderr"]), str(real_logs / "postgresql-*.gz"))

    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == f"error: no log file matches {str(real_logs / 'postgresql-*.gz')!r} on this host"


MISMATCHES = [
    ("jsonlog", "csvlog"),
    ("csvlog", "jsonlog"),
    ("stderr", "csvlog"),
    ("stderr", "jsonlog"),
    ("csvlog", "stderr"),
    ("jsonlog", "stderr"),
]


@pytest.mark.parametrize(("actual", "wrong"), MISMATCHES)
def test_a_file_read_as_the_wrong_format_fails_instead_of_yielding_bogus_entries(real_logs, actual, wrong):
    done = cli(str(real_logs / NAMES[actual]), "--format", wrong)

    assert done.returncode == 2 and done.stdout == ""
    looks = "a stderr log: use format stderr" if actual == "stderr" else f"{actual}: use format {actual}"
    assert done.stderr.startswith("error: ") and f"it looks like {looks} (or auto)" in done.stderr
    assert str(real_logs / NAMES[actual]) in done.stderr


# --- the review's file source ---------------------------------------------------------------


def run_now(task) -> TaskExecution:
    execution = TaskExecutionFactory(task=task)
    assert claim_execution(execution.id)
    run_claimed_execution(execution.id)
    return TaskExecution.objects.get(pk=execution.id)


@pytest.fixture
def in_roots(settings, real_logs):
    settings.LOG_FILE_ROOTS = [str(real_logs)]
    return real_logs


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", NAMES)
def test_the_file_source_with_format_auto_reads_each_format_and_stores_the_remedies(in_roots, fmt):
    task = TaskFactory(task_type="log_analysis", config={"source": "file", "path": str(in_roots / NAMES[fmt])})

    done = run_now(task)

    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    assert done.result["format"] == fmt
    if fmt == "stderr":
        assert done.result["log_line_prefix"] == generate.PREFIX  # detected
    stored = {f.category: f for f in Finding.objects.filter(execution=done)}
    assert {"deadlock", "connection_slots", "crash", "checkpoint_frequency", "auth_failure"} <= set(stored)
    assert all(f.remedy for f in stored.values())
    assert "PgBouncer" in stored["connection_slots"].remedy
    assert done.result["totals"]["errors_by_sqlstate"]["deadlock detected (40P01)"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("actual", "wrong"), MISMATCHES)
def test_the_file_source_fails_a_file_of_another_format_with_a_readable_reason(in_roots, actual, wrong):
    path = in_roots / NAMES[actual]
    task = TaskFactory(task_type="log_analysis", config={"source": "file", "path": str(path), "format": wrong})

    failed = run_now(task)

    assert failed.status == ExecutionStatus.FAILED
    looks = "a stderr log: use format stderr" if actual == "stderr" else f"{actual}: use format {actual}"
    assert f"it looks like {looks} (or auto)" in failed.error_message
    assert repr(str(path)) in failed.error_message
    assert not Finding.objects.filter(execution=failed).exists()
    assert not LogCursor.objects.filter(task=task).exclude(positions={}).exists()
