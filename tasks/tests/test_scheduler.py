"""Scheduled runs: each due slot exactly once, missed slots collapse, edits apply at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from tasks.models import ExecutionStatus, TaskExecution, Trigger
from tasks.scheduler import dispatch_due_tasks
from tasks.tests.factories import TaskFactory
from testing.worker import ROOT, database_url_for_test_db

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_scheduled_task_gets_its_next_slot_when_saved():
    task = TaskFactory(schedule="0 2 * * *")

    assert task.next_run_at is not None
    assert (task.next_run_at.hour, task.next_run_at.minute) == (2, 0)
    assert task.next_run_at > timezone.now()


def test_a_manual_task_has_no_next_slot():
    assert TaskFactory(schedule="").next_run_at is None


def test_editing_the_schedule_moves_the_next_slot_without_a_restart():
    task = TaskFactory(schedule="0 2 * * *")
    task.schedule = "30 4 * * *"
    task.save()

    task.refresh_from_db()
    assert (task.next_run_at.hour, task.next_run_at.minute) == (4, 30)


def test_deactivating_a_task_clears_its_next_slot():
    task = TaskFactory(schedule="*/5 * * * *")
    task.is_active = False
    task.save(update_fields=["is_active"])

    task.refresh_from_db()
    assert task.next_run_at is None


def test_a_due_task_gets_one_scheduled_run_and_its_next_slot_moves_on():
    task = TaskFactory(schedule="*/5 * * * *")
    now = timezone.now()
    type(task).objects.filter(pk=task.pk).update(next_run_at=now - timedelta(seconds=1))

    created = dispatch_due_tasks(now=now)

    assert len(created) == 1
    execution = TaskExecution.objects.get(pk=created[0])
    assert execution.trigger == Trigger.SCHEDULED
    assert execution.status in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.COMPLETED)
    task.refresh_from_db()
    assert task.next_run_at > now
    assert dispatch_due_tasks(now=now) == []


def test_slots_missed_while_down_run_once_on_recovery():
    task = TaskFactory(schedule="* * * * *")
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    type(task).objects.filter(pk=task.pk).update(next_run_at=now - timedelta(hours=3))  # 180 slots missed

    assert len(dispatch_due_tasks(now=now)) == 1
    assert dispatch_due_tasks(now=now) == []
    task.refresh_from_db()
    assert task.next_run_at == datetime(2026, 1, 1, 12, 1, tzinfo=UTC)


def test_an_inactive_task_is_not_dispatched():
    task = TaskFactory(schedule="* * * * *")
    type(task).objects.filter(pk=task.pk).update(next_run_at=timezone.now() - timedelta(minutes=1), is_active=False)

    assert dispatch_due_tasks() == []


def test_two_dispatchers_racing_create_exactly_one_run_per_due_slot():
    tasks = [TaskFactory(schedule="*/10 * * * *") for _ in range(5)]
    rounds = 20
    for round_number in range(rounds):
        due_at = timezone.now() - timedelta(seconds=1)
        type(tasks[0]).objects.filter(pk__in=[t.pk for t in tasks]).update(next_run_at=due_at)
        barrier = threading.Barrier(2)
        created: list[list[int]] = [[], []]

        def dispatcher(index: int, barrier=barrier, created=created) -> None:
            try:
                barrier.wait()
                created[index] = dispatch_due_tasks()
            finally:
                db_connection.close()  # each thread has its own database connection

        threads = [threading.Thread(target=dispatcher, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(created[0]) + len(created[1]) == len(tasks), f"round {round_number}: {created}"
    assert TaskExecution.objects.filter(trigger=Trigger.SCHEDULED).count() == rounds * len(tasks)


def test_two_dispatcher_processes_create_exactly_one_run_per_due_slot():
    """Two beat-driven dispatchers in their own processes, as with two beat processes."""
    tasks = [TaskFactory(schedule="0 * * * *") for _ in range(20)]
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_test_db(),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CACHE_URL": settings.CACHE_URL,
    }
    code = "from tasks.scheduler import dispatch_due_tasks; print('dispatched', len(dispatch_due_tasks()))"
    for _ in range(3):
        type(tasks[0]).objects.filter(pk__in=[t.pk for t in tasks]).update(next_run_at=timezone.now())
        before = TaskExecution.objects.count()
        dispatchers = [
            subprocess.Popen(
                [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        outputs = [proc.communicate(timeout=120)[0] for proc in dispatchers]
        counts = [int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("dispatched")]
        assert len(counts) == 2 and sum(counts) == len(tasks), outputs
        assert TaskExecution.objects.count() - before == len(tasks)
