"""factory_boy factories for tasks and executions."""

from __future__ import annotations

import factory

from connections.tests.factories import ConnectionFactory
from tasks.models import Task, TaskExecution


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    name = factory.Sequence(lambda n: f"Task {n}")
    task_type = "health_check"
    connection = factory.SubFactory(ConnectionFactory)


class TaskExecutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskExecution

    task = factory.SubFactory(TaskFactory)
