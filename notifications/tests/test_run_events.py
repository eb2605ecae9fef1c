"""execution_failed, finding_opened and finding_resolved, from the tasks app's signals: sent
after the run's transaction commits, once, and filtered by each rule's minimum severity."""

from __future__ import annotations

import pytest
from django.db import transaction

from notifications.models import Delivery, NotificationEvent, NotificationRule
from tasks.findings import Coverage, Observed, record_findings
from tasks.runner import fail_execution
from tasks.tests.factories import TaskExecutionFactory

pytestmark = pytest.mark.django_db


def rule(name: str, events: list[str], **fields) -> NotificationRule:
    return NotificationRule.objects.create(name=name, url="http://127.0.0.1:9/hook", events=events, **fields)


def test_a_failed_execution_is_one_event_however_often_it_is_failed(django_capture_on_commit_callbacks):
    rule("runs", ["execution_failed"])
    execution = TaskExecutionFactory(task__name="Nightly", task__connection__name="Prod")

    with django_capture_on_commit_callbacks(execute=True):
        assert fail_execution(execution.pk, "could not connect")
        assert not fail_execution(execution.pk, "again")  # already failed: no second event

    (event,) = NotificationEvent.objects.all()
    assert event.event == "execution_failed"
    assert (event.task_id, event.execution_id, event.connection_name) == (execution.task_id, execution.pk, "Prod")
    assert event.message == f"Nightly (health_check) run #{execution.pk} failed: could not connect"
    assert Delivery.objects.filter(event=event).count() == 1


def test_a_rolled_back_failure_notifies_nobody(django_capture_on_commit_callbacks):
    rule("runs", ["execution_failed"])
    execution = TaskExecutionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            fail_execution(execution.pk, "boom")
            transaction.set_rollback(True)
    assert not NotificationEvent.objects.exists()


def observed(severity: str, subject: str) -> Observed:
    return Observed(severity=severity, category="deadlock", subject=subject, message=f"{subject} happened")


def test_findings_open_and_resolve_at_or_above_the_rules_minimum(django_capture_on_commit_callbacks):
    critical_only = rule("pager", ["finding_opened", "finding_resolved"], min_severity="critical")
    warnings = rule("chat", ["finding_opened"])  # default minimum: warning
    first = TaskExecutionFactory(task__connection__name="Prod")
    looked = Coverage({None: {"deadlock"}})

    with django_capture_on_commit_callbacks(execute=True):
        record_findings(first, [observed("critical", "a"), observed("warning", "b"), observed("info", "c")], looked)

    opened = {e.finding_id: e for e in NotificationEvent.objects.filter(event="finding_opened")}
    assert sorted(e.severity for e in opened.values()) == ["critical", "info", "warning"]
    assert sorted(Delivery.objects.filter(rule=critical_only).values_list("event__severity", flat=True)) == ["critical"]
    assert sorted(Delivery.objects.filter(rule=warnings).values_list("event__severity", flat=True)) == [
        "critical",
        "warning",
    ]

    later = TaskExecutionFactory(task=first.task)
    with django_capture_on_commit_callbacks(execute=True):
        record_findings(later, [], looked)  # looked, saw nothing: all three resolved

    resolved = NotificationEvent.objects.filter(event="finding_resolved")
    assert resolved.count() == 3
    (paged,) = Delivery.objects.filter(rule=critical_only, event__event="finding_resolved")
    closes = opened[paged.event.finding_id]
    assert paged.event.closes == closes and paged.event.payload["resolves"] == str(closes.uuid)
    assert not Delivery.objects.filter(rule=warnings, event__event="finding_resolved").exists()


def test_a_run_that_opens_many_findings_notifies_the_worst_and_counts_the_rest(
    settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_FINDINGS_PER_RUN = 3
    rule("chat", ["finding_opened"], min_severity="info")
    run = TaskExecutionFactory(task__connection__name="Prod")
    many = [observed("info", f"i{n}") for n in range(10)] + [observed("critical", "worst")]

    with django_capture_on_commit_callbacks(execute=True):
        record_findings(run, many, Coverage({None: {"deadlock"}}))

    events = list(NotificationEvent.objects.order_by("id"))
    assert len(events) == 4
    assert events[0].severity == "critical"
    assert events[-1].finding_id is None
    assert events[-1].message.startswith(f"and 8 more findings opened on Prod by run #{run.pk}")


def test_no_rule_listening_for_findings_records_no_finding_event(django_capture_on_commit_callbacks):
    rule("runs", ["execution_failed"])
    with django_capture_on_commit_callbacks(execute=True):
        record_findings(TaskExecutionFactory(), [observed("critical", "a")], Coverage({None: {"deadlock"}}))
    assert not NotificationEvent.objects.exists()
