"""GET /tasks/running: running executions with an estimate from the task's recent runs."""

from __future__ import annotations

from datetime import UTC, datetime

from monitoring.tests.conftest import API
from tasks.models import ExecutionStatus
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

URL = f"{API}/tasks/running"


def completed(task, seconds: float, status: str = ExecutionStatus.COMPLETED):
    return TaskExecutionFactory(task=task, status=status, duration_seconds=seconds)


def running(task, started_at=None):
    return TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, started_at=started_at or datetime.now(UTC))


def test_it_lists_running_executions_described_by_their_task(reader):
    task = TaskFactory(name="Daily Log Analysis")
    for seconds in (240, 300, 360):
        completed(task, seconds)
    execution = running(task, started_at=datetime(2024, 1, 1, 2, 0, 0, 750000, tzinfo=UTC))
    TaskExecutionFactory(task=task)  # pending: not running yet

    response = reader.get(URL)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": task.id,
            "name": "Daily Log Analysis",
            "task_type": "health_check",
            "connection_id": task.connection_id,
            "execution_id": execution.id,
            "execution_started_at": "2024-01-01T02:00:00Z",
            "estimated_duration": "5 minutes",
        }
    ]


def test_two_runs_of_one_task_are_two_items_newest_first(reader):
    task = TaskFactory()
    older, newer = running(task), running(task)

    assert [item["execution_id"] for item in reader.get(URL).json()] == [newer.id, older.id]


def test_the_estimate_is_the_mean_of_the_middle_two_for_an_even_count(reader):
    task = TaskFactory()
    for seconds in (10, 20, 40, 1000):
        completed(task, seconds)
    running(task)

    [item] = reader.get(URL).json()

    assert item["estimated_duration"] == "30 seconds"


def test_the_estimate_uses_only_the_last_ten_completed_runs(reader):
    task = TaskFactory()
    for _ in range(5):
        completed(task, 7200)  # older: outside the sample
    for _ in range(10):
        completed(task, 4200)
    running(task)

    [item] = reader.get(URL).json()

    assert item["estimated_duration"] == "1 hour 10 minutes"


def test_failed_runs_do_not_count_towards_the_estimate(reader):
    task = TaskFactory()
    completed(task, 45)
    completed(task, 3, status=ExecutionStatus.FAILED)
    running(task)

    [item] = reader.get(URL).json()

    assert item["estimated_duration"] == "45 seconds"


def test_a_task_that_never_completed_has_no_estimate(reader):
    running(TaskFactory())

    [item] = reader.get(URL).json()

    assert item["estimated_duration"] is None


def test_each_task_gets_its_own_estimate(reader):
    quick, slow = TaskFactory(), TaskFactory()
    completed(quick, 1)
    completed(slow, 7200)
    running(quick)
    running(slow)

    estimates = {item["id"]: item["estimated_duration"] for item in reader.get(URL).json()}

    assert estimates == {quick.id: "1 second", slow.id: "2 hours"}


def test_nothing_running_gives_an_empty_list(reader):
    completed(TaskFactory(), 10)

    assert reader.get(URL).json() == []
