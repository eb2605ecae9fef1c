"""log_analysis with the `file` source, and the cursor that makes runs incremental."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

from tasks.models import ExecutionStatus, Finding, LogCursor, TaskExecution
from tasks.reviews.log_cursor import take_cursor
from tasks.reviews.review import ReviewFailed
from tasks.runner import claim_execution, run_claimed_execution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "logs"
PREFIX = "%m [%p] %q%u@%d "


@pytest.fixture(autouse=True)
def log_roots(settings, tmp_path):
    """The file source reads only inside LOG_FILE_ROOTS: here, the test's files."""
    settings.LOG_FILE_ROOTS = [str(tmp_path), str(SAMPLES)]


def run_now(task) -> TaskExecution:
    """Run the review in this process (the queue is tested elsewhere)."""
    execution = TaskExecutionFactory(task=task)
    assert claim_execution(execution.id)
    run_claimed_execution(execution.id)
    return TaskExecution.objects.get(pk=execution.id)


def file_task(path, **config):
    return TaskFactory(task_type="log_analysis", config={"source": "file", "path": str(path), **config})


def test_it_analyzes_a_log_file_and_stores_its_findings(tmp_path):
    log = tmp_path / "postgresql.log"
    shutil.copy(SAMPLES / "pg15.log", log)

    done = run_now(file_task(log, log_line_prefix=PREFIX))

    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    assert done.result["bytes_read"] == log.stat().st_size
    assert (done.result["truncated_lines"], done.result["truncated_bytes"]) == (0, 0)
    assert done.result["issues_found"] == Finding.objects.filter(execution=done).count() > 0
    assert {"deadlock", "auth_failure"} <= set(
        Finding.objects.filter(execution=done).values_list("category", flat=True)
    )
    # Times as the API writes them, in the result and in every finding's details.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", done.result["first_entry_at"])
    stored = json.dumps([done.result, list(Finding.objects.filter(execution=done).values_list("details", flat=True))])
    assert "+00:00" not in stored


def test_the_next_run_reads_only_what_was_appended(tmp_path):
    log = tmp_path / "postgresql.log"
    shutil.copy(SAMPLES / "pg15.log", log)
    task = file_task(log, log_line_prefix=PREFIX)
    first = run_now(task)

    with open(log, "a") as fh:
        fh.write("2026-11-28 17:00:00.000 UTC [4242] app@shop ERROR:  division by zero\n")
        fh.write("2026-11-28 17:00:00.000 UTC [4242] app@shop STATEMENT:  SELECT 1/0\n")
    second = run_now(task)

    assert second.status == ExecutionStatus.COMPLETED
    assert second.result["analyzed_logs"] == 1
    assert first.result["bytes_read"] + second.result["bytes_read"] == log.stat().st_size
    [error] = Finding.objects.filter(execution=second)
    assert (error.category, error.count, error.database, error.user) == ("error", 1, "shop", "app")


def test_a_failed_run_does_not_move_the_cursor(tmp_path):
    log = tmp_path / "postgresql.log"
    shutil.copy(SAMPLES / "pg15.log", log)
    task = file_task(log, log_line_prefix=PREFIX)
    run_now(task)
    positions = LogCursor.objects.get(task=task).positions

    task.config = {**task.config, "slow_query_ms": "not a number"}
    task.save()
    failed = run_now(task)

    assert failed.status == ExecutionStatus.FAILED and failed.error_message.startswith("config:")
    assert LogCursor.objects.get(task=task).positions == positions


def test_it_reads_rotated_and_gzipped_files_through_a_glob(tmp_path):
    text = (SAMPLES / "pg15.log").read_bytes()
    with gzip.open(tmp_path / "postgresql-1.log.gz", "wb") as fh:
        fh.write(text)
    (tmp_path / "postgresql-2.log").write_bytes(text)

    done = run_now(file_task(tmp_path / "postgresql-*", log_line_prefix=PREFIX))

    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    assert done.result["bytes_read"] == 2 * len(text)
    assert len(done.result["files"]) == 2


def test_csvlog_and_jsonlog_files_are_read_too(tmp_path):
    for name, fmt in (("pg15.csv", "csvlog"), ("pg15.json", "jsonlog")):
        done = run_now(file_task(SAMPLES / name, format=fmt))
        assert done.status == ExecutionStatus.COMPLETED, done.error_message
        assert "deadlock" in set(Finding.objects.filter(execution=done).values_list("category", flat=True))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"source": "file"}, "the file source needs config path"),
        ({"source": "file", "path": "/nonexistent/*.log"}, "only the log directories in LOG_FILE_ROOTS"),
        ({"source": "ftp"}, "config: source must be one of server, file, not 'ftp'"),
        ({"source": "file", "path": "x", "log_line_prefix": "%u@%d "}, "has no time"),
        ({"colour": "blue"}, "config: unknown key(s) colour; valid keys: source, path, format"),
        ({"source": "file", "path": "x", "lc_messages": "eo.UTF-8"}, "PostgreSQL has no translation in that language"),
    ],
)
def test_a_bad_configuration_fails_with_a_readable_reason(config, message):
    failed = run_now(TaskFactory(task_type="log_analysis", config=config))

    assert failed.status == ExecutionStatus.FAILED
    assert message in failed.error_message


def test_a_glob_inside_the_roots_that_matches_nothing_says_so(tmp_path):
    failed = run_now(file_task(tmp_path / "*.log"))

    assert failed.status == ExecutionStatus.FAILED
    assert failed.error_message == f"no log file matches {str(tmp_path / '*.log')!r} on this host"


def test_max_bytes_per_run_bounds_a_file_read_and_the_next_run_goes_on(tmp_path):
    log = tmp_path / "postgresql.log"
    shutil.copy(SAMPLES / "pg15.log", log)
    size = log.stat().st_size
    task = file_task(log, log_line_prefix=PREFIX, max_bytes_per_run=size // 3)

    runs = [run_now(task) for _ in range(4)]

    assert [r.status for r in runs] == [ExecutionStatus.COMPLETED] * 4
    assert [r.result["more_to_read"] for r in runs] == [True, True, True, False]
    assert all(r.result["bytes_read"] <= size // 3 for r in runs)
    assert sum(r.result["bytes_read"] for r in runs) == size
    assert LogCursor.objects.get(task=task).positions == {str(log): size}
    whole = run_now(file_task(log, log_line_prefix=PREFIX))
    assert sum(r.result["analyzed_logs"] for r in runs) == whole.result["analyzed_logs"]


def test_a_prefix_that_matches_nothing_says_so(tmp_path):
    log = tmp_path / "postgresql.log"
    shutil.copy(SAMPLES / "pg15.log", log)

    failed = run_now(file_task(log, log_line_prefix="%t [%p]: [%l-1] user=%u,db=%d "))

    assert failed.status == ExecutionStatus.FAILED
    assert "matches log_line_prefix" in failed.error_message


def test_two_runs_of_one_task_never_hold_the_cursor_at_once():
    task = TaskFactory(task_type="log_analysis")
    reading = TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING)
    take_cursor(task, reading, "server")
    second = TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING)

    with pytest.raises(ReviewFailed, match=f"execution #{reading.id} of this task is reading the log now"):
        take_cursor(task, second, "server")

    TaskExecution.objects.filter(pk=reading.pk).update(status=ExecutionStatus.FAILED)  # e.g. its worker died
    assert take_cursor(task, second, "server").held_by_id == second.id


def test_a_night_without_deadlocks_resolves_the_deadlock_finding(tmp_path):
    log = tmp_path / "postgresql.log"
    shutil.copy(SAMPLES / "pg15.log", log)
    task = file_task(log, log_line_prefix=PREFIX)
    first = run_now(task)
    deadlock = Finding.objects.get(category="deadlock")
    first_counts = {f.finding_id: f.count for f in first.sightings.all()}

    with open(log, "a") as fh:
        fh.write("2026-11-28 17:00:00.000 UTC [4242] app@shop ERROR:  division by zero\n")
    second = run_now(task)

    deadlock.refresh_from_db()
    assert (deadlock.state, deadlock.execution_id) == ("resolved", first.id)
    assert deadlock.resolved_at is not None
    [division] = Finding.objects.filter(state="open")
    assert (division.category, division.subject, division.count) == ("error", "22012", 1)
    assert second.result["resolved"] == Finding.objects.filter(state="resolved").count() > 0
    # The first night's own view is unchanged: what it saw, with its counts.
    assert {f.finding_id: f.count for f in first.sightings.all()} == first_counts
    assert deadlock.id in first_counts
