"""The console's pages for review tasks and their executions.

Executions are written by the execution lifecycle (tasks/runner.py) only, so they are
read-only here; "Run now" goes through the same path as the API's POST execute.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from connections.durations import compact_duration, human_duration
from monitoring.console import dashboard, workload
from monitoring.console.charts import executions_chart
from monitoring.console.kit import (
    RECENT_ROWS,
    ConsoleModelAdmin,
    HistoryListMixin,
    ReadOnlyHistoryInline,
    ReadOnlyRecordsMixin,
    badge,
    redirect_back,
    short_text,
    short_time,
    time_column,
)
from tasks.estimates import usual_duration
from tasks.models import ExecutionStatus, Sighting, Task, TaskExecution, Trigger
from tasks.runner import QueueUnavailable, start_execution

# A page showing an unfinished execution reloads itself this often: staff watch a run finish
# without JavaScript.
REFRESH_SECONDS = 3


class ExecutionInline(ReadOnlyHistoryInline):
    model = TaskExecution
    verbose_name_plural = f"Recent executions (newest {RECENT_ROWS})"
    fields = ["run", "status_badge", "trigger", "triggered_by", "queued", "started", "duration", "error", "report"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The row label (str) names the task; the triggered_by column names the user.
        return super().get_queryset(request).select_related("task", "triggered_by")

    @admin.display(description="run")
    def run(self, obj: TaskExecution) -> str:
        return format_html('<a href="{}">#{}</a>', reverse("admin:tasks_taskexecution_change", args=[obj.pk]), obj.pk)

    @admin.display(description="status")
    def status_badge(self, obj: TaskExecution) -> str:
        return badge(obj.status)

    @admin.display(description="queued")
    def queued(self, obj: TaskExecution) -> str:
        return short_time(obj.created_at)

    @admin.display(description="started")
    def started(self, obj: TaskExecution) -> str:
        return short_time(obj.started_at)

    @admin.display(description="duration")
    def duration(self, obj: TaskExecution) -> str | None:
        return compact_duration(obj.duration_seconds)

    @admin.display(description="error message")
    def error(self, obj: TaskExecution) -> str:
        return short_text(obj.error_message)

    @admin.display(description="report")
    def report(self, obj: TaskExecution) -> str:
        """The workload report of a completed log analysis (its page says when it has none)."""
        if obj.task.task_type != "log_analysis" or obj.status != ExecutionStatus.COMPLETED:
            return ""
        return format_html('<a href="{}">workload</a>', reverse("admin:tasks_taskexecution_workload", args=[obj.pk]))


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
class TaskAdmin(ConsoleModelAdmin):
    """Review tasks; a task's page opens on its schedule, next run and recent runs."""

    list_display = ["name", "task_type", "connection", "schedule_text", "next_run", "is_active", "last_run"]
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

    next_run = time_column("next_run_at", "next run")

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

    def get_urls(self) -> list:
        run = self.admin_site.admin_view(self.run_view)
        return [path("<path:object_id>/run/", run, name="tasks_task_run"), *super().get_urls()]

    def panel(self, request: HttpRequest, task: Task) -> dict:
        """Schedule, next run, the last run, typical duration and runs per day: three queries."""
        now = timezone.now()
        days, counts = dashboard.executions_per_day(task.executions.all(), now)
        return {
            "last_execution": task.executions.order_by("-id").first(),
            "typical_duration": usual_duration(task.pk),
            "executions_chart": executions_chart(days, counts, f"Runs per day, last {len(days)} days"),
            "can_run": self.has_run_permission(request),
            "now": now,
        }

    @method_decorator(require_POST)
    def run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Run now" on one task: queue a manual run and open its page, which follows it to the end."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        task = self.get_object(request, unquote(object_id))
        if task is None:
            raise Http404("No such task.")
        try:
            execution = start_execution(task, trigger=Trigger.MANUAL, user=request.user)
        except QueueUnavailable as exc:
            self.message_user(request, f"{task.name}: {exc}; the run is recorded as failed.", messages.ERROR)
            return redirect_back(request, reverse("admin:tasks_task_change", args=[task.pk]))
        self.message_user(request, f"{task.name}: queued as execution #{execution.id}.", messages.SUCCESS)
        return redirect_back(request, reverse("admin:tasks_taskexecution_change", args=[execution.id]))

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
class TaskExecutionAdmin(HistoryListMixin, ReadOnlyRecordsMixin, ConsoleModelAdmin):
    """Execution history: written by the runner only, so read-only here."""

    list_display = [
        "id",
        "task",
        "status_badge",
        "trigger_text",
        "queued",
        "started",
        "completed",
        "duration",
        "error",
    ]
    list_display_links = ["id"]
    list_filter = ["status", "trigger", "task__task_type"]
    list_select_related = ["task", "triggered_by"]
    search_fields = ["task__name", "error_message", "celery_task_id", "worker"]
    ordering = ["-id"]
    # The panel above the record (panel) shows status, timing, error, result and
    # findings; the full record stays one click away.
    record = [
        "task",
        "status",
        "trigger",
        "triggered_by",
        "created_at",
        "started_at",
        "completed_at",
        "duration_seconds",
        "error_message",
        "celery_task_id",
        "worker",
        "publish_count",
        "heartbeat_at",
    ]
    fieldsets = [("Full record", {"fields": record, "classes": ["collapse"]})]
    readonly_fields = record

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: TaskExecution) -> str:
        return badge(obj.status)

    queued = time_column("created_at", "queued")
    started = time_column("started_at", "started")
    completed = time_column("completed_at", "completed")

    @admin.display(description="trigger", ordering="trigger")
    def trigger_text(self, obj: TaskExecution) -> str:
        """ "scheduled", or "manual by dba": one column instead of two keeps the list at 1280 px."""
        if obj.triggered_by is None:
            return obj.trigger
        return f"{obj.trigger} by {obj.triggered_by.get_username()}"

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj: TaskExecution) -> str | None:
        return compact_duration(obj.duration_seconds)

    @admin.display(description="error message")
    def error(self, obj: TaskExecution) -> str:
        return short_text(obj.error_message)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("task", "task__connection", "triggered_by")

    def get_urls(self) -> list:
        report = self.admin_site.admin_view(self.workload_view)
        return [
            path("<path:object_id>/workload/", report, name="tasks_taskexecution_workload"),
            *super().get_urls(),
        ]

    def workload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The workload report of one log_analysis run, from its stored result."""
        execution = self.get_object(request, unquote(object_id))
        if execution is None:
            raise Http404("No such execution.")
        if not self.has_view_permission(request, execution):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Workload report of run #{execution.pk}",
            "execution": execution,
            **workload.report_context(execution),
        }
        return TemplateResponse(request, "admin/tasks/taskexecution/workload_report.html", context)

    def panel(self, request: HttpRequest, execution: TaskExecution) -> dict:
        """How the run went: status, timing (with an estimate while it runs), error, findings."""
        now = timezone.now()
        panel = {
            "execution": execution,
            "now": now,
            "duration": compact_duration(execution.duration_seconds),
            "result_json": None if execution.result is None else json.dumps(execution.result, indent=2, sort_keys=True),
            "findings": None,
            "estimate": None,
            "running_for": None,
            "workload_url": reverse("admin:tasks_taskexecution_workload", args=[execution.pk])
            if workload.has_report(execution)
            else None,
        }
        if not execution.is_finished:
            panel["refresh_seconds"] = REFRESH_SECONDS
            panel["estimate"] = usual_duration(execution.task_id)
            if execution.started_at:
                panel["running_for"] = human_duration((now - execution.started_at).total_seconds())
        # What this run saw, with its own counts (a finding seen again later shows its newest run
        # on the findings page; here it stays as this run saw it).
        sightings = Sighting.objects.filter(execution=execution).select_related("finding").order_by("-id")
        panel["findings"] = list(sightings[:100])
        return panel
