"""The real web process (`manage.py runserver`) on a free port, for tests that need the
whole service running in its own processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from testing.network import free_port
from testing.wait import wait_for

ROOT = Path(__file__).resolve().parent.parent


class WebServer:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.logpath = Path(f"/tmp/reviewer-test-web-{self.port}.log")

    # What runs, where, and how long it may take to answer (subclasses serve other commands).
    start_timeout = 60

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]

    def workdir(self) -> Path:
        return ROOT

    def start(self) -> WebServer:
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.workdir(),
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def answering() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{type(self).__name__} exited:\n{self.logpath.read_text()}")
            try:
                urllib.request.urlopen(f"{self.base}/api/v1/schema/", timeout=5).close()
                return True
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_for(answering, timeout=self.start_timeout, interval=0.3)
        return self

    def request(self, path: str, token: str | None = None, method: str = "GET") -> tuple[int, object]:
        """(status, parsed JSON body) of a request; error statuses are returned, not raised."""
        headers = {"Authorization": f"Token {token}"} if token else {}
        req = urllib.request.Request(self.base + path, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
