"""factory_boy factories for tasks and executions."""

from __future__ import annotations

import factory

from connections.tests.factories import ConnectionFactory
from tasks.models import Finding, Sighting, Task, TaskExecution


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


class FindingFactory(factory.django.DjangoModelFactory):
    """A tracked finding last seen by `execution`, with that run's sighting of it."""

    class Meta:
        model = Finding
        skip_postgeneration_save = True

    execution = factory.SubFactory(TaskExecutionFactory)
    task = factory.LazyAttribute(lambda finding: finding.execution.task)
    connection = factory.LazyAttribute(lambda finding: finding.execution.task.connection)
    key = factory.Sequence(lambda n: f"{n:064x}")
    severity = "warning"
    category = "deadlock"
    message = "deadlock detected"

    @factory.post_generation
    def sighting(finding, create, extracted, **kwargs):
        if create:
            fields = (
                "severity",
                "message",
                "count",
                "first_seen",
                "last_seen",
                "sample",
                "database",
                "user",
                "details",
            )
            Sighting.objects.create(
                execution=finding.execution, finding=finding, **{name: getattr(finding, name) for name in fields}
            )
