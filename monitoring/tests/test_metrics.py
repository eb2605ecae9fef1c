"""GET /metrics: the Prometheus exposition of the fleet, read from the real database and the
test broker, with its access rules and a cost that does not grow with history."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import assert_json_error
from reviewer.tests.test_production_settings import PRODUCTION, environment, manage
from tasks.liveness import record_alive, worker_key
from tasks.models import ExecutionStatus, FindingState
from tasks.runner import fail_execution, finish_execution, start_execution
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory
from testing.network import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(db) -> str:
    return Token.objects.create(user=User.objects.create_user("prometheus")).key


def scrape(client, token: str | None = None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return client.get("/metrics", **headers, **extra)


def samples(response) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of a 200 exposition, parsed as Prometheus would."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, metric: str, /, **labels) -> float | None:
    return found.get((metric, frozenset((key, str(v)) for key, v in labels.items())))


def probe(connection, healthy: bool, ago: float, ms: int | None = 12, version: str | None = "17.2"):
    return ConnectionStatus.objects.create(
        connection=connection,
        is_healthy=healthy,
        checked_at=timezone.now() - timedelta(seconds=ago),
        response_time_ms=ms if healthy else None,
        server_version=version if healthy else None,
        error_message=None if healthy else "connection refused",
    )


def test_the_exposition_states_the_fleet_as_the_database_holds_it(client, token):
    up = ConnectionFactory(name="Production DB")
    probe(up, healthy=False, ago=120)
    latest = probe(up, healthy=True, ago=5, ms=42, version="16.4")
    down = ConnectionFactory(name="Reporting DB")
    probe(down, healthy=True, ago=90)
    probe(down, healthy=False, ago=10)
    stale = ConnectionFactory(name="Old DB")
    probe(stale, healthy=True, ago=3600)
    never = ConnectionFactory(name="New DB")
    ConnectionFactory(name="Retired DB", is_active=False)

    found = samples(scrape(client, token))

    def conn(c):
        return {"connection_id": c.id, "name": c.name}

    assert value(found, "reviewer_connection_up", **conn(up)) == 1
    assert value(found, "reviewer_connection_up", **conn(down)) == 0
    assert value(found, "reviewer_connection_up", **conn(stale)) == 0  # stale counts as down
    assert value(found, "reviewer_connection_up", **conn(never)) == 0
    assert value(found, "reviewer_connection_probe_stale", **conn(stale)) == 1
    assert value(found, "reviewer_connection_probe_stale", **conn(up)) == 0
    assert value(found, "reviewer_connection_probe_stale", **conn(down)) == 0
    assert value(found, "reviewer_connection_probe_duration_seconds", **conn(up)) == 0.042
    assert value(found, "reviewer_connection_last_probe_timestamp_seconds", **conn(up)) == pytest.approx(
        latest.checked_at.timestamp()
    )
    assert value(found, "reviewer_connection_server_info", **conn(up), server_version="16.4") == 1
    assert not any(
        name == "reviewer_connection_server_info" and ("name", "Reporting DB") in labels for name, labels in found
    )
    assert value(found, "reviewer_connection_last_probe_timestamp_seconds", **conn(never)) is None
    assert not any(("name", "Retired DB") in labels for _, labels in found)
    assert value(found, "reviewer_scrape_errors", source="database") == 0
    assert value(found, "reviewer_scrape_errors", source="broker") == 0


def test_runs_are_counted_by_type_and_outcome_once_each(client, token):
    task = TaskFactory(task_type="health_check")
    done, failed, twice = TaskExecutionFactory.create_batch(3, task=task)
    assert finish_execution(done.id, {"ok": True})
    assert fail_execution(failed.id, "boom")
    assert fail_execution(twice.id, "worker lost")
    assert not finish_execution(twice.id, {})  # a late duplicate finishes nothing, counts nothing
    TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, started_at=timezone.now())
    TaskExecutionFactory(task=TaskFactory(task_type="log_analysis"), status=ExecutionStatus.PENDING)

    found = samples(scrape(client, token))

    total = "reviewer_executions_total"
    assert value(found, total, task_type="health_check", status="completed") == 1
    assert value(found, total, task_type="health_check", status="failed") == 2
    assert value(found, total, task_type="database_review", status="failed") == 0  # every type, from 0
    unfinished = "reviewer_unfinished_executions"
    assert value(found, unfinished, task_type="health_check", status="running") == 1
    assert value(found, unfinished, task_type="health_check", status="pending") == 0
    assert value(found, unfinished, task_type="log_analysis", status="pending") == 1


def test_queues_and_the_oldest_pending_run_are_measured(client, token, django_capture_on_commit_callbacks):
    task = TaskFactory()
    with django_capture_on_commit_callbacks(execute=True):  # published to the test broker, no worker
        waiting = start_execution(task)
        start_execution(task)
    type(waiting).objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(seconds=300))
    record_alive([worker_key("probes")], "probes@test")

    found = samples(scrape(client, token))

    assert value(found, "reviewer_queue_messages", queue="reviews") == 2
    assert value(found, "reviewer_queue_messages", queue="probes") == 0
    assert value(found, "reviewer_queue_workers", queue="probes") == 1
    assert value(found, "reviewer_queue_workers", queue="reviews") == 0
    assert 300 <= value(found, "reviewer_oldest_pending_execution_age_seconds") < 360


def test_open_findings_are_counted_by_severity_and_category(client, token):
    FindingFactory.create_batch(2, severity="critical", category="missing_fk_index")
    FindingFactory(severity="warning", category="deadlock")
    FindingFactory(severity="critical", category="deadlock", state=FindingState.RESOLVED)

    found = samples(scrape(client, token))

    assert value(found, "reviewer_open_findings", severity="critical", category="missing_fk_index") == 2
    assert value(found, "reviewer_open_findings", severity="warning", category="deadlock") == 1
    assert value(found, "reviewer_open_findings", severity="critical", category="deadlock") is None


def test_an_anonymous_scrape_is_refused_with_a_json_401(client):
    response = scrape(client)
    assert "credentials were not provided" in assert_json_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"
    assert "reviewer_" not in response.content.decode()


def test_a_wrong_token_is_refused(client, token):
    assert "Invalid token" in assert_json_error(scrape(client, "0" * 40), 401)


def test_a_token_of_any_user_may_scrape_whatever_the_accept_header(client, token):
    response = scrape(client, token, HTTP_ACCEPT="application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert value(samples(response), "reviewer_scrape_errors", source="database") == 0
    response = scrape(client, token, HTTP_ACCEPT="text/plain")
    assert value(samples(response), "reviewer_scrape_errors", source="database") == 0


def test_an_allowed_network_may_scrape_without_a_token(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]
    assert scrape(client, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert scrape(client, REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200
    assert scrape(client, REMOTE_ADDR="2001:db8::7").status_code == 200
    assert_json_error(scrape(client, REMOTE_ADDR="192.168.1.10"), 401)
    assert_json_error(scrape(client, REMOTE_ADDR="127.0.0.1"), 401)


def test_a_request_through_a_proxy_is_never_let_in_by_address(client, settings):
    """Behind a proxy REMOTE_ADDR is the proxy's: allowing it would allow everyone."""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert_json_error(scrape(client, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.0.0.9"), 401)
    assert_json_error(scrape(client, REMOTE_ADDR="10.0.0.2", HTTP_FORWARDED="for=10.0.0.9"), 401)


def test_with_the_broker_down_the_scrape_still_answers_with_the_database_metrics(client, token, settings):
    ConnectionFactory(name="Production DB")
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    response = scrape(client, token)

    found = samples(response)
    assert value(found, "reviewer_scrape_errors", source="broker") == 1
    assert value(found, "reviewer_scrape_errors", source="database") == 0
    assert any(name == "reviewer_connection_up" for name, _ in found)
    assert not any(name == "reviewer_queue_messages" for name, _ in found)
    assert "Traceback" not in response.content.decode()


def history(rows_per_connection: int, connections: list, task) -> None:
    """Probe results and finished runs: the history a long-running service accumulates."""
    now = timezone.now()
    ConnectionStatus.objects.bulk_create(
        ConnectionStatus(
            connection=c, is_healthy=n % 3 != 0, checked_at=now - timedelta(minutes=rows_per_connection - n)
        )
        for c in connections
        for n in range(rows_per_connection)
    )
    for execution in TaskExecutionFactory.create_batch(rows_per_connection, task=task):
        fail_execution(execution.id, "boom")


def queries_of_a_scrape(client, token) -> int:
    with CaptureQueriesContext(db_connection) as captured:
        assert scrape(client, token).status_code == 200
    return len(captured.captured_queries)


def test_a_scrape_costs_the_same_queries_with_10_or_100_history_rows_per_connection(client, token):
    connections = ConnectionFactory.create_batch(5)
    task = TaskFactory(connection=connections[0])
    FindingFactory(severity="critical")
    history(10, connections, task)
    queries_of_a_scrape(client, token)  # looks the token up; later scrapes read it from the cache
    few = queries_of_a_scrape(client, token)

    history(90, connections, task)
    many = queries_of_a_scrape(client, token)

    # Connections with their latest status id, those statuses, the tally, the unfinished runs,
    # the oldest pending run, the open findings.
    assert few == many == 6


def test_a_malformed_allowed_network_stops_the_service_naming_the_variable():
    done = manage(environment(**PRODUCTION, METRICS_ALLOWED_NETWORKS="10.0.0.0/8, 10.0.0.1/8"), "check")

    assert done.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS: 10.0.0.1/8 has host bits set" in done.stderr
