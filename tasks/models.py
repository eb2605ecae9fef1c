"""Review tasks and the history of their executions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from connections.models import Connection
from tasks.reviews.review import Review
from tasks.schedule import cron_error, next_run_after

# A run must end before the broker would hand its unacknowledged message to another worker.
MAX_TIMEOUT_SECONDS = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] - 600


def review_types() -> Mapping[str, Review]:
    """The implemented review types, by name (tasks/reviews/registry.py, loaded by TasksConfig)."""
    return apps.get_app_config("tasks").reviews


def task_type_choices() -> list[tuple[str, str]]:
    return [(name, review.label) for name, review in review_types().items()]


def validate_task_type(value: str) -> None:
    if value not in review_types():
        known = ", ".join(sorted(review_types()))
        raise ValidationError(f"Unknown task type {value!r}; implemented types: {known}.")


def validate_cron(value: str) -> None:
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
        self.next_run_at = next_run_after(self.schedule, timezone.now()) if self.schedule and self.is_active else None
        self._saved_plan = (self.schedule, self.is_active)
        return True

    def clean(self) -> None:
        if not isinstance(self.config, dict):
            raise ValidationError({"config": "Config must be a JSON object."})
        review = review_types().get(self.task_type)
        if review is not None and (problems := review.config.problems(self.config)):
            raise ValidationError({"config": problems})

    @property
    def review(self) -> Review:
        """This task's review type (KeyError for a type no longer implemented)."""
        return review_types()[self.task_type]

    def review_config(self) -> dict[str, Any]:
        """The config with the review type's defaults filled in; raises ValueError naming
        every problem when it does not fit the type's schema (a row saved before a check
        existed, or written around Task.clean())."""
        problems = self.review.config.problems(self.config)
        if problems:
            raise ValueError("; ".join(problems))
        return self.review.config.resolve(self.config)


class ExecutionStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Trigger(models.TextChoices):
    MANUAL = "manual"
    SCHEDULED = "scheduled"


# When a run counts as having happened for the API's `since`: when it started, or when it
# was queued if no worker has started it yet. Indexed as an expression (below) so the
# `since` filters read the recent runs only, however long the history.
EXECUTION_MOMENT = Coalesce("started_at", "created_at")


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
            # The API's `since` filters (monitoring/api/params.py since_filter), alone or
            # with `status` or `task_id`.
            models.Index(EXECUTION_MOMENT, name="taskexec_moment_idx"),
            models.Index("status", EXECUTION_MOMENT, name="taskexec_status_moment_idx"),
            models.Index("task", EXECUTION_MOMENT, name="taskexec_task_moment_idx"),
            # The estimates' sample (tasks/estimates.py): a task's last completed runs, read
            # without stepping over its failed ones, however many.
            models.Index(
                fields=["task", "-id"],
                condition=Q(status="completed", duration_seconds__isnull=False),
                name="taskexec_task_completed_idx",
            ),
            # The dashboard's failures of the last day: the failed runs by when they ended,
            # without walking back over every failed run of the history.
            models.Index(fields=["completed_at"], condition=Q(status="failed"), name="taskexec_failed_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.task.name if self.task_id else '?'} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)


class ExecutionTally(models.Model):
    """How many runs of a task type ended completed or failed, ever: the counter behind
    `reviewer_executions_total`. Incremented in the transaction that finishes a run
    (tasks/runner.py), so reading it costs one row per type and status however long the
    history, and purging old executions never lowers it."""

    task_type = models.CharField(max_length=50)
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "task_execution_tally"
        constraints = [models.UniqueConstraint(fields=["task_type", "status"], name="tally_one_per_type_status")]

    def __str__(self) -> str:
        return f"{self.task_type} {self.status}: {self.count}"


class Severity(models.TextChoices):
    """How bad a finding is. Order by `rank`, never by the name."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info, up to 2 for critical: compare severities with this."""
        return SEVERITY_RANK[self]

    @classmethod
    def worst_first(cls) -> list[Severity]:
        return sorted(cls, key=lambda severity: severity.rank, reverse=True)

    @classmethod
    def at_least(cls, minimum: str) -> list[Severity]:
        """The severities as bad as `minimum` or worse, worst first."""
        return [severity for severity in cls.worst_first() if severity.rank >= cls(minimum).rank]


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def severity_rank() -> Case:
    """Severity.rank as an SQL expression, to order findings by how bad they are (never by the
    severity's name, which would put "info" between "critical" and "warning")."""
    ranks = (When(severity=severity, then=Value(severity.rank)) for severity in Severity)
    return Case(*ranks, output_field=IntegerField())


class FindingState(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"


class Finding(models.Model):
    """One problem on one connection, tracked across runs: its category and subject.

    Runs that see it again update it (the latest details, `last_seen`, the run that last saw
    it); a run that looks and no longer sees it resolves it; if it comes back it is open
    again. What each run saw, with that run's own counts, is a `Sighting`. tasks/findings.py
    does all of this.
    """

    # The run that last saw it.
    execution = models.ForeignKey(TaskExecution, on_delete=models.CASCADE, related_name="findings")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="findings")
    # Denormalised from execution.task so "findings of this connection" needs no join.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="findings")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    category = models.CharField(max_length=50)
    subject = models.CharField(
        max_length=500, blank=True, help_text="What it is about: an object, role, setting, query, SQLSTATE…"
    )
    # sha256 of what identifies the problem (category, subject and, for database checks, the
    # database): fixed length whatever the subject's, so it can be unique among open findings.
    key = models.CharField(max_length=64, editable=False)
    state = models.CharField(max_length=10, choices=FindingState.choices, default=FindingState.OPEN)
    message = models.TextField()
    remedy = models.TextField(blank=True, help_text="What to do, as text to copy. The service never runs it.")
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
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
            models.Index(fields=["task", "-id"], name="finding_task_idx"),
            models.Index(fields=["state", "-id"], name="finding_state_idx"),
            models.Index(fields=["connection", "key"], name="finding_problem_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "key"], condition=Q(state="open"), name="finding_one_open_per_problem"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity}: {self.message[:80]}"


class Sighting(models.Model):
    """What one run saw of a finding, with that run's own counts and details."""

    execution = models.ForeignKey(TaskExecution, on_delete=models.CASCADE, related_name="sightings")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="sightings")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    message = models.TextField()
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    sample = models.TextField(blank=True)
    database = models.CharField(max_length=63, blank=True)
    user = models.CharField(max_length=63, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "task_finding_sightings"
        ordering = ["-id"]
        indexes = [models.Index(fields=["execution", "-id"], name="sighting_execution_idx")]

    def __str__(self) -> str:
        return f"{self.finding_id} in run {self.execution_id}"

    # What identifies the problem is the finding's: a sighting reads like a finding in lists.
    @property
    def category(self) -> str:
        return self.finding.category

    @property
    def subject(self) -> str:
        return self.finding.subject


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


class CheckState(models.Model):
    """What a task's check keeps from one run to the next (e.g. the pg_stat_statements
    snapshot that the next database_review subtracts), by check and database."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="check_states")
    key = models.CharField(max_length=200)
    data = models.JSONField()
    execution = models.ForeignKey(TaskExecution, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "key"], name="checkstate_one_per_key")]

    def __str__(self) -> str:
        return f"{self.key} of task {self.task_id}"
