"""Delivery end to end, with real parts: probes against real ports, a real Celery worker on
the `notifications` queue, a webhook receiver and an SMTP server started by the test."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from connections.fleet import probe_fleet
from connections.models import Connection
from connections.status import record_probe
from connections.tests.factories import ConnectionFactory
from notifications.models import ConnectionAlertState, Delivery, DeliveryAttempt, NotificationEvent, NotificationRule
from notifications.queue import publish_deliveries
from tasks.runner import fail_execution
from tasks.tests.factories import TaskExecutionFactory
from testing.http_receiver import HttpReceiver
from testing.mail_server import MailServer
from testing.network import BlackHole, free_port
from testing.wait import wait_for
from testing.worker import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT_S = 2  # the worker's NOTIFY_TIMEOUT_SECONDS


@pytest.fixture(scope="module")
def mail_server():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notify_worker(django_db_setup, django_db_blocker, mail_server):
    """One worker for the module, on the notifications queue only, with short retry delays."""
    env = {
        "NOTIFY_RETRY_DELAYS_SECONDS": "1,1",  # three attempts, a second apart
        "NOTIFY_TIMEOUT_SECONDS": str(TIMEOUT_S),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail_server.port),
        "DEFAULT_FROM_EMAIL": "reviewer@example.com",
    }
    with django_db_blocker.unblock():
        proc = WorkerProcess(queues="notifications", concurrency=2, extra_env=env).start()
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def _public_url(settings):
    """Events are written (with their links) by the process that saw them: here, the test."""
    settings.REVIEWER_PUBLIC_URL = "https://reviewer.example.com"


@pytest.fixture
def receiver():
    made: list[HttpReceiver] = []

    def make(answers: list[int] | None = None) -> HttpReceiver:
        made.append(HttpReceiver(answers))
        return made[-1]

    yield make
    for r in made:
        r.close()


def webhook_rule(url: str, events: list[str], **fields) -> NotificationRule:
    return NotificationRule.objects.create(name=f"rule {url}", url=url, events=events, **fields)


def settled(seconds: float = 1.5) -> None:
    """Give a message that should not come the time to come anyway."""
    time.sleep(seconds)


def test_a_connection_down_after_two_failed_probes_then_recovered_one_message_each(
    notify_worker, receiver, client, settings
):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 2
    hook = receiver()
    webhook_rule(hook.url + "/hook", ["connection_down", "connection_recovered"])
    db = ConnectionFactory(name="Prod", port=free_port(), connect_timeout=1)  # nothing listens there
    staff = User.objects.create_superuser("oncall", password="pw-oncall-1234")
    token = Token.objects.create(user=staff)

    probe_fleet()  # a scheduled round: one failed probe pages nobody
    settled()
    assert hook.requests == [] and not NotificationEvent.objects.exists()

    # The API's POST …/check is the second failed probe: down.
    response = client.post(f"/api/v1/monitoring/connections/{db.pk}/check", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and response.json()["is_healthy"] is False
    wait_for(lambda: len(hook.requests) == 1, timeout=30)
    (down,) = hook.bodies()
    assert down["event"] == "connection_down"
    assert down["connection"] == {"id": db.pk, "name": "Prod"}
    assert down["severity"] == "critical"
    assert down["message"].startswith("Prod is down: 2 probes failed in a row; last error: ")
    assert down["occurred_at"].endswith("Z") and down["since"].endswith("Z")
    assert down["url"] == f"https://reviewer.example.com/admin/connections/connection/{db.pk}/change/"
    assert (down["task_id"], down["execution_id"], down["finding_id"]) == (None, None, None)
    assert "recovers" not in down
    assert hook.requests[0].headers["Content-Type"] == "application/json"

    # The console's "Check now" and more rounds: still down, nothing more is sent.
    client.force_login(staff)
    client.post("/admin/connections/connection/", {"action": "check_now", "_selected_action": [db.pk]}, follow=True)
    probe_fleet()
    settled()
    assert len(hook.requests) == 1
    assert NotificationEvent.objects.count() == 1
    assert ConnectionAlertState.objects.get(connection=db).consecutive_failures == 4  # all four counted

    # Healthy again: one recovery, naming the down event.
    Connection.objects.filter(pk=db.pk).update(port=5432)
    record_probe(Connection.objects.get(pk=db.pk))
    record_probe(Connection.objects.get(pk=db.pk))
    wait_for(lambda: len(hook.requests) == 2, timeout=30)
    settled()
    recovered = hook.bodies()[1]
    assert recovered["event"] == "connection_recovered"
    assert recovered["recovers"] == down["id"]
    assert recovered["id"] != down["id"]
    assert len(hook.requests) == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_failed_execution_is_sent_by_webhook_and_by_e_mail(notify_worker, receiver, mail_server):
    hook = receiver()
    webhook_rule(hook.url + "/runs", ["execution_failed"])
    NotificationRule.objects.create(name="Mail", url="mailto:oncall@example.com", events=["execution_failed"])
    execution = TaskExecutionFactory(task__name="Nightly review", task__connection__name="Prod")
    before = len(mail_server.messages)

    fail_execution(execution.pk, "timed out after 600 s")

    wait_for(lambda: len(hook.requests) == 1 and len(mail_server.messages) == before + 1, timeout=30)
    (body,) = hook.bodies()
    assert body["event"] == "execution_failed"
    assert (body["task_id"], body["execution_id"]) == (execution.task_id, execution.pk)
    assert body["url"] == f"https://reviewer.example.com/admin/tasks/taskexecution/{execution.pk}/change/"
    sender, recipients, mail = mail_server.messages[-1]
    assert (sender, recipients) == ("reviewer@example.com", ["oncall@example.com"])
    assert mail["Subject"] == "[warning] Prod: run failed"
    text = mail.get_payload()
    assert f"Nightly review (health_check) run #{execution.pk} failed: timed out after 600 s" in text
    assert body["id"] in text


def test_a_receiver_that_answers_500_then_200_gets_the_message_once_and_both_attempts_are_recorded(
    notify_worker, receiver
):
    hook = receiver(answers=[500, 200])
    webhook_rule(hook.url + "/flaky", ["execution_failed"])
    fail_execution(TaskExecutionFactory().pk, "boom")

    wait_for(lambda: Delivery.objects.filter(status="sent").exists(), timeout=30)
    delivery = Delivery.objects.get()
    assert delivery.attempts == 2
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.outcome) for a in attempts] == [(1, "failed"), (2, "sent")]
    assert attempts[0].reason == f"HTTP 500 from http://127.0.0.1:{hook.port}/…"
    assert (attempts[1].started_at - attempts[0].finished_at).total_seconds() >= 0.9  # the backoff

    # The same queue message again (a redelivery): nothing is sent twice.
    publish_deliveries([delivery.pk])
    settled()
    assert len(hook.requests) == 2
    assert hook.requests[0].body == hook.requests[1].body


def test_a_receiver_that_never_answers_fails_at_the_timeout_and_every_attempt_is_recorded(notify_worker):
    hole = BlackHole()
    try:
        webhook_rule(f"http://127.0.0.1:{hole.port}/hook", ["execution_failed"])
        fail_execution(TaskExecutionFactory().pk, "boom")

        wait_for(lambda: Delivery.objects.filter(status="failed").exists(), timeout=60)
    finally:
        hole.close()
    delivery = Delivery.objects.get()
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [a.outcome for a in attempts] == ["failed", "failed", "failed"]
    for attempt in attempts:
        assert attempt.reason == f"no answer from http://127.0.0.1:{hole.port}/… within {TIMEOUT_S} s"
        waited = (attempt.finished_at - attempt.started_at).total_seconds()
        assert TIMEOUT_S - 0.5 <= waited < TIMEOUT_S + 10  # bounded by the timeout, generous margin
    assert delivery.last_error == attempts[-1].reason


def test_a_chat_service_url_goes_through_apprise(notify_worker, receiver):
    hook = receiver()
    # apprise's generic JSON service stands in for Slack, Telegram…: same code path.
    NotificationRule.objects.create(name="Chat", url=f"json://127.0.0.1:{hook.port}/chat", events=["execution_failed"])
    execution = TaskExecutionFactory(task__connection__name="Prod")
    fail_execution(execution.pk, "boom")

    wait_for(lambda: len(hook.requests) == 1, timeout=30)
    body = hook.bodies()[0]
    assert body["title"] == "[warning] Prod: run failed"
    assert f"run #{execution.pk} failed: boom" in body["message"]
    assert Delivery.objects.get().status == "sent"


def test_a_channel_that_is_down_never_delays_a_probe(notify_worker, settings):
    """Probes only record the event; the send happens on the notifications worker."""
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 1
    hole = BlackHole()
    try:
        webhook_rule(f"http://127.0.0.1:{hole.port}/hook", ["connection_down"])
        db = ConnectionFactory(port=free_port(), connect_timeout=1)
        started = time.monotonic()
        record_probe(db)
        assert time.monotonic() - started < TIMEOUT_S  # not waiting on the black hole
        wait_for(lambda: DeliveryAttempt.objects.exists(), timeout=30)
    finally:
        hole.close()
