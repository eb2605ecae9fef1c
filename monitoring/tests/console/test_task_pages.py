"""A task's page (schedule, next run, "Run now" on the real broker) and an execution's page
(outcome, error, result as JSON, findings), with who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reviewer.celery import app as celery_app
from tasks.findings import Coverage, Observed, record_findings
from tasks.models import ExecutionStatus, Task, TaskExecution, Trigger
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory
from testing.network import free_port

pytestmark = pytest.mark.django_db


def task_url(task: Task) -> str:
    return reverse("admin:tasks_task_change", args=[task.pk])


def run_url(task: Task) -> str:
    return reverse("admin:tasks_task_run", args=[task.pk])


def execution_url(execution: TaskExecution) -> str:
    return reverse("admin:tasks_taskexecution_change", args=[execution.pk])


def staff(client, *codenames: str) -> Client:
    user = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def queued_messages() -> int:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5).llen("reviews")


def finished(task: Task, status: str = ExecutionStatus.COMPLETED, seconds: float = 30, **fields) -> TaskExecution:
    now = timezone.now()
    return TaskExecutionFactory(
        task=task,
        status=status,
        started_at=now - timedelta(seconds=seconds),
        completed_at=now,
        duration_seconds=seconds,
        **fields,
    )


@pytest.fixture
def dead_broker():
    """The Celery app pointed at a loopback port nobody listens on: a broker that is down."""
    saved = celery_app.conf.broker_url, celery_app.conf.broker_write_url

    def reset_pools() -> None:
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.broker_url = celery_app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/7"
    reset_pools()
    yield
    celery_app.conf.broker_url, celery_app.conf.broker_write_url = saved
    reset_pools()


def test_the_task_page_shows_its_schedule_next_run_and_last_run(admin_client):
    task = TaskFactory(schedule="0 2 * * *")
    finished(task, seconds=60)
    last = finished(task, status=ExecutionStatus.FAILED, seconds=120)

    page = admin_client.get(task_url(task)).content.decode()

    panel = page.split('id="schedule-panel"')[1].split("</section>")[0]
    assert "<code>0 2 * * *</code>" in panel
    task.refresh_from_db()
    assert (
        task.next_run_at.strftime('<span class="rv-nowrap">%Y-%m-%d</span> <span class="rv-nowrap">02:00 UTC</span>')
        in panel
    )
    assert f'#{last.pk}</a> <span class="rv-badge rv-failed">failed</span>' in panel
    assert "1 minute" in panel.split("Usually takes")[1]  # the median of its completed runs
    assert "<title>Runs per day, last 14 days</title>" in panel


def test_a_manual_task_says_it_is_not_scheduled(admin_client):
    page = admin_client.get(task_url(TaskFactory(schedule=""))).content.decode()

    assert "manual only" in page
    assert "not scheduled" in page


def test_recent_runs_are_listed_with_status_labels_and_durations(admin_client):
    task = TaskFactory()
    run = finished(task, seconds=3.25)
    failed = finished(task, status=ExecutionStatus.FAILED, seconds=0.25, error_message="deadlock detected")

    page = admin_client.get(task_url(task)).content.decode()

    history = page.split("Recent executions (newest 20)")[1]
    assert f'<a href="{execution_url(run)}">#{run.pk}</a>' in history
    assert ">completed<" in history and ">failed<" in history
    assert "3.2 s" in history
    assert "250 ms" in history
    assert f"#{failed.pk}" in history and "deadlock detected" in history


@pytest.mark.django_db(transaction=True)
def test_run_now_queues_a_manual_run_and_opens_its_page(admin_client):
    task = TaskFactory(name="Nightly")

    response = admin_client.post(run_url(task))

    execution = TaskExecution.objects.get()
    assert response.status_code == 302
    assert response["Location"] == execution_url(execution)
    assert execution.status == ExecutionStatus.PENDING
    assert execution.trigger == Trigger.MANUAL
    assert execution.triggered_by.username == "admin"
    assert queued_messages() == 1
    assert f"Nightly: queued as execution #{execution.pk}." in messages_of(response)


@pytest.mark.django_db(transaction=True)
def test_run_now_with_the_broker_down_says_so_and_records_the_failed_run(admin_client, dead_broker):
    task = TaskFactory(name="Nightly")

    response = admin_client.post(run_url(task))

    assert response["Location"] == task_url(task)
    (text,) = messages_of(response)
    assert text.startswith("Nightly: could not queue the run: broker unreachable")
    assert TaskExecution.objects.get().status == ExecutionStatus.FAILED


def test_run_now_is_a_post_only_action(admin_client):
    assert admin_client.get(run_url(TaskFactory())).status_code == 405
    assert not TaskExecution.objects.exists()


def test_run_now_needs_a_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    assert client.post(run_url(TaskFactory())).status_code == 403
    assert not TaskExecution.objects.exists()


def test_staff_without_the_run_permission_see_no_button_and_get_403(client):
    staff(client, "view_task", "change_task")
    task = TaskFactory()

    page = client.get(task_url(task)).content.decode()
    forged = client.post(run_url(task))

    assert 'id="schedule-panel"' in page
    assert run_url(task) not in page
    assert forged.status_code == 403
    assert not TaskExecution.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_staff_with_the_run_permission_see_the_button_and_can_run(client):
    staff(client, "view_task", "run_task")
    task = TaskFactory()

    assert f'action="{run_url(task)}"' in client.get(task_url(task)).content.decode()
    assert client.post(run_url(task)).status_code == 302
    assert TaskExecution.objects.get().celery_task_id


def test_non_staff_cannot_run(client):
    user = User.objects.create_user("plain", password="pw-plain-1234")
    user.user_permissions.set(Permission.objects.filter(codename="run_task"))
    client.force_login(user)

    response = client.post(run_url(TaskFactory()))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not TaskExecution.objects.exists()


def test_a_completed_run_shows_its_result_as_formatted_json(admin_client):
    run = finished(TaskFactory(), seconds=0.048, result={"server_version": "16.4", "is_healthy": True})

    page = admin_client.get(execution_url(run)).content.decode()

    assert 'id="execution-status">completed<' in page
    assert "{\n  &quot;is_healthy&quot;: true,\n  &quot;server_version&quot;: &quot;16.4&quot;\n}" in page
    assert "48 ms" in page
    assert 'http-equiv="refresh"' not in page  # finished: nothing left to watch


def test_a_failed_run_shows_its_error(admin_client):
    run = finished(TaskFactory(), status=ExecutionStatus.FAILED, error_message="timed out after 600 s")

    page = admin_client.get(execution_url(run)).content.decode()

    assert 'id="execution-status">failed<' in page
    assert 'id="execution-error">timed out after 600 s<' in page


def test_a_running_run_reloads_itself_and_says_how_long_it_usually_takes(admin_client):
    task = TaskFactory()
    finished(task, seconds=600)
    running = TaskExecutionFactory(
        task=task, status=ExecutionStatus.RUNNING, started_at=timezone.now() - timedelta(minutes=3)
    )

    page = admin_client.get(execution_url(running)).content.decode()

    assert '<meta http-equiv="refresh" content="3">' in page
    assert "3 minutes" in page
    assert "usually 10 minutes" in page


def test_the_run_page_lists_its_findings(admin_client):
    run = finished(TaskFactory())
    FindingFactory(
        execution=run,
        connection=run.task.connection,
        severity="critical",
        category="checksum",
        message="invalid page in block 7",
        count=1,
        first_seen=run.started_at,
    )

    page = admin_client.get(execution_url(run)).content.decode()

    assert "invalid page in block 7" in page
    assert ">critical<" in page


@pytest.mark.parametrize("rows", [2, 20])
def test_the_task_list_costs_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries, rows):
    for _ in range(rows):
        finished(TaskFactory())

    with django_assert_max_num_queries(6):  # the connection filter lists the connections
        response = admin_client.get(reverse("admin:tasks_task_changelist"))

    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", [2, 20])
def test_the_execution_list_costs_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries, rows):
    for _ in range(rows):
        finished(TaskFactory(), triggered_by=User.objects.get(username="admin"))

    with django_assert_max_num_queries(5):
        response = admin_client.get(reverse("admin:tasks_taskexecution_changelist"))

    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", [2, 20])
def test_the_task_page_costs_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries, rows):
    task = TaskFactory()
    for _ in range(rows):
        finished(task, triggered_by=User.objects.get(username="admin"))

    with django_assert_max_num_queries(12):
        response = admin_client.get(task_url(task))

    assert response.status_code == 200


def test_the_run_page_shows_what_that_run_saw_even_after_later_runs(admin_client):
    task = TaskFactory(task_type="log_analysis")
    first, second = finished(task), finished(task)
    observed = {"severity": "warning", "category": "error", "subject": "22012"}
    looked = Coverage({None: {"error"}})
    record_findings(first, [Observed(**observed, message="5 ERROR with SQLSTATE 22012", count=5)], looked)
    record_findings(second, [Observed(**observed, message="1 ERROR with SQLSTATE 22012", count=1)], looked)

    page = admin_client.get(execution_url(first)).content.decode()

    assert "5 ERROR with SQLSTATE 22012" in page
    assert "1 ERROR with SQLSTATE 22012" not in page
    assert "<code>22012</code>" in page
