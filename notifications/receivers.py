"""The signals of the lower apps, connected by NotificationsConfig.ready(): connections and
tasks never import notifications, they only say what happened."""

from __future__ import annotations

from connections.signals import probe_recorded
from notifications import connection_state, run_events
from tasks.signals import execution_failed, findings_changed


def on_probe_recorded(sender, statuses, **kwargs) -> None:
    connection_state.record_statuses(statuses)


def on_execution_failed(sender, execution, **kwargs) -> None:
    run_events.execution_failed(execution)


def on_findings_changed(sender, execution, opened, resolved, **kwargs) -> None:
    run_events.findings_changed(execution, opened, resolved)


def connect() -> None:
    probe_recorded.connect(on_probe_recorded, dispatch_uid="notifications.probe_recorded")
    execution_failed.connect(on_execution_failed, dispatch_uid="notifications.execution_failed")
    findings_changed.connect(on_findings_changed, dispatch_uid="notifications.findings_changed")
