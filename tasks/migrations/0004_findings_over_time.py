"""Findings tracked across runs (1 of 3: the new columns and tables).

One row per problem (category + subject) on a connection, a Sighting per run that saw it,
and the state checks keep between runs. 0005 fills them from the per-run rows, 0006 adds the
constraints (in their own transactions: PostgreSQL refuses ALTER TABLE while the rows
written in the same transaction have pending foreign-key checks).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0001_initial"),
        ("tasks", "0003_findings_and_log_cursor"),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="task",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="findings", to="tasks.task"
            ),
        ),
        migrations.AddField(
            model_name="finding",
            name="subject",
            field=models.CharField(
                blank=True,
                help_text="What it is about: an object, role, setting, query, SQLSTATE…",
                max_length=500,
            ),
        ),
        migrations.AddField(
            model_name="finding",
            name="key",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="finding",
            name="state",
            field=models.CharField(choices=[("open", "Open"), ("resolved", "Resolved")], default="open", max_length=10),
        ),
        migrations.AddField(
            model_name="finding",
            name="remedy",
            field=models.TextField(blank=True, help_text="What to do, as text to copy. The service never runs it."),
        ),
        migrations.AddField(
            model_name="finding",
            name="resolved_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="Sighting",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "severity",
                    models.CharField(
                        choices=[("info", "Info"), ("warning", "Warning"), ("critical", "Critical")], max_length=10
                    ),
                ),
                ("message", models.TextField()),
                ("count", models.PositiveIntegerField(default=1)),
                ("first_seen", models.DateTimeField(blank=True, null=True)),
                ("last_seen", models.DateTimeField(blank=True, null=True)),
                ("sample", models.TextField(blank=True)),
                ("database", models.CharField(blank=True, max_length=63)),
                ("user", models.CharField(blank=True, max_length=63)),
                ("details", models.JSONField(blank=True, default=dict)),
                (
                    "execution",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sightings",
                        to="tasks.taskexecution",
                    ),
                ),
                (
                    "finding",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="sightings", to="tasks.finding"
                    ),
                ),
            ],
            options={
                "db_table": "task_finding_sightings",
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["execution", "-id"], name="sighting_execution_idx")],
            },
        ),
        migrations.CreateModel(
            name="CheckState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=200)),
                ("data", models.JSONField()),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "execution",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tasks.taskexecution",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="check_states", to="tasks.task"
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("task", "key"), name="checkstate_one_per_key")],
            },
        ),
    ]
