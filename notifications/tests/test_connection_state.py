"""connection_down / connection_recovered from probe results: the state machine, on the
database only (delivery is tested with a real worker in test_delivery.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from notifications.connection_state import check_staleness, record_statuses
from notifications.models import ConnectionAlertState, Delivery, NotificationEvent, NotificationRule

pytestmark = pytest.mark.django_db


def probe(connection, healthy: bool, age_s: float = 0) -> ConnectionStatus:
    return ConnectionStatus.objects.create(
        connection=connection,
        is_healthy=healthy,
        checked_at=timezone.now() - timedelta(seconds=age_s),
        error_message=None if healthy else "connection refused",
    )


def events(kind: str | None = None) -> list[NotificationEvent]:
    rows = NotificationEvent.objects.order_by("id")
    return list(rows.filter(event=kind) if kind else rows)


def test_one_failed_probe_is_not_down_the_second_is(settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 2
    db = ConnectionFactory(name="Prod")

    record_statuses([probe(db, False)])
    assert events() == []

    first_event = record_statuses([probe(db, False)])

    assert [e.event for e in first_event] == ["connection_down"]
    down = events("connection_down")[0]
    assert down.connection_id == db.pk and down.severity == "critical"
    assert "Prod is down: 2 probes failed in a row; last error: connection refused" == down.message
    assert ConnectionAlertState.objects.get(connection=db).down


def test_a_healthy_probe_between_failures_starts_the_count_again(settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 2
    db = ConnectionFactory()
    for healthy in (False, True, False, True, False):
        record_statuses([probe(db, healthy)])
    assert events() == []  # a connection that loses every other probe never pages


def test_more_failures_while_down_notify_nothing_and_recovery_names_the_down_event(settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 2
    db = ConnectionFactory(name="Prod")
    for _ in range(5):
        record_statuses([probe(db, False)])
    assert len(events()) == 1

    record_statuses([probe(db, True)])
    record_statuses([probe(db, True)])

    down, recovered = events()
    assert recovered.event == "connection_recovered" and recovered.closes_id == down.pk
    assert recovered.payload["recovers"] == str(down.uuid) == down.payload["id"]
    assert "recovers" not in down.payload
    assert recovered.message.startswith("Prod recovered: healthy again after being down for")


def test_a_result_counted_twice_counts_once(settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 2
    db = ConnectionFactory()
    failed = probe(db, False)
    record_statuses([failed])
    record_statuses([failed])  # a duplicated signal
    record_statuses([failed, failed])
    assert events() == []
    assert ConnectionAlertState.objects.get(connection=db).consecutive_failures == 1


def test_a_round_counts_each_connection_in_probe_order(settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 2
    a, b = ConnectionFactory(), ConnectionFactory()
    statuses = [probe(a, False), probe(b, True), probe(a, False), probe(b, False)]
    record_statuses(list(reversed(statuses)))
    assert [(e.event, e.connection_id) for e in events()] == [("connection_down", a.pk)]


def test_a_stale_connection_is_down_once_and_recovers_on_a_healthy_probe(settings):
    settings.PROBE_STALE_AFTER_SECONDS = 180
    db = ConnectionFactory(name="Quiet")
    record_statuses([probe(db, True, age_s=600)])
    ConnectionFactory(name="Never probed")  # nothing to judge yet

    check_staleness()
    check_staleness()

    (down,) = events()
    assert down.event == "connection_down"
    assert down.message.startswith("Quiet is down: no probe result for 10 minutes")

    record_statuses([probe(db, True)])
    assert [e.event for e in events()] == ["connection_down", "connection_recovered"]
    assert events()[1].closes_id == down.pk


def test_an_inactive_connection_is_never_stale(settings):
    db = ConnectionFactory(is_active=False)
    record_statuses([probe(db, True, age_s=3600)])
    assert check_staleness() == []


def test_an_event_gets_one_pending_delivery_per_matching_rule(settings):
    settings.NOTIFY_CONNECTION_DOWN_AFTER = 1
    db, other = ConnectionFactory(), ConnectionFactory()
    everyone = NotificationRule.objects.create(name="all", url="http://127.0.0.1:9/h", events=["connection_down"])
    only_other = NotificationRule.objects.create(name="other", url="http://127.0.0.1:9/h", events=["connection_down"])
    only_other.connections.set([other])
    NotificationRule.objects.create(name="off", url="http://127.0.0.1:9/h", events=["connection_down"], is_active=False)
    NotificationRule.objects.create(name="runs", url="http://127.0.0.1:9/h", events=["execution_failed"])

    record_statuses([probe(db, False)])

    assert list(Delivery.objects.values_list("rule__name", "status")) == [("all", "pending")]
    assert Delivery.objects.get().rule == everyone
