"""Admin for review tasks and their executions.

Executions are written by the execution lifecycle (tasks/runner.py) only, so they are
read-only here; "Run now" goes through the same path as the API's POST execute.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from connections.admin import RECENT_ROWS, ReadOnlyHistoryInline, badge, short_text
from tasks.models import Task, TaskExecution, Trigger
from tasks.runner import QueueUnavailable, start_execution


def _duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


class ExecutionInline(ReadOnlyHistoryInline):
    model = TaskExecution
    verbose_name_plural = f"Recent executions (newest {RECENT_ROWS})"
    fields = ["status_badge", "trigger", "triggered_by", "created_at", "started_at", "duration", "error"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The row label (str) names the task; the triggered_by column names the user.
        return super().get_queryset(request).select_related("task", "triggered_by")

    @admin.display(description="status")
    def status_badge(self, obj: TaskExecution) -> str:
        return badge(obj.status)

    @admin.display(description="duration")
    def duration(self, obj: TaskExecution) -> str | None:
        return _duration(obj.duration_seconds)

    @admin.display(description="error message")
    def error(self, obj: TaskExecution) -> str:
        return short_text(obj.error_message)


class ScheduleFilter(admin.SimpleListFilter):
    title = "schedule"
    parameter_name = "scheduled"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Scheduled"), ("no", "Manual only")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.exclude(schedule="")
        if self.value() == "no":
            return queryset.filter(schedule="")
        return queryset


def _latest_execution(column: str) -> Subquery:
    latest = TaskExecution.objects.filter(task=OuterRef("pk")).order_by("-id")
    return Subquery(latest.values(column)[:1])


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["name", "task_type", "connection", "schedule_text", "next_run_at", "is_active", "last_run"]
    list_filter = ["task_type", "is_active", ScheduleFilter, "connection"]
    list_select_related = ["connection"]
    search_fields = ["name", "connection__name", "connection__host"]
    ordering = ["name"]
    actions = ["run_now"]
    inlines = [ExecutionInline]
    readonly_fields = ["next_run_at", "created_at", "updated_at"]
    fields = [
        "name",
        "task_type",
        "connection",
        "schedule",
        "is_active",
        "timeout_seconds",
        "config",
        "next_run_at",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(last_execution_id=_latest_execution("id"), last_execution_status=_latest_execution("status"))
        )

    @admin.display(description="schedule (UTC)", ordering="schedule")
    def schedule_text(self, obj: Task) -> str:
        return obj.schedule or "manual only"

    @admin.display(description="last run", ordering="last_execution_id")
    def last_run(self, obj: Task) -> str:
        execution_id = getattr(obj, "last_execution_id", None)
        if execution_id is None:
            return "-"
        url = reverse("admin:tasks_taskexecution_change", args=[execution_id])
        return format_html('<a href="{}">{}</a>', url, badge(obj.last_execution_status))

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tasks.run_task")

    @admin.action(description="Run now", permissions=["run"])
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Queue a manual execution of each selected task, as POST execute does."""
        tasks = list(queryset.select_related("connection").order_by("name"))
        for index, task in enumerate(tasks):
            try:
                execution = start_execution(task, trigger=Trigger.MANUAL, user=request.user)
            except QueueUnavailable as exc:
                # The broker is down: the run is recorded as failed. Stop rather than stack
                # up one more failed run (and one more broker timeout) per selected task.
                left = len(tasks) - index - 1
                rest = f" {left} other selected task(s) were not started." if left else ""
                self.message_user(request, f"{task.name}: {exc}; the run is recorded as failed.{rest}", messages.ERROR)
                return
            url = reverse("admin:tasks_taskexecution_change", args=[execution.id])
            self.message_user(
                request,
                format_html('{}: queued as <a href="{}">execution #{}</a>.', task.name, url, execution.id),
                messages.SUCCESS,
            )


@admin.register(TaskExecution)
class TaskExecutionAdmin(admin.ModelAdmin):
    """Execution history: written by the runner only, so read-only here."""

    list_display = [
        "id",
        "task",
        "status_badge",
        "trigger",
        "triggered_by",
        "created_at",
        "started_at",
        "completed_at",
        "duration",
        "error",
    ]
    list_display_links = ["id"]
    list_filter = ["status", "trigger", "task__task_type"]
    list_select_related = ["task", "triggered_by"]
    search_fields = ["task__name", "error_message", "celery_task_id", "worker"]
    # One row per run, forever: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False
    ordering = ["-id"]
    fields = [
        "task",
        "status",
        "trigger",
        "triggered_by",
        "created_at",
        "started_at",
        "completed_at",
        "duration_seconds",
        "error_message",
        "result_json",
        "celery_task_id",
        "worker",
    ]
    readonly_fields = fields

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: TaskExecution) -> str:
        return badge(obj.status)

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj: TaskExecution) -> str | None:
        return _duration(obj.duration_seconds)

    @admin.display(description="error message")
    def error(self, obj: TaskExecution) -> str:
        return short_text(obj.error_message)

    @admin.display(description="result")
    def result_json(self, obj: TaskExecution) -> str:
        if obj.result is None:
            return "-"
        return format_html(
            '<pre style="white-space:pre-wrap;margin:0">{}</pre>', json.dumps(obj.result, indent=2, sort_keys=True)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser
