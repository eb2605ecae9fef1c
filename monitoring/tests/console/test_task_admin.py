"""Tasks and their executions in the admin, and "Run now" on the real Redis broker."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.tests.factories import ConnectionFactory
from tasks.models import ExecutionStatus, Task, TaskExecution, Trigger
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

TASKS = reverse("admin:tasks_task_changelist")
EXECUTIONS = reverse("admin:tasks_taskexecution_changelist")


def staff_client(client, *codenames: str):
    user = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def run_now(client, *tasks: Task):
    return client.post(TASKS, {"action": "run_now", "_selected_action": [t.pk for t in tasks]}, follow=True)


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def queued_messages() -> int:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5)
    return broker.llen("reviews")


def task_form(**overrides) -> dict:
    data = {
        "name": "Nightly check",
        "task_type": "health_check",
        "connection": str(ConnectionFactory().pk),
        "schedule": "0 2 * * *",
        "is_active": "on",
        "timeout_seconds": "600",
        "config": "{}",
        "executions-TOTAL_FORMS": "0",
        "executions-INITIAL_FORMS": "0",
    }
    return {**data, **overrides}


def test_the_task_list_shows_schedule_connection_and_last_run(admin_client):
    nightly = TaskFactory(name="Nightly", schedule="0 2 * * *", connection=ConnectionFactory(name="Prod DB"))
    TaskExecutionFactory(task=nightly, status=ExecutionStatus.COMPLETED)
    TaskExecutionFactory(task=nightly, status=ExecutionStatus.FAILED)  # the newest one counts
    TaskFactory(name="Adhoc")

    response = admin_client.get(TASKS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "0 2 * * *" in page
    assert "manual only" in page
    assert "Prod DB" in page
    assert ">failed<" in page
    assert ">completed<" not in page


def test_the_task_list_costs_the_same_number_of_queries_for_many_tasks(admin_client):
    def queries_for_list() -> int:
        with CaptureQueriesContext(db_connection) as ctx:
            assert admin_client.get(TASKS).status_code == 200
        return len(ctx.captured_queries)

    TaskExecutionFactory()
    few = queries_for_list()
    for _ in range(10):
        TaskExecutionFactory()

    assert queries_for_list() == few


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("q=nightly", ["Nightly"]),
        ("q=reports.internal", ["Adhoc"]),
        ("scheduled=yes", ["Nightly"]),
        ("scheduled=no", ["Adhoc"]),
        ("is_active__exact=1", ["Nightly"]),
        ("task_type__exact=health_check", ["Adhoc", "Nightly"]),
    ],
)
def test_search_and_filters_narrow_the_task_list(admin_client, query, shown):
    TaskFactory(name="Nightly", schedule="0 2 * * *")
    TaskFactory(name="Adhoc", is_active=False, connection=ConnectionFactory(host="reports.internal"))

    response = admin_client.get(f"{TASKS}?{query}")

    assert response.status_code == 200
    assert sorted(t.name for t in response.context["cl"].result_list) == shown


def test_the_form_creates_a_valid_task(admin_client):
    response = admin_client.post(reverse("admin:tasks_task_add"), task_form())

    assert response.status_code == 302
    assert Task.objects.get().schedule == "0 2 * * *"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("schedule", "every night", "A cron schedule has 5 fields"),
        ("schedule", "0 25 * * *", "Not a valid cron schedule"),
        ("task_type", "foo", "Select a valid choice. foo is not one of the available choices."),
        ("config", "[1, 2]", "Config must be a JSON object."),
    ],
)
def test_the_form_rejects_a_bad_schedule_type_or_config(admin_client, field, value, error):
    response = admin_client.post(reverse("admin:tasks_task_add"), task_form(**{field: value}))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Task.objects.exists()


def test_changing_the_schedule_replans_the_next_run(admin_client):
    task = TaskFactory(schedule="0 2 * * *")
    Task.objects.filter(pk=task.pk).update(next_run_at=timezone.now().replace(hour=2, minute=0))

    response = admin_client.post(
        reverse("admin:tasks_task_change", args=[task.pk]),
        task_form(name=task.name, connection=str(task.connection_id), schedule="0 4 * * *"),
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.schedule == "0 4 * * *"
    assert (task.next_run_at.hour, task.next_run_at.minute) == (4, 0)


def test_the_detail_page_shows_only_the_newest_executions(admin_client):
    task = TaskFactory()
    executions = [TaskExecutionFactory(task=task) for _ in range(25)]

    response = admin_client.get(reverse("admin:tasks_task_change", args=[task.pk]))

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert [f.instance.pk for f in inline.formset.forms] == [e.pk for e in reversed(executions)][:20]


@pytest.mark.django_db(transaction=True)
def test_run_now_queues_a_pending_manual_execution_on_the_broker(admin_client):
    task = TaskFactory(name="Nightly")

    response = run_now(admin_client, task)

    assert response.status_code == 200
    execution = TaskExecution.objects.get()
    assert execution.task == task
    assert execution.status == ExecutionStatus.PENDING
    assert execution.trigger == Trigger.MANUAL
    assert execution.triggered_by.username == "admin"
    assert execution.celery_task_id
    assert queued_messages() == 1
    link = reverse("admin:tasks_taskexecution_change", args=[execution.id])
    assert f'Nightly: queued as <a href="{link}">execution #{execution.id}</a>.' in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_run_now_with_the_broker_down_reports_the_error_and_fails_the_run(admin_client, unreachable_broker):
    first = TaskFactory(name="A first")
    second = TaskFactory(name="B second")

    response = run_now(admin_client, first, second)

    assert response.status_code == 200
    (execution,) = TaskExecution.objects.all()  # it stops at the first broker failure
    assert execution.task == first
    assert execution.status == ExecutionStatus.FAILED
    assert execution.started_at is not None
    assert "broker unreachable" in execution.error_message
    (text,) = message_texts(response)
    assert text.startswith("A first: could not queue the run: broker unreachable")
    assert "1 other selected task(s) were not started." in text


@pytest.mark.django_db(transaction=True)
def test_staff_with_the_run_permission_can_run_now(client):
    staff_client(client, "view_task", "run_task")
    task = TaskFactory()

    assert "run_now" in client.get(TASKS).content.decode()
    run_now(client, task)

    assert TaskExecution.objects.get().celery_task_id


def test_staff_without_the_run_permission_neither_see_nor_run_run_now(client):
    staff_client(client, "view_task", "change_task")
    task = TaskFactory()

    page = client.get(TASKS)
    response = run_now(client, task)  # a forged POST of the hidden action

    assert page.status_code == 200
    assert "run_now" not in page.content.decode()
    assert response.status_code == 200
    assert not TaskExecution.objects.exists()


def test_the_execution_list_shows_filters_and_searches(admin_client):
    failed = TaskExecutionFactory(
        task=TaskFactory(name="Nightly"),
        status=ExecutionStatus.FAILED,
        trigger=Trigger.SCHEDULED,
        error_message='connection to server at "127.0.0.1", port 1 failed: Connection refused',
        duration_seconds=3.25,
    )
    done = TaskExecutionFactory(task=TaskFactory(name="Adhoc"), status=ExecutionStatus.COMPLETED)

    page = admin_client.get(EXECUTIONS)
    by_status = admin_client.get(f"{EXECUTIONS}?status__exact=failed")
    by_trigger = admin_client.get(f"{EXECUTIONS}?trigger__exact=manual")
    by_type = admin_client.get(f"{EXECUTIONS}?task__task_type=health_check")
    searched = admin_client.get(f"{EXECUTIONS}?q=refused")

    assert page.status_code == 200
    content = page.content.decode()
    assert "Connection refused" in content
    assert "3.2 s" in content
    assert ">failed<" in content
    assert [e.pk for e in by_status.context["cl"].result_list] == [failed.pk]
    assert [e.pk for e in by_trigger.context["cl"].result_list] == [done.pk]
    assert [e.pk for e in by_type.context["cl"].result_list] == [done.pk, failed.pk]
    assert [e.pk for e in searched.context["cl"].result_list] == [failed.pk]


def test_the_execution_list_costs_the_same_number_of_queries_for_many_rows(admin_client):
    def queries_for_list() -> int:
        with CaptureQueriesContext(db_connection) as ctx:
            assert admin_client.get(EXECUTIONS).status_code == 200
        return len(ctx.captured_queries)

    TaskExecutionFactory(triggered_by=User.objects.get(username="admin"))
    few = queries_for_list()
    for _ in range(10):
        TaskExecutionFactory(triggered_by=User.objects.get(username="admin"))

    assert queries_for_list() == few


def test_the_execution_page_shows_the_result_as_pretty_json(admin_client):
    execution = TaskExecutionFactory(
        status=ExecutionStatus.COMPLETED, result={"is_healthy": True, "response_time_ms": 4, "server_version": "16.2"}
    )

    response = admin_client.get(reverse("admin:tasks_taskexecution_change", args=[execution.pk]))

    assert response.status_code == 200
    assert "{\n  &quot;is_healthy&quot;: true,\n  &quot;response_time_ms&quot;: 4," in response.content.decode()


def test_executions_are_read_only(client):
    staff_client(client, "view_taskexecution", "add_taskexecution", "change_taskexecution", "delete_taskexecution")
    execution = TaskExecutionFactory()
    change_url = reverse("admin:tasks_taskexecution_change", args=[execution.pk])

    assert client.get(change_url).status_code == 200
    assert client.get(reverse("admin:tasks_taskexecution_add")).status_code == 403
    assert client.post(change_url, {"status": "completed"}).status_code == 403
    assert (
        client.post(reverse("admin:tasks_taskexecution_delete", args=[execution.pk]), {"post": "yes"}).status_code
        == 403
    )
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PENDING
