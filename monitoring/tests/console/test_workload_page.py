"""The workload report page of a log_analysis run: reached from the run's page and from the
task's recent runs, its charts and tables drawn from the stored result, and who may see it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from monitoring.tests.console.workload_day import LONG_QUERY, log_analysis_run
from tasks.models import ExecutionStatus
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def report_url(execution) -> str:
    return reverse("admin:tasks_taskexecution_workload", args=[execution.pk])


@pytest.fixture
def run():
    return log_analysis_run(TaskFactory(name="orders log", task_type="log_analysis"))


def test_the_report_shows_the_day_in_charts_and_tables(admin_client, run):
    page = admin_client.get(report_url(run)).content.decode()

    charts = re.findall(r"<svg [^>]*class=\"rv-chart\".*?</svg>", page, re.DOTALL)
    titles = [ET.fromstring(svg).find("{http://www.w3.org/2000/svg}title").text for svg in charts]
    assert titles == [
        "Queries per hour",
        "Query time per hour",
        "Errors per hour",
        "Connections, sessions per hour",
        "Checkpoints per hour",
        "Checkpoint buffers per hour",
        "Temp files per hour",
        "Autovacuum runs per hour",
    ]
    assert "4,392 in all, peak 313 at 08:00" in charts[0]
    facts = page.split('id="report-panel"')[1].split("</section>")[0]
    assert "4,392" in facts and "24 distinct" not in facts
    by_count = page.split('id="top-by-count"')[1].split("</table>")[0]
    assert "update accounts set balance = balance + ? where id = ?" in by_count
    assert "select balance from accounts where id in (?)" in by_count
    assert "1,092" in by_count
    mix = page.split('id="query-mix"')[1].split("</table>")[0]
    assert 'UPDATE</td><td class="rv-num">1,092' in mix
    connections = page.split('id="connections"')[1].split('id="checkpoints"')[0]
    for name in ("metabase", "10.0.0.2", "dw", "report"):
        assert name in connections
    assert "time" in page.split('id="checkpoints"')[1].split("</table>")[0]  # started because: time
    assert "shop.public.accounts" in page.split('id="autovacuum"')[1]
    assert "division by zero" in page.split('id="errors"')[1]


def test_query_text_is_normalized_and_wraps(admin_client, run):
    page = admin_client.get(report_url(run)).content.decode()

    temp = page.split('id="temp-files"')[1].split("</table>")[0]
    assert '<code class="rv-sql">select o.id, o.customer_id' in temp
    assert "2026-11-01" not in page  # the literal of LONG_QUERY
    assert "2026-11-01" in LONG_QUERY


def test_the_runs_page_and_the_tasks_recent_runs_link_to_it(admin_client, run):
    execution_page = admin_client.get(reverse("admin:tasks_taskexecution_change", args=[run.pk])).content.decode()
    task_page = admin_client.get(reverse("admin:tasks_task_change", args=[run.task_id])).content.decode()

    assert f'id="workload-report" href="{report_url(run)}"' in execution_page
    assert f'<a href="{report_url(run)}">workload</a>' in task_page.split("Recent executions")[1]


def test_a_run_without_a_report_says_why(admin_client):
    health = TaskExecutionFactory(status=ExecutionStatus.COMPLETED, result={"is_healthy": True})
    failed = TaskExecutionFactory(
        task=TaskFactory(task_type="log_analysis"), status=ExecutionStatus.FAILED, error_message="no log files"
    )

    for execution in (health, failed):
        response = admin_client.get(report_url(execution))
        assert response.status_code == 200
        assert 'id="no-report"' in response.content.decode()
    page = admin_client.get(reverse("admin:tasks_taskexecution_change", args=[health.pk])).content.decode()
    assert 'id="workload-report"' not in page


def test_only_staff_who_may_view_executions_see_it(client, run):
    assert client.get(report_url(run)).status_code == 302  # to the login page
    user = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    client.force_login(user)
    assert client.get(report_url(run)).status_code == 403
    user.user_permissions.set(Permission.objects.filter(codename="view_taskexecution"))
    assert client.get(report_url(run)).status_code == 200


def test_an_unknown_run_is_404(admin_client):
    assert admin_client.get(reverse("admin:tasks_taskexecution_workload", args=[987654])).status_code == 404
