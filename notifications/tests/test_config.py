"""The `notifications:` section of `manage.py apply_config`: rules upserted by name, checked
with the rest of the file (every error at once, never echoing a URL), all or nothing."""

from __future__ import annotations

import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from connections.models import Connection
from connections.tests.factories import ConnectionFactory
from notifications.models import NotificationRule

pytestmark = pytest.mark.django_db

ALL_EVENTS = ["connection_down", "connection_recovered", "execution_failed", "finding_opened", "finding_resolved"]

ISSUE_EXAMPLE = """
connections:
  - name: Production DB
    host: prod-db.example.com
    database: myapp
notifications:
  - name: On-call webhook
    url: http://alerts.internal:9000/hook   # http(s) = JSON webhook
    events: [connection_down, connection_recovered, execution_failed, finding_opened, finding_resolved]
    min_severity: warning                   # for finding events; default warning
    connections: [Production DB]            # optional; default all
  - name: Ops mail
    url: mailto:ops@example.com
    events: [connection_down]
  - name: Chat
    url: tgram://123456789:AAH-secret-bot-token/987654321
    events: [execution_failed]
    min_severity: critical
"""


@pytest.fixture
def write(tmp_path):
    def write(text: str) -> Path:
        path = tmp_path / "config.yml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


def apply(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("apply_config", str(path), *args, stdout=out)
    return out.getvalue()


def rejected(path: Path) -> str:
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    return str(excinfo.value)


def test_it_creates_the_issue_example_then_changes_nothing_the_second_time(write):
    path = write(ISSUE_EXAMPLE)

    assert "notifications: 3 created, 0 updated, 0 unchanged" in apply(path)

    webhook = NotificationRule.objects.get(name="On-call webhook")
    assert (webhook.url, webhook.events, webhook.min_severity) == (
        "http://alerts.internal:9000/hook",
        ALL_EVENTS,
        "warning",
    )
    assert [c.name for c in webhook.connections.all()] == ["Production DB"]
    mail = NotificationRule.objects.get(name="Ops mail")
    assert (list(mail.connections.all()), mail.min_severity, mail.is_active) == ([], "warning", True)
    assert NotificationRule.objects.get(name="Chat").min_severity == "critical"

    assert "notifications: 0 created, 0 updated, 3 unchanged" in apply(path)


def test_a_changed_rule_is_updated_and_a_key_left_out_goes_back_to_its_default(write):
    apply(write(ISSUE_EXAMPLE))
    other = ConnectionFactory(name="Reporting DB")
    changed = ISSUE_EXAMPLE.replace("connections: [Production DB]", "connections: [Reporting DB]").replace(
        "    min_severity: critical\n", ""
    )

    out = apply(write(changed))

    assert "notifications: 0 created, 2 updated, 1 unchanged" in out
    assert list(NotificationRule.objects.get(name="On-call webhook").connections.all()) == [other]
    assert NotificationRule.objects.get(name="Chat").min_severity == "warning"


def test_a_dry_run_writes_nothing(write):
    out = apply(write(ISSUE_EXAMPLE), "--dry-run")
    assert "dry run, nothing applied: notifications: 3 created" in out
    assert not NotificationRule.objects.exists() and not Connection.objects.exists()


def test_every_error_is_reported_at_once_and_nothing_is_applied(write):
    text = """
    connections:
      - name: Good DB
        host: db.example.com
        database: app
    notifications:
      - name: Bad scheme
        url: foo://user:pa55word-in-url@host/T0KEN-in-path
        events: [connection_down]
      - name: Bad event
        url: https://hooks.example.com/services/T0KEN-in-path
        events: [connection_down, disk_full]
      - name: Bad connection
        url: mailto:ops@example.com
        events: [connection_down]
        connections: [Nowhere DB]
        min_severity: fatal
      - name: No events
        url: https://hooks.example.com/x
      - name: Broken chat
        url: tgram://
        events: [connection_down]
    """
    message = rejected(write(text))

    assert "notifications[0] \"Bad scheme\": url: Unsupported scheme 'foo'" in message
    assert 'notifications[1] "Bad event": events: Unknown event(s) disk_full; valid events: connection_down,' in message
    assert "notifications[2] \"Bad connection\": connections: no connection named 'Nowhere DB'" in message
    assert "notifications[2] \"Bad connection\": min_severity: Value 'fatal' is not a valid choice." in message
    assert 'notifications[3] "No events": events: required' in message
    assert 'notifications[4] "Broken chat": url: The tgram:// URL is incomplete or malformed' in message
    for secret in ("pa55word-in-url", "T0KEN-in-path"):
        assert secret not in message
    assert not Connection.objects.exists() and not NotificationRule.objects.exists()


def test_wrong_yaml_types_are_named(write):
    text = """
    notifications:
      - name: Typed
        url: https://hooks.example.com/x
        events: connection_down
        connections: Production DB
        is_active: "yes"
    """
    message = rejected(write(text))
    assert 'notifications[0] "Typed": events: must be a list, not the string' in message
    assert 'notifications[0] "Typed": connections: must be a list, not the string' in message
    assert 'notifications[0] "Typed": is_active: must be true or false' in message
