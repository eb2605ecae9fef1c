"""The `file` source reads only inside LOG_FILE_ROOTS: refused when the task is saved (the
schema check: admin, apply_config) and again at run time, before any file is opened, with one
message whether or not the file exists; and errors never echo what a file holds."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from tasks.logs import files
from tasks.logs.detectors import LogAnalyzer
from tasks.logs.files import OutsideLogRoots, analyze_files, check_roots
from tasks.models import ExecutionStatus, TaskExecution
from tasks.runner import claim_execution, run_claimed_execution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

PREFIX = "%m [%p] %q%u@%d "
LINE = "2024-05-01 12:00:00.000 UTC [7] u@d ERROR:  division by zero\n"


@pytest.fixture
def root(settings, tmp_path) -> Path:
    """A log directory in LOG_FILE_ROOTS, and beside it a directory that is not."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.log").write_text(LINE)
    settings.LOG_FILE_ROOTS = [str(logs)]
    return logs


def file_config(path) -> dict:
    return {"source": "file", "path": str(path), "log_line_prefix": PREFIX}


def run_now(task) -> TaskExecution:
    execution = TaskExecutionFactory(task=task)
    assert claim_execution(execution.id)
    run_claimed_execution(execution.id)
    return TaskExecution.objects.get(pk=execution.id)


def save_problems(path: str) -> str:
    task = TaskFactory.build(task_type="log_analysis", config={"source": "file", "path": path})
    task.connection.save()
    with pytest.raises(ValidationError) as err:
        task.full_clean()
    return " ".join(err.value.message_dict["config"])


def run_error(path: str) -> str:
    # Saved around Task.clean() (a row from before the rule, or written by hand): the run checks again.
    done = run_now(TaskFactory(task_type="log_analysis", config={"source": "file", "path": path}))
    assert done.status == ExecutionStatus.FAILED
    return done.error_message


def outside_paths(root: Path) -> dict[str, str]:
    (root / "link.log").symlink_to(root.parent / "outside" / "secret.log")
    (root / "dangling.log").symlink_to(root.parent / "outside" / "missing.log")
    (root / "dir").symlink_to(root.parent / "outside")
    return {
        "an existing system file": "/etc/shadow",
        "a missing system file": "/etc/no-such-file.log",
        "a symlink inside pointing outside": str(root / "link.log"),
        "a dangling symlink inside pointing outside": str(root / "dangling.log"),
        "a glob matching a symlink outside": str(root / "*.log"),
        "a glob through a symlinked directory": str(root / "dir" / "*.log"),
        "a glob escaping with ..": f"{root}/../outside/*.log",
        "a missing file escaping with ..": f"{root}/../outside/missing.log",
        "a glob escaping with .. after its magic": f"{root}/*/../../outside/secret.log",
        "a relative path": "outside/secret.log",
    }


def test_a_path_outside_the_roots_is_refused_when_the_task_is_saved_with_one_message(root):
    messages = {what: save_problems(path) for what, path in outside_paths(root).items()}

    for what, message in messages.items():
        assert "LOG_FILE_ROOTS" in message, what
        assert message == f"path: {files.outside_roots_message([str(root)])}", what  # exists or not: same words


def test_a_path_outside_the_roots_is_refused_at_run_time_with_one_message(root):
    messages = {what: run_error(path) for what, path in outside_paths(root).items()}

    for what, message in messages.items():
        assert message == f"config: path: {files.outside_roots_message([str(root)])}", what
        assert "lines" not in message and "matches" not in message, what


def test_the_run_refuses_before_opening_any_file(root, monkeypatch):
    outside_paths(root)
    opened = []
    monkeypatch.setattr(files, "open_log", lambda *args, **kwargs: opened.append(args))

    for pattern in ("/etc/shadow", str(root / "*.log"), f"{root}/../outside/*.log"):
        with pytest.raises(OutsideLogRoots, match="LOG_FILE_ROOTS"):
            analyze_files(pattern, "stderr", PREFIX, LogAnalyzer(), roots=[str(root)])
    assert opened == []


def test_files_inside_the_roots_are_read_through_symlinks_that_stay_inside(root, tmp_path, settings):
    (root / "postgresql.log").write_text(LINE)
    (root / "current.log").symlink_to(root / "postgresql.log")
    linked_root = tmp_path / "linked-logs"
    linked_root.symlink_to(root)
    settings.LOG_FILE_ROOTS = [str(linked_root)]  # a root that is itself a symlink

    for path in (root / "current.log", root / "*.log", linked_root / "postgresql.log"):
        done = run_now(TaskFactory(task_type="log_analysis", config=file_config(path)))
        assert done.status == ExecutionStatus.COMPLETED, done.error_message
    TaskFactory.build(task_type="log_analysis", config={"source": "file", "path": str(root / "*.log")}).clean()


def test_an_empty_setting_disables_the_file_source(settings):
    settings.LOG_FILE_ROOTS = []

    assert "LOG_FILE_ROOTS is empty" in save_problems("/var/log/postgresql/postgresql.log")


def test_the_setting_is_read_when_checking_not_when_importing(root, settings):
    with pytest.raises(OutsideLogRoots):
        check_roots(str(root.parent / "outside" / "secret.log"), [str(root)])

    settings.LOG_FILE_ROOTS = f"{root}:{root.parent / 'outside'}"  # the environment's form works too

    done = run_now(TaskFactory(task_type="log_analysis", config=file_config(root.parent / "outside" / "*")))
    assert done.status == ExecutionStatus.COMPLETED, done.error_message


def test_an_error_about_a_file_inside_the_roots_never_echoes_its_content(root):
    secret = "TOP-SECRET-CONTENT-4711"
    (root / "fake.log.gz").write_bytes(f"{secret}\n".encode() * 10)  # not gzip: gzip's own error quotes it
    truncated = gzip.compress((LINE + secret + "\n").encode() * 1000)[:-100]
    (root / "truncated.log.gz").write_bytes(truncated)
    (root / "garbage.log").write_text(f"{secret}\n" * 10)
    os.chmod(root / "garbage.log", 0o644)

    errors = [run_error(str(root / name)) for name in ("fake.log.gz", "truncated.log.gz", "garbage.log")]

    assert errors[0] == f"cannot read {str(root / 'fake.log.gz')!r}: not a valid gzip file"
    assert errors[1] == f"cannot read {str(root / 'truncated.log.gz')!r}: not a valid gzip file"
    assert errors[2].startswith("none of the common log_line_prefix values matches the first lines of")
    assert all(secret not in error and "TOP-SECRET" not in error for error in errors)


@pytest.mark.django_db(transaction=True)
def test_a_worker_takes_its_roots_from_the_environment(tmp_path):
    from tasks.runner import start_execution
    from testing.wait import wait_for
    from testing.worker import WorkerProcess

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "postgresql.log").write_text(LINE)
    inside = TaskFactory(task_type="log_analysis", config=file_config(logs / "*.log"))
    outside = TaskFactory(task_type="log_analysis", config=file_config("/etc/hostname"))
    worker = WorkerProcess(extra_env={"LOG_FILE_ROOTS": f"/nonexistent:{logs}"}).start()
    try:
        runs = [start_execution(task) for task in (inside, outside)]
        done = [
            wait_for(lambda r=run: (e := TaskExecution.objects.get(pk=r.id)).is_finished and e, timeout=60)
            for run in runs
        ]
    finally:
        worker.stop()

    assert done[0].status == ExecutionStatus.COMPLETED, done[0].error_message
    assert done[0].result["analyzed_logs"] == 1
    assert done[1].status == ExecutionStatus.FAILED
    assert done[1].error_message == f"config: path: {files.outside_roots_message(['/nonexistent', str(logs)])}"


def test_apply_config_refuses_a_path_outside_the_roots(root, tmp_path):
    from django.core.management import CommandError, call_command

    config = tmp_path / "config.yml"
    config.write_text(
        "connections:\n  - name: Prod\n    host: db.example.com\n    database: app\n    username: reviewer\n"
        "tasks:\n  - name: Logs\n    task_type: log_analysis\n    connection: Prod\n"
        "    config: {source: file, path: /etc/shadow}\n"
    )

    with pytest.raises(CommandError) as err:
        call_command("apply_config", str(config))

    assert f'tasks[0] "Logs": config: path: {files.outside_roots_message([str(root)])}' in str(err.value)


def test_only_a_regular_file_is_opened_and_a_fifo_does_not_block(root):
    fifo = root / "postgresql.log"
    os.mkfifo(fifo)  # e.g. swapped in after the glob: opening it must neither block nor read

    with pytest.raises(OutsideLogRoots):
        with files.open_log(fifo, [str(root)]):
            pass
    with pytest.raises(FileNotFoundError, match="no log file matches"):
        analyze_files(str(root / "*.log"), "stderr", PREFIX, LogAnalyzer(), roots=[str(root)])
