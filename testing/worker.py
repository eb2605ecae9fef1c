"""A real `celery worker` subprocess consuming from the test Redis against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def database_url_for_test_db() -> str:
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        raise RuntimeError("worker subprocess tests need DATABASE_URL pointing at PostgreSQL")
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class WorkerProcess:
    """`celery -A reviewer worker` on the given queues, started and stopped by a test."""

    _FROM_TEST_DB = object()

    def __init__(
        self,
        queues: str = "reviews,probes",
        concurrency: int = 1,
        extra_env: dict | None = None,
        database_url=_FROM_TEST_DB,
        name: str | None = None,
    ) -> None:
        """`database_url`: the test database by default; None for the SQLite default.
        `name`: the worker's node name (before the @host); unique by default."""
        self.name = name
        self.database_url = database_url
        self.queues = queues
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.logfile = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        if self.database_url is self._FROM_TEST_DB:
            env["DATABASE_URL"] = database_url_for_test_db()
        elif self.database_url:
            env["DATABASE_URL"] = self.database_url
        env = {
            **env,
            "REDIS_URL": settings.CELERY_BROKER_URL,
            "CACHE_URL": settings.CACHE_URL,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self.logpath = Path(f"/tmp/reviewer-test-worker-{os.getpid()}-{time.monotonic_ns()}.log")
        self.logfile = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "reviewer",
                "worker",
                "-Q",
                self.queues,
                "-c",
                str(self.concurrency),
                "--pool=prefork",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{self.name or f'test-{os.getpid()}-{time.monotonic_ns()}'}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while "ready." not in self.log():
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"celery worker not ready in {timeout}s:\n{self.log()}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.logpath.read_text(errors="replace") if self.logpath.exists() else ""

    def child_pids(self) -> list[int]:
        """Pids of the prefork pool processes (the ones that run tasks)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.logfile:
            self.logfile.close()
