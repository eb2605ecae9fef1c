"""The connection registry and its probe history in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, ConnectionStatus
from connections.tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:connections_connection_changelist")
STATUS_CHANGELIST = reverse("admin:connections_connectionstatus_changelist")


def status_for(connection: Connection, healthy: bool = True, **fields) -> ConnectionStatus:
    values = dict(
        checked_at=timezone.now(),
        response_time_ms=12 if healthy else None,
        server_version="16.2" if healthy else None,
        error_message=None if healthy else 'connection to server at "127.0.0.1", port 1 failed: Connection refused',
    )
    return ConnectionStatus.objects.create(connection=connection, is_healthy=healthy, **{**values, **fields})


def staff_client(client, *codenames: str):
    user = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def check_now(client, *connections: Connection):
    data = {"action": "check_now", "_selected_action": [c.pk for c in connections]}
    return client.post(CHANGELIST, data, follow=True)


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_list_shows_address_credentials_and_latest_health(admin_client):
    healthy = ConnectionFactory(name="Healthy DB", vault_path="secret/reviewer/healthy")
    status_for(healthy, healthy=False, response_time_ms=900)
    status_for(healthy, healthy=True, response_time_ms=12)  # the newest one counts
    sick = ConnectionFactory(name="Sick DB", port=1, vault_database_role="database/reviewer-ro")
    status_for(sick, healthy=False)
    ConnectionFactory(name="New DB")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert "127.0.0.1:5432" in page
    assert "127.0.0.1:1" in page
    assert "Vault KV: secret/reviewer/healthy" in page
    assert "Vault role: database/reviewer-ro" in page
    assert "libpq (pgpass / PGPASSWORD / service)" in page
    assert ">healthy<" in page
    assert ">unhealthy<" in page
    assert ">never checked<" in page
    assert "12 ms" in page
    assert "900 ms" not in page
    assert "16.2" in page


def test_the_list_costs_the_same_number_of_queries_for_many_connections(admin_client):
    def queries_for_list() -> int:
        with CaptureQueriesContext(db_connection) as ctx:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(ctx.captured_queries)

    status_for(ConnectionFactory())
    few = queries_for_list()
    for _ in range(10):
        status_for(ConnectionFactory())

    assert queries_for_list() == few


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("q=reporting", ["Reporting DB"], ["Sales DB", "Old DB"]),
        ("q=sales.internal", ["Sales DB"], ["Reporting DB"]),
        ("health=healthy", ["Reporting DB"], ["Sales DB", "Old DB"]),
        ("health=unhealthy", ["Sales DB"], ["Reporting DB", "Old DB"]),
        ("health=never", ["Old DB"], ["Reporting DB", "Sales DB"]),
        ("is_active__exact=0", ["Old DB"], ["Reporting DB", "Sales DB"]),
        ("sslmode__exact=require", ["Sales DB"], ["Reporting DB", "Old DB"]),
        ("o=6", ["Reporting DB", "Sales DB", "Old DB"], []),  # sortable by health
    ],
)
def test_search_and_filters_narrow_the_list(admin_client, query, shown, hidden):
    status_for(ConnectionFactory(name="Reporting DB", database="reports"))
    status_for(ConnectionFactory(name="Sales DB", host="sales.internal", sslmode="require", port=1), healthy=False)
    ConnectionFactory(name="Old DB", is_active=False)

    response = admin_client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 200
    names = [c.name for c in response.context["cl"].result_list]
    assert sorted(names) == sorted(shown)
    assert not set(hidden) & set(names)


def test_the_detail_page_shows_only_the_newest_checks(admin_client):
    conn = ConnectionFactory()
    statuses = [status_for(conn, response_time_ms=i) for i in range(25)]

    response = admin_client.get(reverse("admin:connections_connection_change", args=[conn.pk]))

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    shown = [form.instance.pk for form in inline.formset.forms]
    assert shown == [s.pk for s in reversed(statuses)][:20]
    assert f"?connection__id__exact={conn.pk}" in response.content.decode()  # the full history link


def test_a_connection_with_history_can_still_be_edited(admin_client):
    conn = ConnectionFactory(name="Edited DB")
    statuses = [status_for(conn) for _ in range(3)]
    data = {
        "name": "Edited DB",
        "host": "127.0.0.1",
        "port": "6543",
        "database": "postgres",
        "username": "postgres",
        "is_active": "on",
        "sslmode": "prefer",
        "sslrootcert": "",
        "connect_timeout": "3",
        "vault_path": "",
        "vault_database_role": "",
        "statuses-TOTAL_FORMS": "3",
        "statuses-INITIAL_FORMS": "3",
        "statuses-MIN_NUM_FORMS": "0",
        "statuses-MAX_NUM_FORMS": "0",
    }
    for i, status in enumerate(reversed(statuses)):
        data[f"statuses-{i}-id"] = str(status.pk)
        data[f"statuses-{i}-connection"] = str(conn.pk)

    response = admin_client.post(reverse("admin:connections_connection_change", args=[conn.pk]), data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    conn.refresh_from_db()
    assert conn.port == 6543
    assert conn.statuses.count() == 3


def test_the_form_refuses_two_vault_sources(admin_client):
    data = {
        "name": "Both",
        "host": "127.0.0.1",
        "port": "5432",
        "database": "postgres",
        "sslmode": "prefer",
        "connect_timeout": "5",
        "vault_path": "secret/reviewer/a",
        "vault_database_role": "database/ro",
        "statuses-TOTAL_FORMS": "0",
        "statuses-INITIAL_FORMS": "0",
    }

    response = admin_client.post(reverse("admin:connections_connection_add"), data)

    assert response.status_code == 200
    assert "Set at most one of vault_path and vault_database_role." in response.content.decode()
    assert not Connection.objects.exists()


def test_no_page_shows_a_password_or_a_secret(admin_client, settings):
    settings.VAULT_TOKEN = "hvs.sentinel-vault-token-0001"
    settings.VAULT_SECRET_ID = "sentinel-secret-id-0002"
    conn = ConnectionFactory(vault_path="secret/reviewer/prod-db")
    status = status_for(conn, healthy=False, error_message="Vault: permission denied reading secret/reviewer/prod-db")
    pages = [
        CHANGELIST,
        reverse("admin:connections_connection_add"),
        reverse("admin:connections_connection_change", args=[conn.pk]),
        STATUS_CHANGELIST,
        reverse("admin:connections_connectionstatus_change", args=[status.pk]),
    ]

    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert 'type="password"' not in page, url
        assert "sentinel" not in page, url
        assert settings.SECRET_KEY not in page, url
        assert 'name="password"' not in page, url


def test_check_now_stores_a_real_probe_of_each_selected_connection(admin_client):
    alive = ConnectionFactory(name="Alive DB")
    dead = ConnectionFactory(name="Dead DB", port=1)

    response = check_now(admin_client, alive, dead)

    assert response.status_code == 200
    alive_status = alive.statuses.get()
    assert alive_status.is_healthy is True
    assert alive_status.server_version.split(".")[0].isdigit()
    dead_status = dead.statuses.get()
    assert dead_status.is_healthy is False
    assert "Connection refused" in dead_status.error_message
    texts = message_texts(response)
    assert f"Alive DB: healthy, {alive_status.response_time_ms} ms, PostgreSQL {alive_status.server_version}" in texts
    assert f"Dead DB: unhealthy: {dead_status.error_message}" in texts


def test_check_now_refuses_too_many_connections_at_once(admin_client):
    connections = [ConnectionFactory(port=1) for _ in range(21)]

    response = check_now(admin_client, *connections)

    assert "Select at most 20 connections to check at once." in message_texts(response)
    assert not ConnectionStatus.objects.exists()


def test_staff_without_the_check_permission_neither_see_nor_run_check_now(client):
    staff_client(client, "view_connection")
    conn = ConnectionFactory()

    page = client.get(CHANGELIST)
    response = check_now(client, conn)  # a forged POST of the hidden action

    assert page.status_code == 200
    assert "check_now" not in page.content.decode()
    assert response.status_code == 200
    assert not ConnectionStatus.objects.exists()


def test_staff_with_the_check_permission_can_check_now(client):
    staff_client(client, "view_connection", "check_connection")
    conn = ConnectionFactory()

    assert "check_now" in client.get(CHANGELIST).content.decode()
    check_now(client, conn)

    assert conn.statuses.get().is_healthy is True


def test_the_status_history_lists_filters_and_searches(admin_client):
    status_for(ConnectionFactory(name="Alpha"))
    status_for(ConnectionFactory(name="Beta"), healthy=False)

    everything = admin_client.get(STATUS_CHANGELIST)
    unhealthy = admin_client.get(f"{STATUS_CHANGELIST}?is_healthy__exact=0")
    searched = admin_client.get(f"{STATUS_CHANGELIST}?q=Alpha")
    today = timezone.now()
    by_day = admin_client.get(
        f"{STATUS_CHANGELIST}?checked_at__year={today.year}&checked_at__month={today.month}&checked_at__day={today.day}"
    )

    assert everything.status_code == 200
    assert "Connection refused" in everything.content.decode()
    assert [s.connection.name for s in unhealthy.context["cl"].result_list] == ["Beta"]
    assert [s.connection.name for s in searched.context["cl"].result_list] == ["Alpha"]
    assert len(by_day.context["cl"].result_list) == 2


def test_the_status_history_is_read_only(client):
    staff_client(
        client, "view_connectionstatus", "add_connectionstatus", "change_connectionstatus", "delete_connectionstatus"
    )
    status = status_for(ConnectionFactory())
    change_url = reverse("admin:connections_connectionstatus_change", args=[status.pk])

    assert client.get(change_url).status_code == 200
    assert client.get(reverse("admin:connections_connectionstatus_add")).status_code == 403
    assert client.post(change_url, {"is_healthy": "", "checked_at": "2020-01-01"}).status_code == 403
    assert (
        client.post(reverse("admin:connections_connectionstatus_delete", args=[status.pk]), {"post": "yes"}).status_code
        == 403
    )
    status.refresh_from_db()
    assert status.is_healthy is True


def test_a_superuser_may_prune_status_history(admin_client):
    status = status_for(ConnectionFactory())

    response = admin_client.post(
        reverse("admin:connections_connectionstatus_delete", args=[status.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not ConnectionStatus.objects.exists()


def test_a_stale_healthy_status_is_unhealthy_in_the_list_and_its_filter(admin_client):
    from datetime import timedelta

    stale = ConnectionFactory(name="Silent DB")
    status_for(stale, checked_at=timezone.now() - timedelta(hours=3))
    fresh = ConnectionFactory(name="Fresh DB")
    status_for(fresh)

    listed = admin_client.get(CHANGELIST).content.decode()
    healthy = admin_client.get(f"{CHANGELIST}?health=healthy").context["cl"].result_list
    unhealthy = admin_client.get(f"{CHANGELIST}?health=unhealthy").context["cl"].result_list

    row = listed[listed.index("Silent DB") :]
    assert ">unhealthy<" in row[: row.index("</tr>")]
    assert [c.name for c in healthy] == ["Fresh DB"]
    assert [c.name for c in unhealthy] == ["Silent DB"]
