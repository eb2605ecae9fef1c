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
