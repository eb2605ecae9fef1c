"""The production variants of the alerting scripts (scripts/alerting/, shown in the README), run
with bash, curl and jq against the production command (granian) on the test database.

They fail closed: in each state where the document's scripts print "OK" wrongly (nothing
listening, 401, 500, a hung server, a 200 that is not the API's list) they print UNKNOWN and
exit 3. Healthy and alerting states give the document's messages and exit codes.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from tasks.models import ExecutionStatus
from tasks.tests.factories import TaskExecutionFactory, TaskFactory
from testing.network import free_port
from testing.production import ProductionServer
from testing.worker import database_url_for_test_db

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ROOT / "scripts" / "alerting"
CONNECTIONS = "check_connections.sh"
FAILED_TASKS = "check_failed_tasks.sh"
BOTH = [CONNECTIONS, FAILED_TASKS]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("jq") or not shutil.which("curl"), reason="needs jq and curl"),
]


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    web = ProductionServer({**os.environ, "DATABASE_URL": database_url_for_test_db()}, tmp_path_factory.mktemp("state"))
    yield web.start()
    web.stop()


@pytest.fixture(scope="module")
def server_without_database(tmp_path_factory):
    """The same command whose application database is unreachable: every API read is a 500."""
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/reviewer"}
    web = ProductionServer(env, tmp_path_factory.mktemp("state")).start()
    yield web
    web.stop()


@pytest.fixture
def token(db) -> str:
    return Token.objects.create(user=User.objects.create_user("nagios")).key


def run(name: str, url: str, token: str | None, timeout: str = "20") -> tuple[int, str]:
    """(exit code, output) of the script, with only PATH and its own variables set."""
    env = {"PATH": os.environ["PATH"], "REVIEWER_URL": url, "REVIEWER_TIMEOUT": timeout}
    if token is not None:
        env["REVIEWER_TOKEN"] = token
    done = subprocess.run(["bash", str(SCRIPTS / name)], env=env, capture_output=True, text=True, timeout=60)
    assert done.stderr == "", done.stderr  # every message on stdout, one line, for the monitoring system
    return done.returncode, done.stdout.strip()


def probed(name: str, healthy: bool) -> None:
    values = {"is_healthy": healthy, "checked_at": datetime.now(UTC)}
    if not healthy:
        values["error_message"] = "connection timeout expired"
    ConnectionStatus.objects.create(connection=ConnectionFactory(name=name), **values)


def failed(minutes_ago: int, error: str) -> int:
    started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    execution = TaskExecutionFactory(
        task=TaskFactory(),
        status=ExecutionStatus.FAILED,
        started_at=started,
        completed_at=started + timedelta(seconds=2),
        duration_seconds=2,
        error_message=error,
    )
    return execution


# --- Healthy and alerting: the document's messages and exit codes ------------------------------


def test_a_healthy_fleet_is_ok(server, token):
    probed("Production DB", True)
    probed("Reporting DB", True)
    ConnectionFactory(name="Never probed")

    assert run(CONNECTIONS, server.base, token) == (0, "OK: All database connections are healthy")


def test_unhealthy_connections_alert_by_name(server, token):
    probed("Production DB", True)
    probed("Reporting DB", False)
    probed("Billing DB", False)

    code, output = run(CONNECTIONS, server.base, token)
    assert code == 1
    assert re.fullmatch(
        r"ALERT: 2 unhealthy database connections detected: (Reporting DB, Billing DB|Billing DB, Reporting DB)", output
    )


def test_a_long_list_of_unhealthy_connections_is_bounded(server, token):
    for number in range(12):
        probed(f"db{number:02}", False)

    code, output = run(CONNECTIONS, server.base, token)
    assert code == 1
    assert output.startswith("ALERT: 12 unhealthy database connections detected: ")
    assert output.endswith(", and 2 more") and output.count(", ") == 10


def test_no_recent_failure_is_ok(server, token):
    failed(120, "two hours ago")
    TaskExecutionFactory(status=ExecutionStatus.COMPLETED, started_at=datetime.now(UTC))

    assert run(FAILED_TASKS, server.base, token) == (0, "OK: No failed tasks in the last hour")


def test_a_recent_failure_warns_with_the_latest_error(server, token):
    failed(50, "older failure")
    latest = failed(5, "could not connect:\nconnection refused")

    assert run(FAILED_TASKS, server.base, token) == (
        1,
        f"WARNING: 2 failed tasks in the last hour; latest: execution {latest.id} of task {latest.task_id}: "
        "could not connect: connection refused",
    )


# --- Where the document's scripts say "OK" wrongly: UNKNOWN, exit 3 ------------------------------


@pytest.mark.parametrize("name", BOTH)
def test_nothing_listening_is_unknown(name):
    url = f"http://127.0.0.1:{free_port()}"

    code, output = run(name, url, "some-token")
    assert code == 3
    assert output.startswith(f"UNKNOWN: cannot read {url}/api/v1/monitoring/")
    assert "curl: (7) Failed to connect" in output


@pytest.mark.parametrize("name", BOTH)
def test_a_missing_token_is_unknown(name, server):
    assert server.request("/api/v1/monitoring/connections/status")[0] == 401  # what the document's scripts get

    assert run(name, server.base, None) == (3, "UNKNOWN: REVIEWER_TOKEN is not set")
    assert run(name, server.base, "") == (3, "UNKNOWN: REVIEWER_TOKEN is not set")


@pytest.mark.parametrize("name", BOTH)
def test_a_refused_token_is_unknown_and_not_printed(name, server, db):
    bad = "0123456789abcdef0123456789abcdef01234567"
    assert server.request("/api/v1/monitoring/connections/status", bad)[0] == 401

    code, output = run(name, server.base, bad)
    assert code == 3
    assert output.startswith("UNKNOWN: cannot read ") and output.endswith("The requested URL returned error: 401")
    assert bad not in output


@pytest.mark.parametrize("name", BOTH)
def test_a_server_error_is_unknown(name, server_without_database):
    assert server_without_database.request("/api/v1/monitoring/connections/status", "any-token") == (
        500,
        {"detail": "Internal server error."},
    )

    code, output = run(name, server_without_database.base, "any-token")
    assert code == 3
    assert output.startswith("UNKNOWN: cannot read ") and output.endswith("The requested URL returned error: 500")


@pytest.mark.parametrize("name", BOTH)
def test_a_server_that_never_answers_is_unknown_within_the_timeout(name, blackhole):
    started = time.monotonic()
    code, output = run(name, f"http://127.0.0.1:{blackhole.port}", "some-token", timeout="2")

    assert code == 3
    assert "curl: (28)" in output  # curl's "operation timed out"
    assert time.monotonic() - started < 10


class _NotTheApi(http.server.BaseHTTPRequestHandler):
    """What a captive portal or a misrouted proxy answers: 200 and a page."""

    def do_GET(self):
        body = b"<html><body>Please log in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def not_the_api():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotTheApi)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("name, what", [(CONNECTIONS, "connections"), (FAILED_TASKS, "executions")])
def test_a_200_that_is_not_the_apis_list_is_unknown(name, what, not_the_api):
    code, output = run(name, not_the_api, "some-token")

    assert code == 3
    assert output.startswith(f"UNKNOWN: {not_the_api}/api/v1/monitoring/")
    assert output.endswith(f"did not answer a list of {what}")


# --- The README shows them as they are -------------------------------------------------------------


@pytest.mark.parametrize("name", BOTH)
def test_the_readme_shows_each_script_verbatim(name):
    readme = (ROOT / "README.md").read_text()

    assert f"```bash\n{(SCRIPTS / name).read_text()}```\n" in readme
