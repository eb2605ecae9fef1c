"""The production command's life: a reload, a dead worker, and a stop, as systemd and a person at
a terminal send them (scripts/serve.sh, granian).

- systemd's ExecReload sends SIGHUP: the workers are restarted one by one and no request fails.
- A worker that dies (the OOM killer) is started again.
- systemd stops the main process with SIGTERM; Ctrl-C in a terminal sends SIGINT to every
  process of the foreground group. Either way the server stops promptly, with status 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from testing.production import ProductionServer
from testing.wait import wait_for
from testing.web import ROOT
from testing.worker import database_url_for_test_db

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(django_db_setup, tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url_for_test_db(), "WEB_TIMEOUT": "20"}
    (tmp_path / "state").mkdir()
    web = ProductionServer(env, tmp_path / "state")
    web.env["WEB_WORKERS"] = "2"  # a reload restarts workers one by one: there must be two
    web.start()
    # The server answers once one worker runs; these tests start from every worker running.
    wait_for(lambda: started(web) >= 2, timeout=120, interval=0.3)
    yield web
    web.stop()


def answers(server: ProductionServer) -> bool:
    try:
        with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def started(server: ProductionServer) -> int:
    """Workers that granian's log says started, respawned ones included."""
    return server.logpath.read_text().count("Started worker-")


def workers(server: ProductionServer) -> set[int]:
    """The pids of the main process's children (the workers), found from /proc."""
    main = int(subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split()[0])
    found = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True).stdout.split()
    return {int(pid) for pid in found}


def test_a_reload_restarts_every_worker_without_failing_a_request(server):
    before = workers(server)
    assert len(before) == 2
    failures, stop = [], threading.Event()

    def poll() -> None:
        while not stop.is_set():
            if not answers(server):
                failures.append(time.monotonic())
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        os.kill(server.proc.pid, signal.SIGHUP)  # systemd's ExecReload: to the main process
        wait_for(lambda: len(workers(server)) == 2 and not workers(server) & before, timeout=120, interval=0.5)
        time.sleep(1)
    finally:
        stop.set()
        poller.join()

    assert failures == []
    assert server.proc.poll() is None


def test_a_killed_worker_is_started_again(server):
    victim = min(workers(server))

    os.kill(victim, signal.SIGKILL)

    wait_for(lambda: started(server) == 3, timeout=120, interval=0.3)
    assert len(workers(server)) == 2 and victim not in workers(server)
    assert answers(server)


@pytest.mark.parametrize(
    ("sig", "whole_group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True), (signal.SIGTERM, True)],
    ids=["systemd stop", "ctrl-c in a terminal", "kill of the process group"],
)
def test_a_stop_signal_stops_the_server_promptly(server, sig, whole_group):
    assert answers(server)
    started = time.monotonic()

    if whole_group:
        os.killpg(server.proc.pid, sig)
    else:
        os.kill(server.proc.pid, sig)
    status = server.proc.wait(timeout=30)  # WEB_TIMEOUT is 20 s; idle workers stop at once

    assert status == 0
    assert time.monotonic() - started < 15
    assert not answers(server)


def test_each_request_is_logged_with_its_query_string_and_user_agent(server):
    request = urllib.request.Request(f"{server.base}/healthz?probe=1", headers={"User-Agent": "lb-check/2.0"})
    urllib.request.urlopen(request, timeout=10).close()

    wait_for(lambda: '"GET /healthz?probe=1 HTTP/1.1" 200' in server.logpath.read_text(), timeout=10)
    line = next(line for line in server.logpath.read_text().splitlines() if "/healthz?probe=1" in line)
    assert line.startswith("127.0.0.1 [") and line.endswith('"lb-check/2.0"')


def test_the_access_log_can_be_turned_off_and_a_wrong_value_is_refused(django_db_setup, tmp_path):
    (tmp_path / "state").mkdir()
    env = {**os.environ, "DATABASE_URL": database_url_for_test_db(), "WEB_ACCESS_LOG": "false"}
    quiet = ProductionServer(env, tmp_path / "state").start()
    try:
        assert answers(quiet)
        time.sleep(0.5)
        assert "/healthz" not in quiet.logpath.read_text()
    finally:
        quiet.stop()

    refused = subprocess.run(
        ["bash", str(ROOT / "scripts" / "serve.sh")],
        env={**quiet.env, "WEB_ACCESS_LOG": "maybe"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "WEB_ACCESS_LOG must be true or false, not 'maybe'" in refused.stderr
