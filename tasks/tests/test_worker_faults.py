"""Runs end, and end once, when workers are killed or runs overrun their time limit.

A health check of a black-holed host (a listener that never answers) keeps a real worker
busy for its whole connect_timeout: the run is genuinely in progress when the fault hits.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tasks.models import ExecutionStatus, TaskExecution
from tasks.reaper import reap_lost_runs
from tasks.runner import start_execution
from tasks.tests.factories import TaskFactory
from testing.wait import wait_for
from testing.worker import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fast_worker(transactional_db):
    proc = WorkerProcess(extra_env={"EXECUTION_HEARTBEAT_SECONDS": "1"}).start()
    yield proc
    proc.stop()


def status_of(execution_id: int) -> str:
    return TaskExecution.objects.get(pk=execution_id).status


def test_a_run_over_its_time_limit_fails_as_timed_out(fast_worker, blackhole):
    task = TaskFactory(connection__port=blackhole.port, connection__connect_timeout=60, timeout_seconds=2)

    execution = start_execution(task)

    wait_for(lambda: status_of(execution.id) == ExecutionStatus.FAILED, timeout=45)
    done = TaskExecution.objects.get(pk=execution.id)
    assert done.error_message == "timed out after 2 s"
    assert done.duration_seconds < 30


@pytest.mark.parametrize("victim", ["pool process", "whole worker"])
def test_a_run_whose_worker_is_killed_ends_failed_as_worker_lost(fast_worker, blackhole, settings, victim):
    settings.EXECUTION_LOST_AFTER_SECONDS = 3
    task = TaskFactory(connection__port=blackhole.port, connection__connect_timeout=120, timeout_seconds=600)
    execution = start_execution(task)
    wait_for(lambda: status_of(execution.id) == ExecutionStatus.RUNNING, timeout=30)

    if victim == "pool process":
        for pid in fast_worker.child_pids():
            os.kill(pid, signal.SIGKILL)
    else:
        os.killpg(fast_worker.proc.pid, signal.SIGKILL)

    # While the heartbeat is fresh the run is not given up; once it stops, the reaper ends it.
    wait_for(lambda: reap_lost_runs() == 1, timeout=30, interval=0.5)
    done = TaskExecution.objects.get(pk=execution.id)
    assert done.status == ExecutionStatus.FAILED
    assert done.error_message.startswith("worker lost: no heartbeat from")
    assert done.completed_at is not None
    assert reap_lost_runs() == 0


def test_the_reaper_leaves_a_run_with_a_live_heartbeat_alone(fast_worker, blackhole, settings):
    settings.EXECUTION_LOST_AFTER_SECONDS = 3
    task = TaskFactory(connection__port=blackhole.port, connection__connect_timeout=8, timeout_seconds=600)
    execution = start_execution(task)
    wait_for(lambda: status_of(execution.id) == ExecutionStatus.RUNNING, timeout=30)

    for _ in range(10):  # five seconds of a long but healthy run
        assert reap_lost_runs() == 0
        time.sleep(0.5)

    wait_for(lambda: status_of(execution.id) == ExecutionStatus.FAILED, timeout=30)
    assert TaskExecution.objects.get(pk=execution.id).error_message == "connection timeout expired"
