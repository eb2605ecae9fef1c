"""A connection's page: its health, charts, latest runs, and "Check now" against real servers
(the machine's PostgreSQL on 127.0.0.1:5432, and nothing listening on 127.0.0.1:1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, ConnectionStatus
from connections.tests.factories import ConnectionFactory
from tasks.models import ExecutionStatus
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def page_url(connection: Connection) -> str:
    return reverse("admin:connections_connection_change", args=[connection.pk])


def check_url(connection: Connection) -> str:
    return reverse("admin:connections_connection_check", args=[connection.pk])


def check(connection: Connection, healthy: bool, minutes_ago: float = 0, **fields) -> ConnectionStatus:
    values = dict(
        response_time_ms=7 if healthy else None,
        server_version="16.4" if healthy else None,
        error_message=None if healthy else "connection refused",
    )
    return ConnectionStatus.objects.create(
        connection=connection,
        is_healthy=healthy,
        checked_at=timezone.now() - timedelta(minutes=minutes_ago),
        **{**values, **fields},
    )


def staff(client, *codenames: str) -> Client:
    user = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_page_opens_on_health_last_check_response_time_and_version(admin_client):
    connection = ConnectionFactory(vault_database_role="database/reviewer-ro")
    check(connection, healthy=False, minutes_ago=90)
    check(connection, healthy=True, minutes_ago=1, response_time_ms=42, server_version="16.4")

    page = admin_client.get(page_url(connection)).content.decode()

    panel = page.split('id="status-panel"')[1].split("</section>")[0]
    assert 'rv-badge rv-big rv-healthy">healthy<' in panel
    assert "42 ms" in panel
    assert "16.4" in panel
    assert "Vault role database/reviewer-ro" in panel
    assert "50.0%" in panel  # uptime over 24 h and 7 d: one of two checks
    assert "1/2 checks" in panel


def test_an_unhealthy_connection_shows_its_error(admin_client):
    connection = ConnectionFactory()
    check(connection, healthy=False, error_message='FATAL: database "gone" does not exist')

    page = admin_client.get(page_url(connection)).content.decode()

    assert 'rv-big rv-unhealthy">unhealthy<' in page
    assert 'id="status-error">FATAL: database &quot;gone&quot; does not exist<' in page


def test_a_connection_whose_probes_stopped_is_shown_stale(admin_client, settings):
    settings.PROBE_STALE_AFTER_SECONDS = 180
    connection = ConnectionFactory()
    check(connection, healthy=True, minutes_ago=45)

    page = admin_client.get(page_url(connection)).content.decode()

    assert 'rv-big rv-stale">stale<' in page
    assert "no probe result for 45 minutes" in page


def test_a_never_checked_connection_says_so(admin_client):
    page = admin_client.get(page_url(ConnectionFactory())).content.decode()

    assert ">never checked<" in page
    assert "No checks in this period" in page


def test_the_charts_show_response_time_and_uptime_and_switch_to_a_week(admin_client):
    connection = ConnectionFactory()
    check(connection, healthy=True, minutes_ago=60 * 30)  # yesterday: only in the week
    check(connection, healthy=True, minutes_ago=5)

    day = admin_client.get(page_url(connection)).content.decode()
    week = admin_client.get(page_url(connection) + "?history=7d").content.decode()

    assert "<title>Response time, last 24 hours</title>" in day
    assert "1 check, 0 failed" in day
    assert "<title>Uptime per day, last 7 days</title>" in day
    assert "<title>Response time, last 7 days</title>" in week
    assert "2 checks, 0 failed" in week


def test_the_page_lists_the_latest_runs_on_this_database_only(admin_client):
    connection = ConnectionFactory()
    mine = TaskExecutionFactory(task=TaskFactory(name="mine", connection=connection), status=ExecutionStatus.FAILED)
    TaskExecutionFactory(task=TaskFactory(name="theirs"))

    response = admin_client.get(page_url(connection))

    assert [e.pk for e in response.context["recent_executions"]] == [mine.pk]
    assert 'rv-badge rv-failed">failed<' in response.content.decode()


def test_the_recent_checks_table_shows_labelled_results(admin_client):
    connection = ConnectionFactory()
    check(connection, healthy=False)
    check(connection, healthy=True, response_time_ms=11)

    page = admin_client.get(page_url(connection)).content.decode()

    history = page.split("Recent checks (newest 20)")[1]
    assert ">healthy<" in history and ">unhealthy<" in history
    assert "11 ms" in history


def test_check_now_probes_a_reachable_server_and_shows_it_healthy(admin_client):
    connection = ConnectionFactory(name="orders")
    check(connection, healthy=False)  # recorded down, reachable now

    response = admin_client.post(check_url(connection), follow=True)

    assert response.redirect_chain == [(page_url(connection), 302)]
    latest = connection.statuses.order_by("-id").first()
    assert latest.is_healthy
    assert f"orders: healthy, {latest.response_time_ms} ms, PostgreSQL {latest.server_version}" in messages_of(response)
    assert 'rv-big rv-healthy">healthy<' in response.content.decode()


def test_check_now_on_a_closed_port_shows_the_refusal(admin_client):
    connection = ConnectionFactory(name="billing", port=1)

    response = admin_client.post(check_url(connection), follow=True)

    (text,) = messages_of(response)
    assert text.startswith("billing: unhealthy: ")
    assert "Connection refused" in text
    assert 'rv-big rv-unhealthy">unhealthy<' in response.content.decode()


def test_check_now_returns_to_a_page_on_this_site_only(admin_client):
    connection = ConnectionFactory(port=1)

    home = admin_client.post(check_url(connection), {"next": reverse("admin:index")})
    away = admin_client.post(check_url(connection), {"next": "https://example.com/admin/"})

    assert home["Location"] == reverse("admin:index")
    assert away["Location"] == page_url(connection)


def test_check_now_is_a_post_only_action(admin_client):
    connection = ConnectionFactory()

    assert admin_client.get(check_url(connection)).status_code == 405
    assert not ConnectionStatus.objects.exists()


def test_check_now_needs_a_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    connection = ConnectionFactory()

    assert client.post(check_url(connection)).status_code == 403
    assert not ConnectionStatus.objects.exists()


def test_staff_without_the_check_permission_see_no_button_and_get_403(client):
    staff(client, "view_connection")
    connection = ConnectionFactory()

    page = client.get(page_url(connection)).content.decode()
    forged = client.post(check_url(connection))

    assert 'id="status-panel"' in page
    assert check_url(connection) not in page
    assert forged.status_code == 403
    assert not ConnectionStatus.objects.exists()


def test_staff_with_the_check_permission_see_the_button(client):
    staff(client, "view_connection", "check_connection")
    connection = ConnectionFactory()

    page = client.get(page_url(connection)).content.decode()

    assert f'action="{check_url(connection)}"' in page
    assert client.post(check_url(connection)).status_code == 302


def test_non_staff_cannot_check(client):
    user = User.objects.create_user("plain", password="pw-plain-1234")
    user.user_permissions.set(Permission.objects.filter(codename="check_connection"))
    client.force_login(user)
    connection = ConnectionFactory()

    response = client.post(check_url(connection))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not ConnectionStatus.objects.exists()


def test_check_now_on_a_missing_connection_is_404(admin_client):
    assert admin_client.post(reverse("admin:connections_connection_check", args=[999999])).status_code == 404


@pytest.mark.parametrize("rows", [2, 20])
def test_the_list_costs_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries, rows):
    for _ in range(rows):
        check(ConnectionFactory(), healthy=True)

    with django_assert_max_num_queries(5):
        response = admin_client.get(reverse("admin:connections_connection_changelist"))

    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", [2, 20])
def test_the_page_costs_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries, rows):
    connection = ConnectionFactory()
    for index in range(rows):
        check(connection, healthy=index % 3 != 0, minutes_ago=index * 10)
        TaskExecutionFactory(task=TaskFactory(connection=connection), status=ExecutionStatus.COMPLETED)

    # The health panel, the charts, the runs, and the review (worst open problems + their count).
    with django_assert_max_num_queries(13):
        response = admin_client.get(page_url(connection))

    assert response.status_code == 200


def test_the_review_section_groups_open_problems_by_area_worst_first(admin_client):
    connection = ConnectionFactory()
    run = TaskExecutionFactory(task=TaskFactory(connection=connection, task_type="database_review"))

    def problem(severity, category, area, subject, remedy="", state="open"):
        return FindingFactory(
            execution=run,
            severity=severity,
            category=category,
            subject=subject,
            remedy=remedy,
            state=state,
            details={"area": area},
        )

    problem("warning", "duplicate_index", "indexes", "public.a_idx", "DROP INDEX CONCURRENTLY public.a_idx;")
    problem("critical", "sequence_exhaustion", "maintenance", "public.s", "ALTER SEQUENCE public.s AS bigint;")
    problem("critical", "invalid_index", "indexes", "public.b_idx")
    problem("warning", "unused_index", "indexes", "public.gone_idx", state="resolved")
    FindingFactory(execution=run, severity="warning", category="deadlock")  # from the log: "logs"

    review = admin_client.get(page_url(connection)).context["review"]

    assert [(area, [f.subject for f in findings]) for area, findings in review.areas] == [
        ("indexes", ["public.b_idx", "public.a_idx"]),
        ("maintenance", ["public.s"]),
        ("logs", [""]),
    ]
    page = admin_client.get(page_url(connection)).content.decode()
    section = page.split('id="review"')[1]
    assert '<pre class="rv-remedy">ALTER SEQUENCE public.s AS bigint;</pre>' in section
    assert "public.gone_idx" not in section
