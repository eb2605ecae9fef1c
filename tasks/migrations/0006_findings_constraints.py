"""Findings tracked across runs (3 of 3: every finding has its task; one open row per problem)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tasks", "0005_findings_from_runs")]

    operations = [
        migrations.AlterField(
            model_name="finding",
            name="task",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="findings", to="tasks.task"
            ),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(fields=["task", "-id"], name="finding_task_idx"),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(fields=["state", "-id"], name="finding_state_idx"),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(fields=["connection", "key"], name="finding_problem_idx"),
        ),
        migrations.AddConstraint(
            model_name="finding",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "open")),
                fields=("connection", "key"),
                name="finding_one_open_per_problem",
            ),
        ),
    ]
