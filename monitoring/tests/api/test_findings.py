"""GET /tasks/executions/{id}/findings and GET /findings: what the reviews found."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API, assert_json_error
from tasks.findings import Coverage, Observed, record_findings
from tasks.models import Finding
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory

FIELDS = [
    "id",
    "execution_id",
    "task_id",
    "connection_id",
    "severity",
    "category",
    "subject",
    "state",
    "message",
    "remedy",
    "count",
    "first_seen",
    "last_seen",
    "resolved_at",
    "database",
    "user",
    "sample",
    "details",
    "created_at",
]


def finding(execution, **fields) -> Finding:
    values = {
        "severity": "warning",
        "category": "deadlock",
        "message": "2 deadlocks",
        "count": 2,
    }
    return FindingFactory(execution=execution, **{**values, **fields})


@pytest.fixture
def run(db):
    return TaskExecutionFactory(task=TaskFactory(task_type="log_analysis"))


def test_it_lists_the_findings_of_one_execution_newest_first(reader, run):
    older = finding(
        run,
        first_seen=datetime(2024, 1, 1, 2, 0, 0, 300000, tzinfo=UTC),
        last_seen=datetime(2024, 1, 1, 3, 0, tzinfo=UTC),
        database="shop",
        user="app",
        sample="ERROR:  deadlock detected",
        details={"pids": [1, 2]},
    )
    newer = finding(run, severity="critical", category="crash", message="server process was terminated", count=1)
    finding(TaskExecutionFactory(task=run.task))  # another run's

    body = reader.get(f"{API}/tasks/executions/{run.id}/findings").json()

    assert [item["id"] for item in body] == [newer.id, older.id]
    assert list(body[1]) == FIELDS
    assert body[1] | {"created_at": None} == {
        "id": older.id,
        "execution_id": run.id,
        "task_id": run.task_id,
        "connection_id": run.task.connection_id,
        "severity": "warning",
        "category": "deadlock",
        "subject": "",
        "state": "open",
        "message": "2 deadlocks",
        "remedy": "",
        "count": 2,
        "first_seen": "2024-01-01T02:00:00Z",
        "last_seen": "2024-01-01T03:00:00Z",
        "resolved_at": None,
        "database": "shop",
        "user": "app",
        "sample": "ERROR:  deadlock detected",
        "details": {"pids": [1, 2]},
        "created_at": None,
    }
    assert body[1]["created_at"].endswith("Z")


def test_an_unknown_execution_is_a_404(reader):
    assert assert_json_error(reader.get(f"{API}/tasks/executions/999999/findings"), 404) == "Execution not found."
    assert_json_error(reader.get(f"{API}/tasks/executions/abc/findings"), 404)


def test_findings_filter_by_connection_severity_and_category(reader, run):
    other = TaskExecutionFactory(task=TaskFactory(connection=ConnectionFactory()))
    wanted = finding(run, severity="critical", category="data_corruption")
    finding(run, severity="warning", category="data_corruption")
    finding(run, severity="critical", category="crash")
    finding(other, severity="critical", category="data_corruption")

    params = {"connection_id": run.task.connection_id, "severity": "critical", "category": "data_corruption"}
    body = reader.get(f"{API}/findings", params).json()

    assert [item["id"] for item in body] == [wanted.id]


def test_the_findings_list_is_newest_first_and_limited(reader, run):
    made = [finding(run) for _ in range(5)]

    body = reader.get(f"{API}/findings", {"limit": 3}).json()

    assert [item["id"] for item in body] == [f.id for f in reversed(made)][:3]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"severity": "high"}, "severity must be one of info, warning, critical"),
        ({"connection_id": "x"}, "connection_id must be an integer"),
        ({"category": "DROP TABLE"}, "category must be a category name"),
        ({"state": "closed"}, "state must be one of open, resolved"),
        ({"task_id": "1.5"}, "task_id must be an integer"),
        ({"limit": "0"}, "limit must be a whole number"),
    ],
)
def test_malformed_filters_are_a_400(reader, params, message):
    assert message in assert_json_error(reader.get(f"{API}/findings", params), 400)


def test_findings_need_an_authenticated_reader(anonymous, run):
    assert_json_error(anonymous.get(f"{API}/findings"), 401)
    assert_json_error(anonymous.get(f"{API}/tasks/executions/{run.id}/findings"), 401)


def test_findings_cost_the_same_queries_for_many_rows(reader, run, django_assert_max_num_queries):
    for _ in range(3):
        finding(run)
    with django_assert_max_num_queries(4):
        reader.get(f"{API}/findings")
    for _ in range(30):
        finding(TaskExecutionFactory(task=run.task))
    with django_assert_max_num_queries(4):
        assert len(reader.get(f"{API}/findings").json()) == 33
    with django_assert_max_num_queries(5):
        reader.get(f"{API}/tasks/executions/{run.id}/findings")


def test_findings_match_the_schema(reader, run, check):
    finding(run, first_seen=datetime(2024, 1, 1, tzinfo=UTC), details={"sqlstate": "40P01"})
    check(reader.get(f"{API}/findings"), "findings", "get")
    check(reader.get(f"{API}/tasks/executions/{run.id}/findings"), "tasks/executions/{execution_id}/findings", "get")
    check(reader.get(f"{API}/findings", {"severity": "x"}), "findings", "get")
    check(reader.get(f"{API}/tasks/executions/99999/findings"), "tasks/executions/{execution_id}/findings", "get")


def test_findings_filter_by_state_and_task(reader, run):
    other_task = TaskExecutionFactory(task=TaskFactory(connection=run.task.connection))
    still_open = finding(run, subject="public.orders_idx")
    gone = finding(run, state="resolved", resolved_at=datetime(2024, 1, 2, tzinfo=UTC))
    elsewhere = finding(other_task)

    def ids(**params):
        return [item["id"] for item in reader.get(f"{API}/findings", params).json()]

    assert ids(state="open") == [elsewhere.id, still_open.id]
    assert ids(state="resolved") == [gone.id]
    assert ids(task_id=run.task_id) == [gone.id, still_open.id]
    assert ids(task_id=run.task_id, state="open") == [still_open.id]
    [resolved] = reader.get(f"{API}/findings", {"state": "resolved"}).json()
    assert resolved["resolved_at"] == "2024-01-02T00:00:00Z"


def test_a_run_lists_what_it_saw_with_its_own_counts(reader, run):
    """One tracked finding seen by two runs: /findings has it once with the latest counts;
    each run's list keeps that run's own count and message."""
    task = run.task
    second = TaskExecutionFactory(task=task)
    observed = {"severity": "warning", "category": "deadlock", "subject": "", "message": "3 deadlock(s)"}
    record_findings(run, [Observed(**observed, count=3)], Coverage({None: {"deadlock"}}))
    record_findings(
        second, [Observed(**{**observed, "message": "1 deadlock(s)"}, count=1)], Coverage({None: {"deadlock"}})
    )

    [tracked] = reader.get(f"{API}/findings").json()
    assert (tracked["execution_id"], tracked["count"], tracked["message"]) == (second.id, 1, "1 deadlock(s)")
    [first_view] = reader.get(f"{API}/tasks/executions/{run.id}/findings").json()
    assert (first_view["id"], first_view["execution_id"], first_view["count"]) == (tracked["id"], run.id, 3)
    assert first_view["message"] == "3 deadlock(s)"
    assert first_view["state"] == "open"
