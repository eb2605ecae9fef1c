"""execution_failed, finding_opened and finding_resolved: what runs tell notifications.

A run may open thousands of findings at once (the first database_review of a large
database): each kind notifies at most NOTIFY_FINDINGS_PER_RUN findings, worst first, and one
more event says how many were left out, so a first review never floods a channel.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.text import Truncator

from notifications.events import record_event
from notifications.models import EventName, NotificationEvent
from notifications.rules import active_rules
from tasks.models import Finding, Severity, TaskExecution


def execution_failed(execution: TaskExecution) -> NotificationEvent:
    task = execution.task
    event, _ = record_event(
        key=f"execution_failed:{execution.pk}",
        event=EventName.EXECUTION_FAILED,
        severity=Severity.WARNING,
        message=f"{task.name} ({task.task_type}) run #{execution.pk} failed: {execution.error_message or '?'}",
        connection=task.connection,
        task_id=task.pk,
        execution_id=execution.pk,
        extra={"trigger": execution.trigger},
    )
    return event


def _describe(finding: Finding) -> str:
    subject = f" {Truncator(finding.subject).chars(120)}" if finding.subject else ""
    return f"{finding.category}{subject}: {Truncator(finding.message).chars(300)}"


def findings_changed(
    execution: TaskExecution, opened: list[Finding], resolved: list[Finding]
) -> list[NotificationEvent]:
    rules = active_rules()
    if not any(EventName.FINDING_OPENED in r.events or EventName.FINDING_RESOLVED in r.events for r in rules):
        return []  # nobody listens: record nothing
    task = execution.task
    connection = task.connection
    events: list[NotificationEvent] = []
    limit = settings.NOTIFY_FINDINGS_PER_RUN
    for name, findings in ((EventName.FINDING_OPENED, opened), (EventName.FINDING_RESOLVED, resolved)):
        worst_first = sorted(findings, key=lambda f: (-Severity(f.severity).rank, f.pk))
        verb = "opened" if name == EventName.FINDING_OPENED else "resolved"
        for finding in worst_first[:limit]:
            closes = None
            if name == EventName.FINDING_RESOLVED:
                closes = (
                    NotificationEvent.objects.filter(event=EventName.FINDING_OPENED, finding_id=finding.pk)
                    .order_by("-id")
                    .first()
                )
            event, _ = record_event(
                key=f"{name}:{finding.pk}:{execution.pk}",
                event=name,
                severity=finding.severity,
                message=f"{finding.severity} finding {verb} on {connection.name}: {_describe(finding)}",
                connection=connection,
                task_id=task.pk,
                execution_id=execution.pk,
                finding_id=finding.pk,
                closes=closes,
                extra={"category": finding.category, "subject": finding.subject},
                rules=rules,
            )
            events.append(event)
        rest = worst_first[limit:]
        if rest:
            event, _ = record_event(
                key=f"{name}:more:{execution.pk}",
                event=name,
                severity=rest[0].severity,
                message=(
                    f"and {len(rest)} more findings {verb} on {connection.name} by run #{execution.pk} of {task.name} "
                    f"(worst: {rest[0].severity}); see the console"
                ),
                connection=connection,
                task_id=task.pk,
                execution_id=execution.pk,
                extra={"more": len(rest)},
                rules=rules,
            )
            events.append(event)
    return events
