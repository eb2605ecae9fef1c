"""The tally of finished runs starts from the runs already recorded.

One GROUP BY over the history, once. Runs that finish between this migration and the restart
of the workers (old code) are not counted: migrate, then restart, as the upgrade steps say.
"""

from django.db import migrations
from django.db.models import Count

FINISHED = ("completed", "failed")


def seed(apps, schema_editor):
    TaskExecution = apps.get_model("tasks", "TaskExecution")
    ExecutionTally = apps.get_model("tasks", "ExecutionTally")
    rows = (
        TaskExecution.objects.filter(status__in=FINISHED)
        .values("task__task_type", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    ExecutionTally.objects.bulk_create(
        ExecutionTally(task_type=row["task__task_type"], status=row["status"], count=row["n"]) for row in rows
    )


def unseed(apps, schema_editor):
    apps.get_model("tasks", "ExecutionTally").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("tasks", "0007_execution_tally")]

    operations = [migrations.RunPython(seed, unseed)]
