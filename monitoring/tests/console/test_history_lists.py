"""Console pages over tables that grow forever (runs, probes, findings) read what they show,
not the history: bounded counts, categories without a DISTINCT over every finding, dates as
a filter, a connection's latest runs task by task, the chart's days from the run's moment.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.tests.factories import ConnectionFactory
from monitoring.console import dashboard
from monitoring.console.dashboard import executions_per_day, latest_runs_of
from monitoring.console.findings import categories
from monitoring.console.kit import BoundedCountPaginator
from tasks.models import ExecutionStatus, Finding, TaskExecution
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

EXECUTIONS = reverse("admin:tasks_taskexecution_changelist")
FINDINGS = reverse("admin:tasks_finding_changelist")
STATUSES = reverse("admin:connections_connectionstatus_changelist")


@pytest.fixture
def count_limit_3(monkeypatch):
    monkeypatch.setattr(BoundedCountPaginator, "count_limit", 3)


def test_a_history_list_stops_counting_at_its_limit_and_says_more_than(admin_client, count_limit_3):
    TaskExecutionFactory.create_batch(5)

    with CaptureQueriesContext(db_connection) as captured:
        response = admin_client.get(EXECUTIONS)

    page = response.content.decode()
    assert "more than 3 task executions" in page and "more than 3 results" in page
    assert response.context["cl"].result_count == 3
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 4" in sql for sql in counts)  # never a count of the whole table
    assert "Select all 3" not in page  # "all N" would name the bounded count


def test_a_history_list_under_its_limit_gives_the_exact_count(admin_client, count_limit_3):
    TaskExecutionFactory.create_batch(2)
    FindingFactory.create_batch(3)

    executions = admin_client.get(EXECUTIONS).content.decode()
    findings = admin_client.get(FINDINGS).content.decode()

    # The findings' factory runs add three executions of their own.
    assert "more than" not in findings and "3 findings" in findings
    assert "more than 3 task executions" in executions


def test_the_category_filter_lists_each_category_once_in_order(admin_client):
    for category in ("deadlock", "auth_failure", "deadlock", "temp_files", "auth_failure"):
        FindingFactory(category=category)

    assert categories() == ["auth_failure", "deadlock", "temp_files"]
    response = admin_client.get(f"{FINDINGS}?category=deadlock")
    assert {f.category for f in response.context["cl"].result_list} == {"deadlock"}
    assert len(response.context["cl"].result_list) == 2
    assert "?category=temp_files" in response.content.decode()


def test_findings_and_probes_are_filtered_by_date_instead_of_a_date_hierarchy(admin_client):
    old, new = FindingFactory(), FindingFactory()
    Finding.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))

    page = admin_client.get(FINDINGS).content.decode()
    past_week = html.unescape(re.search(r'<a href="(\?created_at__gte=[^"]+)">Past 7 days</a>', page).group(1))
    recent = admin_client.get(FINDINGS + past_week)

    assert "Past 7 days" in admin_client.get(STATUSES).content.decode()
    assert [f.pk for f in recent.context["cl"].result_list] == [new.pk]


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_a_connections_latest_runs_come_from_each_of_its_tasks_newest_first(monkeypatch, vendor):
    # SQLite (the local default) has no arrays: its path, a query per task, runs here too.
    monkeypatch.setattr(dashboard.db_connection, "vendor", vendor)
    connection = ConnectionFactory()
    nightly, hourly = TaskFactory(connection=connection), TaskFactory(connection=connection)
    TaskExecutionFactory(task=TaskFactory())  # another connection's
    runs = [TaskExecutionFactory(task=nightly if n % 3 else hourly) for n in range(15)]
    TaskExecutionFactory(task=TaskFactory())

    with CaptureQueriesContext(db_connection) as captured:
        latest = latest_runs_of(connection)

    assert [run.pk for run in latest] == [run.pk for run in reversed(runs)][:10]
    # Its tasks' newest run ids, then those runs (SQLite: the tasks, then a query per task).
    assert len(captured.captured_queries) == (2 if vendor == "postgresql" else 4)
    assert latest_runs_of(ConnectionFactory()) == []


def test_a_run_counts_on_the_day_it_started_or_was_queued():
    now = timezone.now()
    queued_long_ago = TaskExecutionFactory(status=ExecutionStatus.COMPLETED)
    TaskExecution.objects.filter(pk=queued_long_ago.pk).update(
        created_at=now - timedelta(days=20), started_at=now - timedelta(days=1)
    )
    TaskExecutionFactory(status=ExecutionStatus.PENDING)  # queued now, not started

    days, counts = executions_per_day(TaskExecution.objects.all(), now)

    yesterday = (now - timedelta(days=1)).date()
    assert counts == {yesterday: {"completed": 1}, now.date(): {"pending": 1}}
