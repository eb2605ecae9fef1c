"""The Prometheus files in deploy/prometheus/ work with Prometheus itself: promtool (Debian's
`prometheus` package, installed by scripts/ensure-system.sh) checks and unit-tests the alert
rules and checks the example configuration, and a real Prometheus scrapes a live service with
an API token, as the README tells users to configure it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from testing.network import free_port
from testing.wait import wait_for
from testing.web import WebServer
from testing.worker import database_url_for_test_db

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")


def promtool(*args: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess:
    assert PROMTOOL, "promtool is missing: run scripts/ensure-system.sh (Debian package prometheus)"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_alert_rules_pass_promtool_check_rules():
    checked = promtool("check", "rules", "reviewer-alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout


def test_the_alert_rules_fire_as_their_unit_tests_say():
    tested = promtool("test", "rules", "reviewer-alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def example_config_in(folder: Path, token_file: Path) -> Path:
    for name in ("prometheus.yml", "reviewer-alerts.yml"):
        shutil.copy(DEPLOY / name, folder / name)
    config = folder / "prometheus.yml"
    config.write_text(config.read_text().replace("/etc/prometheus/reviewer-token", str(token_file)))
    return config


def test_the_example_configuration_passes_promtool_check_config(tmp_path):
    token_file = tmp_path / "reviewer-token"
    token_file.write_text("0" * 40)
    config = example_config_in(tmp_path, token_file)

    checked = promtool("check", "config", str(config), cwd=tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout


@pytest.mark.django_db(transaction=True)
def test_a_real_prometheus_scrapes_the_service_with_a_token(tmp_path):
    assert PROMETHEUS, "prometheus is missing: run scripts/ensure-system.sh (Debian package prometheus)"
    connection = ConnectionFactory(name="Production DB")
    ConnectionStatus.objects.create(connection=connection, is_healthy=True, checked_at=datetime.now(UTC))
    token_file = tmp_path / "reviewer-token"
    token_file.write_text(Token.objects.create(user=User.objects.create_user("prometheus")).key)
    web = WebServer({**os.environ, "DATABASE_URL": database_url_for_test_db(), "PYTHONUNBUFFERED": "1"}).start()
    # The example configuration, pointed at the live service over http and scraping every second.
    config = example_config_in(tmp_path, token_file)
    config.write_text(
        config.read_text()
        .replace("scrape_interval: 30s", "scrape_interval: 1s")
        .replace("scheme: https", "scheme: http")
        .replace('"reviewer.example.com"', f'"127.0.0.1:{web.port}"')
    )
    port = free_port()
    log = open(tmp_path / "prometheus.log", "w")
    prometheus = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def query(expr: str) -> list:
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())["data"]["result"]
        except OSError:
            return []

    try:
        result = wait_for(lambda: query('reviewer_connection_up{name="Production DB"}'), timeout=60, interval=0.5)
        assert result[0]["metric"]["connection_id"] == str(connection.id)
        assert result[0]["value"][1] == "1"
        assert query('up{job="postgresql-reviewer"}')[0]["value"][1] == "1"
    finally:
        os.killpg(prometheus.pid, signal.SIGTERM)
        prometheus.wait(timeout=20)
        log.close()
        web.stop()
