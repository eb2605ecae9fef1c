"""The document's two alerting scripts, verbatim, run with bash + jq against a live server.

The scripts in alerting/ are byte-for-byte the ones in the README; only their
`http://localhost:8000` is replaced by the live server's address. Reads are public
(REVIEWER_PUBLIC_READ=true), as the contract requires for the scripts to work unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from tasks.models import ExecutionStatus, TaskExecution
from tasks.runner import fail_execution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

SCRIPTS = Path(__file__).parent / "alerting"
DOCUMENT_BASE = "http://localhost:8000"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("jq") or not shutil.which("curl"), reason="needs jq and curl"),
]


@pytest.fixture
def run_script(live_server, settings, tmp_path):
    """run_script(name) -> (exit code, stdout), run in an empty directory."""
    settings.REVIEWER_PUBLIC_READ = True

    def run(name: str, cwd: Path = tmp_path) -> tuple[int, str]:
        text = (SCRIPTS / name).read_text()
        assert DOCUMENT_BASE in text
        script = tmp_path / f"live-{name}"
        script.write_text(text.replace(DOCUMENT_BASE, live_server.url))
        done = subprocess.run(["bash", str(script)], cwd=cwd, capture_output=True, text=True, timeout=60)
        assert done.stderr == "", done.stderr  # jq or bash complaining is a failure too
        return done.returncode, done.stdout.strip()

    return run


def probed(healthy: bool, **fields) -> ConnectionStatus:
    values = {"is_healthy": healthy, "checked_at": datetime.now(UTC)}
    if healthy:
        values.update(response_time_ms=4, server_version="16.2")
    else:
        values.update(response_time_ms=5000, error_message="connection timeout expired")
    return ConnectionStatus.objects.create(connection=ConnectionFactory(**fields), **values)


def ended(status: str, started_ago: timedelta, **fields) -> TaskExecution:
    started = datetime.now(UTC) - started_ago
    return TaskExecutionFactory(
        status=status, started_at=started, completed_at=started + timedelta(seconds=3), duration_seconds=3, **fields
    )


# --- Connection health ---------------------------------------------------------------------


def test_a_healthy_fleet_is_ok(run_script):
    probed(True)
    probed(True)

    assert run_script("connection_health.sh") == (0, "OK: All database connections are healthy")


def test_one_unhealthy_connection_alerts(run_script):
    probed(True)
    probed(False)

    assert run_script("connection_health.sh") == (1, "ALERT: 1 unhealthy database connections detected")


def test_a_never_probed_connection_is_not_counted_as_unhealthy(run_script):
    # Its is_healthy is null, and the script selects `.is_healthy == false` only.
    probed(True)
    ConnectionFactory()

    assert run_script("connection_health.sh") == (0, "OK: All database connections are healthy")


def test_an_empty_fleet_is_ok(run_script):
    assert run_script("connection_health.sh") == (0, "OK: All database connections are healthy")


def test_an_inactive_unhealthy_connection_does_not_alert(run_script):
    probed(False, is_active=False)

    assert run_script("connection_health.sh") == (0, "OK: All database connections are healthy")


def test_the_health_script_is_not_fooled_by_one_letter_files_in_its_directory(run_script, tmp_path):
    # The script echoes the body unquoted, so bash glob-expands it: compact JSON would be one
    # `[...]` word matching a one-letter file name. The API's spaced JSON keeps it literal.
    crowded = tmp_path / "crowded"
    crowded.mkdir()
    for char in 'abcdefghijklmnopqrstuvwxyz0123456789_:,{}"':
        (crowded / char).touch()
    # No space anywhere in the body: names without one, and the probe's fallback message
    # for an exception without text (its type name).
    status = probed(False, name="prod", host="db1", database="app")
    status.error_message = "OperationalError"
    status.save()

    assert run_script("connection_health.sh", cwd=crowded) == (1, "ALERT: 1 unhealthy database connections detected")


# --- Failed tasks ----------------------------------------------------------------------------


def test_no_failed_tasks_is_ok(run_script):
    ended(ExecutionStatus.COMPLETED, timedelta(minutes=5))
    TaskExecutionFactory()  # pending: started_at is null, and the script must not choke on it
    TaskExecutionFactory(status=ExecutionStatus.RUNNING, started_at=datetime.now(UTC))

    assert run_script("failed_tasks.sh") == (0, "OK: No failed tasks in the last hour")


def test_a_recent_failed_task_warns(run_script):
    ended(ExecutionStatus.FAILED, timedelta(minutes=10), error_message="connection timeout expired")
    ended(ExecutionStatus.COMPLETED, timedelta(minutes=5))
    TaskExecutionFactory()

    assert run_script("failed_tasks.sh") == (1, "WARNING: 1 failed tasks in the last hour")


def test_only_old_failed_tasks_are_ok(run_script):
    ended(ExecutionStatus.FAILED, timedelta(hours=2), error_message="old")

    assert run_script("failed_tasks.sh") == (0, "OK: No failed tasks in the last hour")


def test_a_run_that_failed_before_any_worker_started_it_is_counted(run_script):
    # What an unreachable broker leaves behind: a pending row failed by the runner.
    execution = TaskExecutionFactory(task=TaskFactory())
    fail_execution(execution.id, "could not queue the run: broker unreachable (OperationalError)")

    assert run_script("failed_tasks.sh") == (1, "WARNING: 1 failed tasks in the last hour")
