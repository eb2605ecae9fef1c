"""Findings in the admin: read-only, filtered by severity, category and connection."""

from __future__ import annotations

import pytest

from connections.tests.factories import ConnectionFactory
from tasks.models import Finding
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/tasks/finding/"


def finding(execution, **fields) -> Finding:
    values = {"severity": "warning", "category": "deadlock"}
    return FindingFactory(
        execution=execution, message=fields.pop("message", "deadlock detected"), **{**values, **fields}
    )


def test_the_findings_list_filters_by_severity_category_and_connection(admin_client):
    run = TaskExecutionFactory(task=TaskFactory(task_type="log_analysis"))
    other = TaskExecutionFactory(task=TaskFactory(connection=ConnectionFactory(name="reporting")))
    finding(run, severity="critical", category="data_corruption", message="invalid page in block 7")
    finding(run, message="deadlock detected between 2 sessions")
    finding(other, severity="critical", category="data_corruption", message="checksum failure on reporting")

    page = admin_client.get(
        CHANGELIST, {"severity__exact": "critical", "connection__id__exact": run.task.connection_id}
    )

    assert page.status_code == 200
    text = page.content.decode()
    assert "invalid page in block 7" in text
    assert "deadlock detected between" not in text and "checksum failure on reporting" not in text
    assert "deadlock detected between" in admin_client.get(CHANGELIST, {"category": "deadlock"}).content.decode()


def test_the_severity_column_sorts_by_how_bad_not_by_the_name(admin_client):
    run = TaskExecutionFactory()
    for severity in ("warning", "critical", "info"):
        finding(run, severity=severity)
    column = admin_client.get(CHANGELIST).context["cl"].list_display.index("severity_badge")

    def severities(order: str) -> list[str]:
        return [row.severity for row in admin_client.get(CHANGELIST, {"o": order}).context["cl"].result_list]

    assert severities(f"-{column}") == ["critical", "warning", "info"]
    assert severities(f"{column}") == ["info", "warning", "critical"]


def test_a_finding_page_shows_its_details_and_links_its_run(admin_client):
    run = TaskExecutionFactory(task=TaskFactory(task_type="log_analysis"))
    row = finding(run, details={"sqlstate": "40P01"}, sample="ERROR:  deadlock detected")

    text = admin_client.get(f"{CHANGELIST}{row.id}/change/").content.decode()

    assert "40P01" in text and "deadlock detected" in text
    assert f"/admin/tasks/taskexecution/{run.id}/change/" in text


def test_the_execution_page_links_to_the_findings_of_its_connection(admin_client):
    run = TaskExecutionFactory(task=TaskFactory(task_type="log_analysis"))
    finding(run)

    text = admin_client.get(f"/admin/tasks/taskexecution/{run.id}/change/").content.decode()

    assert f"{CHANGELIST}?connection__id__exact={run.task.connection_id}" in text


def test_findings_are_read_only(admin_client):
    row = finding(TaskExecutionFactory())

    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    response = admin_client.post(f"{CHANGELIST}{row.id}/change/", {"message": "edited"})
    assert response.status_code == 403
    assert Finding.objects.get(pk=row.pk).message == "deadlock detected"


def test_the_findings_list_filters_by_state(admin_client):
    run = TaskExecutionFactory(task=TaskFactory(task_type="database_review"))
    finding(run, category="duplicate_index", subject="public.still_there_idx")
    finding(run, category="duplicate_index", subject="public.dropped_idx", state="resolved")

    open_page = admin_client.get(CHANGELIST, {"state__exact": "open"}).content.decode()
    resolved_page = admin_client.get(CHANGELIST, {"state__exact": "resolved"}).content.decode()

    assert "public.still_there_idx" in open_page and "public.dropped_idx" not in open_page
    assert "public.dropped_idx" in resolved_page and "public.still_there_idx" not in resolved_page
