"""Rules, events and deliveries in the console. A URL's secrets appear on no page: lists and
forms show the scheme and host only, and the URL field is write-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections.tests.factories import ConnectionFactory
from notifications.delivery import deliver
from notifications.events import record_event
from notifications.models import Delivery, DeliveryAttempt, NotificationRule
from testing.network import free_port

pytestmark = pytest.mark.django_db

SECRETS = ("s3cret-pass", "T0KEN-abc123", "qs-secret-99", "AAH-bot-t0ken")
LIST = reverse("admin:notifications_notificationrule_changelist")
ADD = reverse("admin:notifications_notificationrule_add")


def secret_rules(port: int | None = None) -> tuple[NotificationRule, NotificationRule]:
    port = port or free_port()  # nothing listens: the delivery fails, and its reason is shown
    webhook = NotificationRule.objects.create(
        name="Webhook",
        url=f"http://ops:s3cret-pass@127.0.0.1:{port}/hooks/T0KEN-abc123?token=qs-secret-99",
        events=["connection_down"],
    )
    chat = NotificationRule.objects.create(
        name="Chat", url="tgram://123456789:AAH-bot-t0ken/987654321", events=["execution_failed"]
    )
    return webhook, chat


def assert_no_secret(html: str) -> None:
    for secret in SECRETS:
        assert secret not in html


def test_no_page_shows_a_secret_of_a_url_not_even_a_failed_deliverys_reason(admin_client):
    port = free_port()
    webhook, chat = secret_rules(port)
    event, _ = record_event(
        key="connection_down:test",
        event="connection_down",
        severity="critical",
        message="Prod is down",
        connection=ConnectionFactory(name="Prod"),
    )
    delivery = Delivery.objects.get(event=event)

    assert deliver(delivery.pk) == "pending"  # failed, a retry is planned

    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed"
    assert attempt.reason == f"could not connect to http://127.0.0.1:{port}/…"
    assert_no_secret(Delivery.objects.get().last_error)
    pages = [
        LIST,
        reverse("admin:notifications_notificationrule_change", args=[webhook.pk]),
        reverse("admin:notifications_notificationrule_change", args=[chat.pk]),
        reverse("admin:notifications_notificationrule_history", args=[webhook.pk]),
        reverse("admin:notifications_notificationevent_changelist"),
        reverse("admin:notifications_notificationevent_change", args=[event.pk]),
        reverse("admin:notifications_delivery_changelist"),
        reverse("admin:notifications_delivery_change", args=[delivery.pk]),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert_no_secret(response.content.decode())
    listing = admin_client.get(LIST).content.decode()
    assert "http://127.0.0.1:" in listing and "tgram://…" in listing
    event_page = admin_client.get(pages[5]).content.decode()
    assert "could not connect to" in event_page and "failed" in event_page


def form(**fields) -> dict:
    data = {"name": "Pager", "new_url": "", "events": ["connection_down"], "min_severity": "warning", "is_active": "on"}
    return {**data, **fields}


def test_a_blank_url_keeps_the_stored_one_and_a_new_one_replaces_it(admin_client):
    webhook, _ = secret_rules()
    change = reverse("admin:notifications_notificationrule_change", args=[webhook.pk])

    response = admin_client.post(change, form(name="Webhook", events=["connection_down", "connection_recovered"]))

    assert response.status_code == 302
    webhook.refresh_from_db()
    assert "T0KEN-abc123" in webhook.url and webhook.events == ["connection_down", "connection_recovered"]

    admin_client.post(change, form(name="Webhook", new_url="mailto:oncall@example.com"))
    webhook.refresh_from_db()
    assert webhook.url == "mailto:oncall@example.com"
    assert "mailto:o…@example.com" in admin_client.get(LIST).content.decode()


def test_an_unsupported_or_missing_url_is_refused_with_a_clear_message_and_not_echoed(admin_client):
    response = admin_client.post(ADD, form(new_url="foo://user:s3cret-pass@host/T0KEN-abc123"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Unsupported scheme &#x27;foo&#x27;: use http(s)://… for a JSON webhook, mailto:… for e-mail" in page
    assert_no_secret(page)

    response = admin_client.post(ADD, form())
    assert "This field is required." in response.content.decode()
    assert not NotificationRule.objects.exists()

    admin_client.post(ADD, form(new_url="https://hooks.example.com/T0KEN-abc123"))
    assert NotificationRule.objects.get().url == "https://hooks.example.com/T0KEN-abc123"
