"""Review tasks and the history of their executions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from connections.models import Connection
from tasks.reviews import REVIEWS, task_type_choices

MAX_TIMEOUT_SECONDS = 6 * 3600 - 600  # stays under the broker's visibility timeout


def validate_task_type(value: str) -> None:
    if value not in REVIEWS:
        known = ", ".join(sorted(REVIEWS))
        raise ValidationError(f"Unknown task type {value!r}; implemented types: {known}.")


def validate_cron(value: str) -> None:
    from tasks.schedule import cron_error

    error = cron_error(value)
    if error:
        raise ValidationError(error)


class Task(models.Model):
    """A review of one connection, run manually or on a cron schedule (UTC)."""

    name = models.CharField(max_length=200, unique=True)
    task_type = models.CharField(max_length=50, choices=task_type_choices, validators=[validate_task_type])
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="tasks")
    schedule = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_cron],
        help_text="Cron, UTC, e.g. '0 2 * * *'. Blank = manual only.",
    )
    is_active = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True, help_text="Task-type specific settings.")
    timeout_seconds = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(1), MaxValueValidator(MAX_TIMEOUT_SECONDS)]
    )
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        permissions = [("run_task", "Can run a task now")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # The registry is the source of truth for types even outside forms (apply_config,
        # shell): an unknown type never reaches the table.
        validate_task_type(self.task_type)
        if self._replan_if_schedule_changed() and kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "next_run_at"}
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        task = super().from_db(db, field_names, values)
        task._saved_plan = (task.schedule, task.is_active) if "schedule" in field_names else None
        return task

    def _replan_if_schedule_changed(self) -> bool:
        """An edited schedule takes effect at once: the next slot follows the new one."""
        if getattr(self, "_saved_plan", None) == (self.schedule, self.is_active):
            return False
        from tasks.schedule import next_run_after

        self.next_run_at = next_run_after(self.schedule, timezone.now()) if self.schedule and self.is_active else None
        self._saved_plan = (self.schedule, self.is_active)
        return True

    def clean(self) -> None:
        if not isinstance(self.config, dict):
            raise ValidationError({"config": "Config must be a JSON object."})


class ExecutionStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Trigger(models.TextChoices):
    MANUAL = "manual"
    SCHEDULED = "scheduled"


class TaskExecution(models.Model):
    """One run of a task: queued (pending), claimed by a worker (running), then finished."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="executions")
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="Host that ran it.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Last sign of life of the worker running it."
    )
    publish_count = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="Messages sent for it (more than one: re-published after a loss)."
    )

    class Meta:
        db_table = "task_executions"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["task", "-id"], name="taskexec_task_latest_idx"),
            models.Index(fields=["status", "-id"], name="taskexec_status_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.task.name if self.task_id else '?'} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Finding(models.Model):
    """One problem a review found in a run: what, how often, when, and one sample of it."""

    execution = models.ForeignKey(TaskExecution, on_delete=models.CASCADE, related_name="findings")
    # Denormalised from execution.task so "findings of this connection" needs no join.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="findings")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    category = models.CharField(max_length=50)
    message = models.TextField()
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    sample = models.TextField(blank=True, help_text="One entry that shows the problem.")
    database = models.CharField(max_length=63, blank=True)
    user = models.CharField(max_length=63, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "task_findings"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["connection", "-id"], name="finding_connection_idx"),
            models.Index(fields=["severity", "-id"], name="finding_severity_idx"),
            models.Index(fields=["category", "-id"], name="finding_category_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.severity}: {self.message[:80]}"


class LogCursor(models.Model):
    """Where a log_analysis task stopped reading, so the next run reads only what is new.

    `held_by` is the execution reading with this cursor now: two runs of one task never read
    the same bytes, and the offset moves only when a run completes.
    """

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="log_cursor")
    source = models.CharField(max_length=10)
    positions = models.JSONField(
        default=dict, blank=True, help_text="Per log file: the byte offset read up to, and what identifies the file."
    )
    held_by = models.ForeignKey(TaskExecution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"log cursor of {self.task_id}"
