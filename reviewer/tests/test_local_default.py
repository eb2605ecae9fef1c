"""`make run`'s zero-configuration default: SQLite (WAL), real web server and worker.

Runs the real processes with no DATABASE_URL, as a new user would: migrate, serve,
create a token, execute one run through a Celery worker, read it back through the API.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from testing.network import free_port
from testing.wait import wait_for

ROOT = Path(__file__).resolve().parent.parent.parent


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


def manage(env, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def request(url: str, token: str, method: str = "GET"):
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_the_sqlite_default_serves_the_api_and_runs_a_task(sqlite_env, tmp_path):
    manage(sqlite_env, "migrate", "--noinput")
    assert sqlite3.connect(sqlite_env["SQLITE_PATH"]).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    setup = (
        "from django.contrib.auth.models import User;"
        "from rest_framework.authtoken.models import Token;"
        "from connections.models import Connection;"
        "from tasks.models import Task;"
        "u = User.objects.create_superuser('admin', 'a@example.com', 'pw-for-smoke-test');"
        "c = Connection.objects.create(name='Local', host='127.0.0.1', port=5432, database='postgres', username='postgres');"
        "Task.objects.create(name='Local health', task_type='health_check', connection=c);"
        "print(Token.objects.create(user=u).key)"
    )
    token = manage(sqlite_env, "shell", "-c", setup).strip().splitlines()[-1]
    port = free_port()
    logs = tmp_path / "processes.log"
    with open(logs, "w") as log:
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=sqlite_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "reviewer",
                "worker",
                "-Q",
                "reviews,probes",
                "-c",
                "1",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"smoke-{port}@%h",
            ],
            cwd=ROOT,
            env=sqlite_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}/api/v1/monitoring"

            def server_up():
                try:
                    return request(f"{base}/connections/status", token)
                except (urllib.error.URLError, ConnectionError):
                    return None

            wait_for(server_up, timeout=60, interval=0.3)
            status, body = request(f"{base}/tasks/1/execute", token, method="POST")
            assert status == 200 and body["message"] == "Task executed successfully"

            def completed():
                _, rows = request(f"{base}/tasks/1/executions", token)
                return rows and rows[0]["status"] in ("completed", "failed") and rows[0]

            row = wait_for(completed, timeout=90, interval=0.5)
            assert row["status"] == "completed", (row, logs.read_text())
            assert row["result"]["is_healthy"] is True
            assert row["started_at"].endswith("Z")
        finally:
            for proc in (web, worker):
                os.killpg(proc.pid, 15)
            for proc in (web, worker):
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
