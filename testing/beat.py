"""A real `celery beat` subprocess on the test broker, its schedule file in a temporary folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

from testing.worker import ROOT, database_url_for_test_db


class BeatProcess:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="reviewer-test-beat-"))
        self.logpath = self.dir / "beat.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> BeatProcess:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_test_db(),
            "REDIS_URL": settings.CELERY_BROKER_URL,
            "CACHE_URL": settings.CACHE_URL,
            "PYTHONUNBUFFERED": "1",
        }
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "reviewer", "beat", "-l", "INFO", "-s", str(self.dir / "schedule")],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while "beat: Starting" not in self.logpath.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"celery beat did not start:\n{self.logpath.read_text(errors='replace')}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
