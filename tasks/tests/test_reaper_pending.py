"""Pending runs whose queue message was lost are re-published once, then failed.

A message can be lost when Redis restarts (it keeps nothing on disk here) or when the web
process dies between committing the row and publishing. A run merely waiting behind a
backlog is in the queue, and is left alone.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from tasks.broker import waiting_message_ids
from tasks.models import ExecutionStatus, TaskExecution
from tasks.reaper import reap_lost_messages
from tasks.runner import start_execution
from tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


def age(execution: TaskExecution, seconds: int = 3600) -> None:
    TaskExecution.objects.filter(pk=execution.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))


def lose_all_queued_messages() -> None:
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # what a Redis restart does here


def test_a_run_waiting_in_the_queue_is_not_touched():
    execution = start_execution(TaskFactory())  # no worker: the message waits in Redis
    age(execution)

    assert TaskExecution.objects.get(pk=execution.pk).celery_task_id in waiting_message_ids()
    assert reap_lost_messages() == 0
    assert TaskExecution.objects.get(pk=execution.pk).status == ExecutionStatus.PENDING


def test_a_lost_message_is_published_again_once_then_the_run_fails_as_never_picked_up():
    execution = start_execution(TaskFactory())
    age(execution)
    lose_all_queued_messages()

    assert reap_lost_messages() == 1
    again = TaskExecution.objects.get(pk=execution.pk)
    assert (again.status, again.publish_count) == (ExecutionStatus.PENDING, 2)
    assert again.celery_task_id in waiting_message_ids()
    assert reap_lost_messages() == 0  # now queued again: waiting, not lost

    lose_all_queued_messages()
    assert reap_lost_messages() == 1

    failed = TaskExecution.objects.get(pk=execution.pk)
    assert failed.status == ExecutionStatus.FAILED
    assert failed.error_message.startswith("never picked up")
    assert failed.started_at is not None and failed.completed_at is not None


def test_a_run_never_published_because_the_web_process_died_is_published():
    row = TaskExecution.objects.create(task=TaskFactory())  # committed, never published
    age(row)

    assert reap_lost_messages() == 1
    row.refresh_from_db()
    assert row.publish_count == 1 and row.celery_task_id in waiting_message_ids()


def test_a_fresh_pending_run_is_given_time_before_it_is_called_lost():
    execution = start_execution(TaskFactory())
    lose_all_queued_messages()

    assert reap_lost_messages() == 0
    assert TaskExecution.objects.get(pk=execution.pk).publish_count == 1
