"""`make run`'s zero-configuration default: SQLite (WAL), real web server and worker.

Runs the real processes with no DATABASE_URL, as a new user would: migrate, serve,
create a token, execute one run through a Celery worker, read it back through the API.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from testing.wait import wait_for
from testing.web import WebServer
from testing.worker import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent.parent
API = "/api/v1/monitoring"
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

SETUP = """
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from connections.models import Connection
from tasks.models import Task
user = User.objects.create_superuser("admin", "admin@example.com", "pw-for-smoke-test")
connection = Connection.objects.create(name="Local", host="127.0.0.1", database="postgres", username="postgres")
Task.objects.create(name="Local health", task_type="health_check", connection=connection)
Task.objects.create(
    name="Local review",
    task_type="database_review",
    connection=connection,
    config={"checks": ["logging_settings", "invalid_index", "superuser_role"]},
)
print(Token.objects.create(user=user).key)
"""


@pytest.fixture
def sqlite_env(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        REDIS_URL=settings.CELERY_BROKER_URL,
        CACHE_URL=settings.CACHE_URL,
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_sqlite_default_serves_the_api_and_runs_a_task(sqlite_env):
    manage(sqlite_env, "migrate", "--noinput")
    assert sqlite3.connect(sqlite_env["SQLITE_PATH"]).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    token = manage(sqlite_env, "shell", "-c", SETUP).strip().splitlines()[-1]
    web = WebServer(sqlite_env).start()
    worker = WorkerProcess(database_url=None, extra_env={"SQLITE_PATH": sqlite_env["SQLITE_PATH"]}).start()
    try:
        status, body = web.request(f"{API}/tasks/1/execute", token, method="POST")
        assert status == 200 and body["message"] == "Task executed successfully"

        def finished():
            _, rows = web.request(f"{API}/tasks/1/executions", token)
            return rows and rows[0]["status"] in ("completed", "failed") and rows[0]

        row = wait_for(finished, timeout=90, interval=0.5)
        assert row["status"] == "completed", (row, worker.log())
        assert row["result"]["is_healthy"] is True
        # Lists write their times in SQL (tasks.timestamps.UtcIso), on SQLite from its text.
        assert ISO_Z.fullmatch(row["started_at"]) and ISO_Z.fullmatch(row["completed_at"]), row

        # Findings tracked across runs work on SQLite too: the second run updates, not adds.
        for _ in range(2):
            status, body = web.request(f"{API}/tasks/2/execute", token, method="POST")
            assert status == 200

            def reviewed(execution_id=body["execution_id"]):
                _, rows = web.request(f"{API}/tasks/2/executions", token)
                return (
                    rows and rows[0]["id"] == execution_id and rows[0]["status"] in ("completed", "failed") and rows[0]
                )

            review = wait_for(reviewed, timeout=90, interval=0.5)
            assert review["status"] == "completed", (review, worker.log())
        _, findings = web.request(f"{API}/findings?task_id=2", token)
        assert len(findings) == review["result"]["issues_found"]
        assert findings and all(ISO_Z.fullmatch(finding["created_at"]) for finding in findings), findings
        assert review["result"]["opened"] == 0
    finally:
        worker.stop()
        web.stop()
