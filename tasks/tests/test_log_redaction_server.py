"""Findings never carry a password from the monitored server's log.

A throwaway cluster with the log collector on runs, for real, statements that fail with a
password in them (PostgreSQL logs the failing statement verbatim: `STATEMENT:  CREATE ROLE …
PASSWORD '…'`), statements logged with their bind parameters, and errors that quote a literal
back; then the review reads that log through the connection, and no password may appear in
any finding's sample, message or details, nor in the execution's result.
"""

from __future__ import annotations

import json
import secrets
import time

import psycopg
import pytest

from tasks.models import ExecutionStatus, Finding, TaskExecution
from tasks.runner import claim_execution, run_claimed_execution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory
from testing.pg_cluster import PgCluster

pytestmark = pytest.mark.django_db

LOGGING = {
    "logging_collector": "on",
    "log_destination": "'stderr'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "lc_messages": "'C'",
}

TOKEN = secrets.token_hex(4)


def pw(case: str) -> str:
    return f"S3cret-{case}-{TOKEN}"


PASSWORDS = [pw(case) for case in ("dup", "alter", "escape", "doubled", "dollar", "syntax", "unterminated")] + [
    pw(case) for case in ("dblink", "quoted", "uri", "nosep", "fdw", "sub")
]
PARAMETERS = [pw("param-error"), pw("param-logged")]


def failing_statements() -> list[str]:
    return [
        # the second CREATE fails ("already exists"), and is logged with its password
        f"CREATE ROLE redact_dup PASSWORD '{pw('dup')}'",
        f"ALTER USER nosuchuser PASSWORD '{pw('alter')}'",
        f"ALTER ROLE nosuchuser WITH ENCRYPTED PASSWORD E'{pw('escape')}\\'s'",
        f"create role redact_dup with login password '{pw('doubled')}''s' valid until 'infinity'",
        f"ALTER ROLE nosuchuser PASSWORD $pw${pw('dollar')}$pw$",
        f"CREATE ROLE password '{pw('syntax')}'",  # syntax error at or near "'S3cret-…'"
        f"ALTER ROLE nosuchuser PASSWORD '{pw('unterminated')}",  # unterminated quoted string at or near
        f"SELECT dblink_connect('host=127.0.0.1 port=1 user=x password={pw('dblink')}')",
        f"SELECT dblink_connect('host=127.0.0.1 port=1 password=''{pw('quoted')} with space''')",
        f"SELECT dblink_connect('postgresql://x:{pw('uri')}@127.0.0.1:1/db')",
        # a password with an unquoted space: libpq says missing "=" after its second word
        f"SELECT dblink_connect('host=127.0.0.1 port=1 password=first-half {pw('nosep')}')",
        f"CREATE USER MAPPING FOR nosuchuser SERVER redact_fdw OPTIONS (user 'x', password '{pw('fdw')}')",
        f"CREATE SUBSCRIPTION redact_sub CONNECTION 'host=127.0.0.1 port=1 user=x password={pw('sub')}' PUBLICATION p",
    ]


@pytest.fixture(scope="module")
def secret_log():
    cluster = PgCluster(auth="trust", settings=LOGGING).start()
    try:
        cluster.execute(f"CREATE ROLE redact_dup PASSWORD '{secrets.token_hex(8)}'")
        cluster.execute("CREATE EXTENSION dblink")
        cluster.execute("CREATE EXTENSION postgres_fdw")
        cluster.execute("CREATE SERVER redact_fdw FOREIGN DATA WRAPPER postgres_fdw OPTIONS (port '1')")
        with cluster.connect() as conn:
            for statement in failing_statements():
                with pytest.raises(psycopg.Error):
                    conn.execute(statement)
            # Bind parameters: on an error (CONTEXT:  unnamed portal with parameters: $1 = '…')
            # and on a logged statement (DETAIL:  parameters: $1 = '…').
            conn.execute("SET log_parameter_max_length_on_error = -1")
            with pytest.raises(psycopg.errors.DivisionByZero):
                conn.execute("SELECT %s::text, 1/0", [pw("param-error")])
            conn.execute("SET log_min_duration_statement = 0")
            conn.execute("SELECT %s::text, pg_sleep(0.01)", [pw("param-logged")])
            conn.execute("SET log_min_duration_statement = -1")
        time.sleep(0.5)  # the collector writes what it received
        yield cluster
    finally:
        cluster.stop()


def run_review(cluster: PgCluster, **config) -> TaskExecution:
    task = TaskFactory(
        task_type="log_analysis",
        connection__port=cluster.port,
        config={"slow_query_ms": 5, **config},
    )
    execution = TaskExecutionFactory(task=task)
    assert claim_execution(execution.id)
    run_claimed_execution(execution.id)
    return TaskExecution.objects.get(pk=execution.id)


def stored_text(done: TaskExecution) -> str:
    """Everything an API reader sees of the run: each finding's fields and the result."""
    findings = Finding.objects.filter(execution=done)
    rows = [[f.message, f.sample, json.dumps(f.details), f.database, f.user, f.category] for f in findings]
    return json.dumps([rows, done.result, done.error_message])


def raw_log(cluster: PgCluster) -> str:
    return "".join(path.read_text() for path in sorted((cluster.datadir / "log").iterdir()))


def test_the_servers_own_log_holds_the_passwords(secret_log):
    log = raw_log(secret_log)  # so the test below proves something

    assert all(password in log for password in PASSWORDS + PARAMETERS), [p for p in PASSWORDS if p not in log]
    assert f"""syntax error at or near "'{pw("syntax")}'""" in log
    assert f'missing "=" after "{pw("nosep")}"' in log


def test_no_password_reaches_a_finding_or_the_result(secret_log):
    done = run_review(secret_log)

    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    stored = stored_text(done)
    assert [password for password in PASSWORDS if password in stored] == []
    assert "S3cret" not in stored.replace(pw("param-error"), "").replace(pw("param-logged"), "")
    # the findings still say what happened, with the passwords masked
    samples = " ".join(Finding.objects.filter(execution=done).values_list("sample", flat=True))
    assert "ALTER USER nosuchuser PASSWORD '[redacted]'" in samples
    assert """syntax error at or near "'[redacted]'\"""" in stored.replace("\\", "")
    # by default the values of bind parameters are kept: they are data, not credentials
    assert pw("param-error") in stored


def test_redact_parameters_masks_the_values_of_bind_parameters_too(secret_log):
    done = run_review(secret_log, redact="parameters")

    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    stored = stored_text(done)
    assert [secret for secret in PASSWORDS + PARAMETERS if secret in stored] == []
    assert "S3cret" not in stored
    samples = " ".join(Finding.objects.filter(execution=done).values_list("sample", flat=True))
    assert "unnamed portal with parameters: $1 = '[redacted]'" in samples
    assert "parameters: $1 = '[redacted]'" in samples
