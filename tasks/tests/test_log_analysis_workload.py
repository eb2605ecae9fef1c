"""log_analysis runs carry the workload report of what each of them read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tasks.models import ExecutionStatus, TaskExecution
from tasks.runner import claim_execution, run_claimed_execution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "logs"
PREFIX = "%m [%p] %q%u@%d "


@pytest.fixture(autouse=True)
def log_roots(settings, tmp_path):
    settings.LOG_FILE_ROOTS = [str(tmp_path)]


def run_now(task) -> TaskExecution:
    execution = TaskExecutionFactory(task=task)
    assert claim_execution(execution.id)
    run_claimed_execution(execution.id)
    return TaskExecution.objects.get(pk=execution.id)


def file_task(path, **config):
    return TaskFactory(
        task_type="log_analysis",
        config={"source": "file", "path": str(path), "log_line_prefix": PREFIX, **config},
    )


def test_each_run_reports_the_workload_of_what_it_read(tmp_path):
    log = tmp_path / "postgresql.log"
    shutil.copy(SAMPLES / "pg15.log", log)
    task = file_task(log)

    first = run_now(task)
    with open(log, "a") as fh:
        for n in range(3):
            fh.write(
                f"2026-11-28 18:0{n}:00.000 UTC [4242] app@shop LOG:  duration: 2.500 ms  "
                f"statement: SELECT * FROM orders WHERE id = {n}\n"
            )
    second = run_now(task)

    assert first.status == second.status == ExecutionStatus.COMPLETED
    assert first.result["workload"]["connections"]["authorized"] == 20
    assert first.result["workload"]["errors"]["by_severity"] == {"ERROR": 5, "FATAL": 4}
    workload = second.result["workload"]  # only the three appended statements
    assert (workload["queries"]["count"], workload["queries"]["total_ms"]) == (3, 7.5)
    assert workload["queries"]["top_by_count"][0]["query"] == "select * from orders where id = ?"
    assert workload["connections"]["authorized"] == 0
    assert workload["hours"]["start"] == ["2026-11-28T18:00:00Z"]


def test_the_report_can_be_left_out(tmp_path):
    log = tmp_path / "postgresql.log"
    shutil.copy(SAMPLES / "pg15.log", log)

    done = run_now(file_task(log, workload_report=False))

    assert done.status == ExecutionStatus.COMPLETED
    assert "workload" not in done.result
    assert done.result["issues_found"] > 0


def test_a_workload_report_setting_that_is_not_a_boolean_is_refused(tmp_path):
    failed = run_now(file_task(tmp_path / "postgresql.log", workload_report="yes"))

    assert failed.status == ExecutionStatus.FAILED
    assert "workload_report must be true or false, not 'yes'" in failed.error_message
