"""What keeps notifications going when parts fail: the broker down when an event is recorded,
a lost delivery message, the history's retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from connections.status import record_probe
from connections.tests.factories import ConnectionFactory
from notifications.models import Delivery, NotificationEvent, NotificationRule
from notifications.retention import purge_notification_history
from notifications.tasks import sweep
from testing.http_receiver import HttpReceiver
from testing.network import free_port
from testing.wait import wait_for
from testing.worker import WorkerProcess


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_never_fails_a_probe_and_the_delivery_waits(unreachable_broker, settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 1
    NotificationRule.objects.create(name="hook", url="http://127.0.0.1:9/h", events=["connection_down"])

    status = record_probe(ConnectionFactory(port=free_port(), connect_timeout=1))

    assert status.is_healthy is False  # the probe was stored and answered
    assert Delivery.objects.get().status == "pending"  # for the sweep, once the broker is back


@pytest.mark.django_db(transaction=True)
def test_a_lost_delivery_message_is_published_again_by_the_sweep_and_sent_once(settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 1
    hook = HttpReceiver()
    worker = None
    try:
        NotificationRule.objects.create(name="hook", url=hook.url + "/h", events=["connection_down"])
        record_probe(ConnectionFactory(port=free_port(), connect_timeout=1))
        redis.Redis.from_url(django_settings.CELERY_BROKER_URL).flushdb()  # the message is lost
        Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
        worker = WorkerProcess(queues="notifications").start()

        assert sweep()["deliveries"] == 1
        wait_for(lambda: Delivery.objects.get().status == "sent", timeout=30)
        assert sweep()["deliveries"] == 0
        assert len(hook.requests) == 1
    finally:
        if worker:
            worker.stop()
        hook.close()


@pytest.mark.django_db
def test_old_events_go_except_the_one_that_keeps_a_connection_down(settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 1
    record_probe(ConnectionFactory(port=free_port(), connect_timeout=1))  # down: its event is kept
    old = NotificationEvent.objects.create(key="old", event="execution_failed", severity="warning", message="old")
    recent = NotificationEvent.objects.create(key="recent", event="execution_failed", severity="warning", message="x")
    NotificationEvent.objects.exclude(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=40))

    assert purge_notification_history(days=30) == 1

    assert not NotificationEvent.objects.filter(pk=old.pk).exists()
    assert set(NotificationEvent.objects.values_list("event", flat=True)) == {"connection_down", "execution_failed"}
