"""The admin index as the fleet dashboard: health, running and failed runs, findings, who sees
what, and a query count that does not grow with the fleet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from connections.health import unhealthy_since
from connections.models import Connection, ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.console.dashboard import executions_per_day, fleet_health
from tasks.models import ExecutionStatus, TaskExecution
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:index")


def check(connection: Connection, healthy: bool, minutes_ago: float = 0, **fields) -> ConnectionStatus:
    return ConnectionStatus.objects.create(
        connection=connection,
        is_healthy=healthy,
        checked_at=timezone.now() - timedelta(minutes=minutes_ago),
        response_time_ms=5 if healthy else None,
        server_version="16.4" if healthy else None,
        error_message=None if healthy else fields.pop("error", "Connection refused"),
        **fields,
    )


def execution(status: str, hours_ago: float = 0, **fields) -> TaskExecution:
    """An execution created, started and (when finished) completed `hours_ago`."""
    row = TaskExecutionFactory(status=status, **fields)
    moment = timezone.now() - timedelta(hours=hours_ago)
    finished = moment if status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED) else None
    TaskExecution.objects.filter(pk=row.pk).update(created_at=moment, started_at=moment, completed_at=finished)
    row.refresh_from_db()
    return row


def staff(client, *codenames: str) -> User:
    user = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(client):
    anonymous = client.get(DASHBOARD)
    client.force_login(User.objects.create_user("plain", password="pw-plain-1234"))
    plain = client.get(DASHBOARD)

    for response in (anonymous, plain):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_the_fleet_is_counted_healthy_unhealthy_and_never_checked(admin_client):
    check(ConnectionFactory(name="ok"), healthy=True)
    check(ConnectionFactory(name="down"), healthy=False)
    ConnectionFactory(name="new")
    check(ConnectionFactory(name="retired", is_active=False), healthy=False)  # not watched: not counted

    response = admin_client.get(DASHBOARD)

    fleet = response.context["fleet"]
    assert (fleet.healthy, len(fleet.unhealthy), fleet.never_checked) == (1, 1, 1)
    assert [u.connection.name for u in fleet.unhealthy] == ["down"]
    page = response.content.decode()
    assert "Connection refused" in page
    assert ">unhealthy<" in page


def test_a_stale_healthy_result_counts_as_unhealthy_since_its_last_probe(admin_client, settings):
    settings.PROBE_STALE_AFTER_SECONDS = 180
    silent = check(ConnectionFactory(name="silent"), healthy=True, minutes_ago=30)

    response = admin_client.get(DASHBOARD)

    (item,) = response.context["fleet"].unhealthy
    assert item.is_stale
    assert item.since == silent.checked_at
    assert "no probe result for 30 minutes" in item.error_message
    assert ">stale<" in response.content.decode()


def test_unhealthy_since_is_the_first_failure_after_the_last_healthy_check():
    flapping = ConnectionFactory()
    check(flapping, healthy=False, minutes_ago=50)
    check(flapping, healthy=True, minutes_ago=40)
    first_failure = check(flapping, healthy=False, minutes_ago=30)
    check(flapping, healthy=False, minutes_ago=20)
    never_up = ConnectionFactory()
    first_ever = check(never_up, healthy=False, minutes_ago=90)
    check(never_up, healthy=False, minutes_ago=10)

    since = unhealthy_since([flapping.pk, never_up.pk])

    assert since == {flapping.pk: first_failure.checked_at, never_up.pk: first_ever.checked_at}


def test_the_longest_failing_connection_is_listed_first():
    recent, old = ConnectionFactory(name="recent"), ConnectionFactory(name="old")
    check(recent, healthy=False, minutes_ago=5)
    check(old, healthy=False, minutes_ago=300)
    check(old, healthy=False, minutes_ago=1)

    assert [u.connection.name for u in fleet_health().unhealthy] == ["old", "recent"]


def test_running_executions_show_how_long_they_usually_take(admin_client):
    task = TaskFactory(name="nightly review")
    for seconds in (100, 120, 140):
        execution(ExecutionStatus.COMPLETED, hours_ago=30, task=task, duration_seconds=seconds)
    running = execution(ExecutionStatus.RUNNING, task=task)

    response = admin_client.get(DASHBOARD)

    assert [e.pk for e in response.context["running"]] == [running.pk]
    section = response.content.decode().split('id="running"')[1].split('id="failed"')[0]
    assert "nightly review" in section
    assert "2 minutes" in section


def test_failures_of_the_last_day_are_listed_and_older_ones_are_not(admin_client):
    recent = execution(ExecutionStatus.FAILED, hours_ago=2, error_message="deadlock detected")
    execution(ExecutionStatus.FAILED, hours_ago=30, error_message="an old failure")
    execution(ExecutionStatus.COMPLETED, hours_ago=1)

    response = admin_client.get(DASHBOARD)

    assert response.context["failed_count"] == 1
    assert [e.pk for e in response.context["failed"]] == [recent.pk]
    page = response.content.decode()
    assert "deadlock detected" in page
    assert "an old failure" not in page


def test_executions_per_day_are_counted_by_status_for_the_last_fortnight():
    for status, hours_ago in [
        ("completed", 1),
        ("completed", 2),
        ("failed", 3),
        ("completed", 50),
        ("failed", 24 * 20),
    ]:
        execution(status, hours_ago=hours_ago)
    now = timezone.now()

    days, counts = executions_per_day(TaskExecution.objects.all(), now)

    assert len(days) == 14 and days[-1] == now.date()
    assert sum(sum(c.values()) for c in counts.values()) == 4  # the 20-day-old run is outside
    assert sum(c.get("failed", 0) for c in counts.values()) == 1


def test_the_dashboard_draws_executions_per_day(admin_client):
    execution(ExecutionStatus.COMPLETED, hours_ago=1)

    page = admin_client.get(DASHBOARD).content.decode()

    assert "<title>Executions per day, last 14 days</title>" in page
    assert "1 execution, 0 failed" in page


def test_the_app_list_stays_on_the_dashboard(admin_client):
    page = admin_client.get(DASHBOARD).content.decode()

    assert reverse("admin:connections_connection_changelist") in page
    assert reverse("admin:tasks_task_changelist") in page


def test_staff_see_only_the_sections_they_may_view(client):
    check(ConnectionFactory(name="down"), healthy=False)
    staff(client)  # staff, no permissions

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    assert "fleet" not in response.context
    assert "running" not in response.context
    assert "down" not in response.content.decode()


def test_staff_who_may_view_but_not_check_get_no_check_now_button(client):
    down = ConnectionFactory(name="down")
    check(down, healthy=False)
    staff(client, "view_connection", "view_taskexecution")

    page = client.get(DASHBOARD).content.decode()

    assert "down" in page
    assert reverse("admin:connections_connection_check", args=[down.pk]) not in page
    assert "Check now" not in page


def test_staff_who_may_check_get_a_check_now_button_that_posts_back_here(client):
    down = ConnectionFactory(name="down")
    check(down, healthy=False)
    staff(client, "view_connection", "check_connection")

    page = client.get(DASHBOARD).content.decode()

    form = page.split(f'action="{reverse("admin:connections_connection_check", args=[down.pk])}"')[1][:400]
    assert "csrfmiddlewaretoken" in form
    assert f'name="next" value="{DASHBOARD}"' in form
    assert page.count('method="post"') >= 1


def test_the_latest_critical_and_warning_findings_are_listed_critical_first(admin_client):
    run = execution(ExecutionStatus.COMPLETED)
    common = dict(execution=run, connection=run.task.connection, count=3, first_seen=run.created_at)
    FindingFactory(severity="critical", category="checksum", message="invalid page in block 7", **common)
    FindingFactory(severity="warning", category="deadlock", message="deadlock detected", **common)
    FindingFactory(severity="info", category="checkpoints", message="checkpoints are frequent", **common)

    response = admin_client.get(DASHBOARD)

    section = response.content.decode().split('id="findings"')[1]
    assert "invalid page in block 7" in section
    assert "deadlock detected" in section
    assert "checkpoints are frequent" not in section
    assert section.index("invalid page in block 7") < section.index("deadlock detected")  # critical first


def build_fleet(size: int) -> None:
    """`size` connections, half of them failing, each with a task, runs and history."""
    for index in range(size):
        connection = ConnectionFactory()
        check(connection, healthy=True, minutes_ago=60)
        check(connection, healthy=index % 2 == 0, minutes_ago=1)
        task = TaskFactory(connection=connection)
        execution(ExecutionStatus.COMPLETED, hours_ago=5, task=task, duration_seconds=10)
        execution(ExecutionStatus.FAILED, hours_ago=1, task=task, error_message="boom")
        execution(ExecutionStatus.RUNNING, task=task)


@pytest.mark.parametrize("size", [2, 20])
def test_the_dashboard_costs_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries, size):
    build_fleet(size)

    # 15: twelve before the open-problem counts, one more for them, and the newest open
    # findings as a query per severity (critical, warning) before their rows.
    with django_assert_max_num_queries(15):
        response = admin_client.get(DASHBOARD)

    assert len(response.context["running"]) == size


def test_the_dashboard_counts_open_critical_and_warning_problems_across_the_fleet(admin_client):
    run = execution(ExecutionStatus.COMPLETED)
    other = TaskExecutionFactory(task=TaskFactory(connection=ConnectionFactory(name="crm")))
    FindingFactory(execution=run, severity="critical")
    FindingFactory(execution=other, severity="critical")
    FindingFactory(execution=other, severity="warning")
    FindingFactory(execution=other, severity="critical", state="resolved")

    page = admin_client.get(DASHBOARD).content.decode()

    critical = page.split('id="open-critical"')[1].split("</a>")[0]
    warning = page.split('id="open-warning"')[1].split("</a>")[0]
    assert '<span class="rv-num">2</span>' in critical
    assert "state__exact=open&amp;severity__exact=critical" in critical
    assert '<span class="rv-num">1</span>' in warning
