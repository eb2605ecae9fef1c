"""Settings that keep secrets in and resources bounded: DEBUG off by default, a clean
`check --deploy` with the documented production environment, masked URLs in `make run`'s
banner, and no pile of idle database connections under the development server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from testing.web import WebServer
from testing.worker import database_url_for_test_db

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DJANGO_SECRET_KEY": "k" + uuid.uuid4().hex + uuid.uuid4().hex,
    "DJANGO_ALLOWED_HOSTS": "reviewer.example.com",
    "DATABASE_URL": "postgres://reviewer:a-password@db.example.com:5432/reviewer",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DJANGO_BEHIND_TLS_PROXY": "true",
}


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without the test suite's Django overrides, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_"))}
    return {**env, **extra}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_debug_is_off_unless_asked_for():
    done = manage(environment(**PRODUCTION), "shell", "-c", "from django.conf import settings; print(settings.DEBUG)")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_documented_production_environment_passes_check_deploy_without_a_warning():
    done = manage(environment(**PRODUCTION), "check", "--deploy", "--fail-level", "WARNING")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_make_runs_banner_masks_the_passwords_in_urls(tmp_path):
    honcho = tmp_path / ".venv" / "bin" / "honcho"
    honcho.parent.mkdir(parents=True)
    honcho.write_text("#!/bin/sh\nexit 0\n")
    honcho.chmod(0o755)
    env = environment(
        DATABASE_URL="postgres://app:Sup3r-secret@db.internal:5432/reviewer",
        REDIS_URL="redis://:redis-Pa55@cache.internal:6379/0",
    )

    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "run.sh")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )

    assert done.returncode == 0, done.stderr
    assert "Sup3r-secret" not in done.stdout and "redis-Pa55" not in done.stdout
    assert "postgres://app:****@db.internal:5432/reviewer" in done.stdout
    assert "redis://:****@cache.internal:6379/0" in done.stdout


@pytest.mark.django_db(transaction=True)
def test_the_development_server_leaves_no_idle_database_connections_behind():
    name = f"reviewer-idle-test-{uuid.uuid4().hex[:8]}"
    env = environment(
        DJANGO_DEBUG="true",  # as `make run` starts it
        DATABASE_URL=database_url_for_test_db(),
        DATABASE_APPLICATION_NAME=name,
        REVIEWER_PUBLIC_READ="true",
    )
    web = WebServer(env).start()
    try:
        for _ in range(3):  # three bursts of ten concurrent requests, each on its own thread
            threads = [
                threading.Thread(
                    target=lambda: urllib.request.urlopen(f"{web.base}/api/v1/monitoring/tasks/executions", timeout=30)
                )
                for _ in range(10)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        db = settings.DATABASES["default"]
        with psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", password=db.get("PASSWORD") or None
        ) as session:
            idle = session.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'idle'", [name]
            ).fetchone()[0]
    finally:
        web.stop()
    assert idle <= 1
