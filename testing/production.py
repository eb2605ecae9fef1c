"""The production web command, `scripts/serve.sh` (collectstatic, then granian with
WhiteNoise), on a free port with its own state directory, for tests of what production serves."""

from __future__ import annotations

import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

from testing.web import ROOT, WebServer


class ProductionServer(WebServer):
    def __init__(self, env: dict[str, str], state_dir: Path) -> None:
        super().__init__(env)
        self.state_dir = state_dir
        self.logpath = Path(f"/tmp/reviewer-test-web-{self.port}.log")
        # One small worker process: enough for the tests, light on a 2-core machine.
        self.env = {
            **env,
            "WEB_BIND": f"127.0.0.1:{self.port}",
            "WEB_WORKERS": "1",
            "WEB_THREADS": "4",
            "REVIEWER_STATE_DIR": str(state_dir),
            "PYTHONUNBUFFERED": "1",
        }

    start_timeout = 90  # collectstatic runs first

    def command(self) -> list[str]:
        return ["bash", str(ROOT / "scripts" / "serve.sh")]

    def workdir(self) -> Path:
        return self.state_dir  # the script finds the checkout itself

    def fetch(self, path: str, headers: dict[str, str] | None = None, opener=None) -> tuple[int, Message, bytes]:
        """(status, headers, raw body) of a GET; error statuses are returned, not raised.
        `opener`: a urllib opener (one with a cookie jar, for a logged-in session)."""
        request = urllib.request.Request(self.base + path, headers=headers or {})
        open_url = opener.open if opener else urllib.request.urlopen
        try:
            with open_url(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()
