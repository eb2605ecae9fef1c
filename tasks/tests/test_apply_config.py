"""`manage.py apply_config FILE.yml`: idempotent upsert by name, all or nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from connections.models import Connection
from connections.tests.factories import ConnectionFactory
from tasks.models import Task
from tasks.tests.factories import TaskFactory
from testing.worker import ROOT, database_url_for_test_db

pytestmark = pytest.mark.django_db

CONTRACT_EXAMPLE = """
connections:
  - name: Production DB
    host: prod-db.example.com
    port: 5432
    database: myapp
    username: reviewer
    vault_path: secret/reviewer/prod-db
    sslmode: verify-full
    connect_timeout: 5
  - name: Reporting DB
    host: reporting.example.com
    database: reports
    vault_database_role: database/reviewer-ro
tasks:
  - name: Daily Log Analysis
    task_type: health_check
    connection: Production DB
    schedule: "0 2 * * *"
    config: {}
    timeout_seconds: 600
"""


@pytest.fixture
def write(tmp_path):
    def write(text: str) -> Path:
        path = tmp_path / "config.yml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


def apply(path: Path, *args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("apply_config", str(path), *args, stdout=out)
    return out.getvalue()


def rejected(path: Path) -> str:
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    return str(excinfo.value)


def snapshot() -> list[tuple]:
    """Everything apply_config may change, to prove a rejected file changed nothing."""
    return list(Connection.objects.order_by("id").values_list()) + list(Task.objects.order_by("id").values_list())


def test_it_creates_the_contract_example(write):
    out = apply(write(CONTRACT_EXAMPLE))

    assert "connections: 2 created, 0 updated, 0 unchanged" in out
    assert "tasks: 1 created, 0 updated, 0 unchanged" in out
    prod = Connection.objects.get(name="Production DB")
    assert (prod.host, prod.port, prod.database, prod.username) == ("prod-db.example.com", 5432, "myapp", "reviewer")
    assert (prod.vault_path, prod.sslmode, prod.connect_timeout) == ("secret/reviewer/prod-db", "verify-full", 5)
    reporting = Connection.objects.get(name="Reporting DB")
    assert reporting.vault_database_role == "database/reviewer-ro"
    assert (reporting.port, reporting.sslmode, reporting.username, reporting.vault_path) == (5432, "prefer", "", "")
    task = Task.objects.get(name="Daily Log Analysis")
    assert (task.task_type, task.connection, task.schedule) == ("health_check", prod, "0 2 * * *")
    assert (task.config, task.timeout_seconds, task.is_active) == ({}, 600, True)


def test_it_changes_nothing_when_applied_twice(write):
    path = write(CONTRACT_EXAMPLE)
    apply(path)
    before = snapshot()

    out = apply(path)

    assert "connections: 0 created, 0 updated, 2 unchanged" in out
    assert "tasks: 0 created, 0 updated, 1 unchanged" in out
    assert snapshot() == before  # not even updated_at moved


def test_it_updates_only_the_entries_that_changed(write):
    apply(write(CONTRACT_EXAMPLE))
    prod_id = Connection.objects.get(name="Production DB").id

    out = apply(write(CONTRACT_EXAMPLE.replace("port: 5432", "port: 6432").replace("0 2 * * *", "30 3 * * 1")))

    assert "connections: 0 created, 1 updated, 1 unchanged" in out
    assert "tasks: 0 created, 1 updated, 0 unchanged" in out
    assert Connection.objects.get(name="Production DB").port == 6432
    assert Connection.objects.get(name="Production DB").id == prod_id  # upserted by name, not replaced
    assert Task.objects.get(name="Daily Log Analysis").schedule == "30 3 * * 1"


def test_it_resets_an_omitted_optional_key_to_its_default(write):
    apply(write(CONTRACT_EXAMPLE))

    apply(write(CONTRACT_EXAMPLE.replace("    vault_path: secret/reviewer/prod-db\n", "")))

    assert Connection.objects.get(name="Production DB").vault_path == ""


def test_it_replans_the_next_run_of_a_task_whose_schedule_changed(write):
    apply(write(CONTRACT_EXAMPLE))
    assert Task.objects.get(name="Daily Log Analysis").next_run_at.hour == 2

    apply(write(CONTRACT_EXAMPLE.replace("0 2 * * *", "0 4 * * *")))

    next_run_at = Task.objects.get(name="Daily Log Analysis").next_run_at
    assert (next_run_at.hour, next_run_at.minute) == (4, 0)


def test_it_lets_a_task_name_a_connection_already_in_the_database(write):
    ConnectionFactory(name="Existing DB")

    apply(
        write("""
        tasks:
          - name: Check existing
            task_type: health_check
            connection: Existing DB
    """)
    )

    assert Task.objects.get(name="Check existing").connection.name == "Existing DB"


def test_it_moves_a_task_to_a_connection_created_by_the_same_file(write):
    TaskFactory(name="Moving", connection=ConnectionFactory(name="Old DB"))

    out = apply(
        write("""
        connections:
          - name: New DB
            host: 127.0.0.1
            database: postgres
        tasks:
          - name: Moving
            task_type: health_check
            connection: New DB
    """)
    )

    assert "tasks: 0 created, 1 updated, 0 unchanged" in out
    assert Task.objects.get(name="Moving").connection.name == "New DB"


def test_it_leaves_entries_the_file_does_not_list_alone(write):
    other = ConnectionFactory(name="Not in the file")

    apply(write(CONTRACT_EXAMPLE))

    assert Connection.objects.filter(pk=other.pk).exists()


def test_a_dry_run_reports_but_applies_nothing(write):
    out = apply(write(CONTRACT_EXAMPLE), "--dry-run")

    assert "connections: 2 created" in out
    assert not Connection.objects.exists()
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("task_type: health_check", "task_type: foo"),
            """tasks[0] "Daily Log Analysis": task_type: unknown type 'foo'; implemented: database_review, health_check, log_analysis""",
        ),
        (
            ('schedule: "0 2 * * *"', 'schedule: "0 2 * *"'),
            'tasks[0] "Daily Log Analysis": schedule: A cron schedule has 5 fields',
        ),
        (
            ('schedule: "0 2 * * *"', 'schedule: "0 25 * * *"'),
            'tasks[0] "Daily Log Analysis": schedule: Not a valid cron',
        ),
        (
            ("connection: Production DB", "connection: Nowhere DB"),
            """tasks[0] "Daily Log Analysis": connection: no connection named 'Nowhere DB' in the file or the database""",
        ),
        (("timeout_seconds: 600", "timeout: 600"), 'tasks[0] "Daily Log Analysis": timeout: unknown key'),
        (("config: {}", "config: [1, 2]"), 'tasks[0] "Daily Log Analysis": config: must be a mapping, not a list'),
        (("timeout_seconds: 600", "timeout_seconds: ten"), 'tasks[0] "Daily Log Analysis": timeout_seconds: must be'),
        (("port: 5432", "port: 70000"), 'connections[0] "Production DB": port: Ensure this value is less than'),
        (("port: 5432", "port: 0"), 'connections[0] "Production DB": port: Ensure this value is greater than'),
        (
            ("port: 5432", 'port: "5432"'),
            """connections[0] "Production DB": port: must be an integer, not the string '5432'""",
        ),
        (("port: 5432", "port: true"), 'connections[0] "Production DB": port: must be an integer, not a boolean'),
        (
            ("connect_timeout: 5", "connect_timeout: 1.5"),
            'connections[0] "Production DB": connect_timeout: must be an integer',
        ),
        (
            ("sslmode: verify-full", "sslmode: sometimes"),
            """connections[0] "Production DB": sslmode: Value 'sometimes' is not a valid choice""",
        ),
        (
            ("database: myapp", "database: 12345"),
            'connections[0] "Production DB": database: must be a string, not int 12345 (quote it in YAML)',
        ),
        (("database: myapp", "databse: myapp"), 'connections[0] "Production DB": databse: unknown key'),
        (("    database: myapp\n", ""), 'connections[0] "Production DB": database: required'),
        (
            ("vault_path: secret/reviewer/prod-db", "vault_path: secret"),
            'connections[0] "Production DB": vault_path: Give the mount',
        ),
        (
            ("vault_path: secret/reviewer/prod-db", "vault_path: secret/a/b\n    vault_database_role: database/r"),
            'connections[0] "Production DB": vault_database_role: set at most one of vault_path and vault_database_role',
        ),
        (("name: Reporting DB", "name: Production DB"), 'connections[1] "Production DB": name: listed twice'),
        (("port: 5432", "port: 5432\n    port: 5433"), "not valid YAML: duplicate key 'port'"),
    ],
)
def test_it_rejects_an_invalid_file_whole_naming_entry_and_field(write, change, expected):
    ConnectionFactory(name="Production DB", host="old-host")  # an update that must not happen
    before = snapshot()

    message = rejected(write(CONTRACT_EXAMPLE.replace(*change)))

    assert expected in message
    assert "nothing applied" in message
    assert snapshot() == before


def test_it_reports_every_error_of_the_file_at_once(write):
    message = rejected(
        write("""
        connections:
          - name: A
            host: h
            database: d
            port: nope
        tasks:
          - name: T
            task_type: foo
            connection: A
            schedule: "0 2 * *"
          - task_type: health_check
            connection: A
    """)
    )

    assert 'connections[0] "A": port: must be an integer' in message
    assert """tasks[0] "T": task_type: unknown type 'foo'""" in message
    assert 'tasks[0] "T": schedule: A cron schedule has 5 fields' in message
    assert "tasks[1]: name: required" in message
    assert "no connection named" not in message  # A is in the file, merely invalid
    assert not Connection.objects.exists()


def test_a_task_error_rolls_back_the_valid_connections_of_the_same_file(write):
    rejected(write(CONTRACT_EXAMPLE.replace("task_type: health_check", "task_type: nope")))

    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        (
            "just a sentence",
            "expected a mapping with `connections:`, `tasks:` and/or `notifications:` lists, not the string",
        ),
        ("- a\n- b\n", "not a list"),
        ("connections: [\n", "not valid YAML"),
        ("connection:\n  - name: x\n", "connection: unknown key; expected one of: connections, tasks, notifications"),
        ("connections:\n  name: x\n", "connections: must be a list of entries, not a mapping"),
        ("tasks:\n  - just a string\n", "tasks[0]: must be a mapping, not the string"),
        ("\x00\x01binary", "not valid YAML"),
    ],
)
def test_it_rejects_a_file_that_is_not_a_config(write, text, expected):
    assert expected in rejected(write(text))


def test_it_rejects_a_missing_file(tmp_path):
    message = rejected(tmp_path / "nope.yml")

    assert "cannot read" in message
    assert "No such file" in message


def test_it_fails_with_a_non_zero_exit_code_and_the_error_on_stderr(write):
    path = write(CONTRACT_EXAMPLE.replace("task_type: health_check", "task_type: foo"))
    # As a person runs it locally, beside `make run` (which sets DJANGO_DEBUG=true).
    env = {"DATABASE_URL": database_url_for_test_db(), "PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "true"}

    proc = subprocess.run(
        [sys.executable, "manage.py", "apply_config", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode != 0
    assert (
        """tasks[0] "Daily Log Analysis": task_type: unknown type 'foo'; implemented: database_review, health_check, log_analysis"""
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr
