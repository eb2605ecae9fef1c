"""The monitoring API: four DRF viewsets, routed by monitoring/api/urls.py.

Viewsets only read and call into `connections/` and `tasks/`; the shapes live in
serializers.py (the long lists of executions and findings are built as plain rows by
rows.py, in the same shapes), the query parameters in params.py, the OpenAPI description in
schema.py.
Every list is bounded (`limit`, at most API_LIMIT_MAX) and costs a fixed number of queries.
"""

from __future__ import annotations

from django.db.models import Model
from django.http import HttpResponse
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from connections import fleet_status, health
from connections.models import Connection
from connections.status import check_connection, record_probe
from monitoring.api import schema
from monitoring.api.fleet_response import fleet_status_body
from monitoring.api.params import (
    parse_category,
    parse_choice,
    parse_id,
    parse_limit,
    parse_since,
    path_id,
)
from monitoring.api.renderers import SpacedJSONRenderer
from monitoring.api.rows import execution_rows, finding_rows, sighting_rows
from monitoring.api.serializers import ConnectionStatusSerializer, check_result, fleet_status_item, running_task_item
from tasks import estimates
from tasks.models import ExecutionStatus, FindingState, Severity, Task, TaskExecution, Trigger
from tasks.runner import QueueUnavailable, start_execution

# Ids in the URL are ASCII digits only; anything else matches no route and is a JSON 404.
ID_PATTERN = "[0-9]+"


class MonitoringViewSet(viewsets.ViewSet):
    renderer_classes = [SpacedJSONRenderer]
    lookup_value_regex = ID_PATTERN
    # An action that changes something names the permission it needs (ReadableByPolicy).
    required_permission: str | None = None


class QueueError(APIException):
    status_code = 500
    default_detail = "Could not queue the run."


def row_or_404(model: type[Model], raw_id: str) -> Model:
    """The row of `model` with this id from the URL, or a JSON 404 ("Task not found.")."""
    row = model.objects.filter(pk=path_id(raw_id)).first()
    if row is None:
        raise NotFound(f"{model._meta.verbose_name.capitalize()} not found.")
    return row


class TaskViewSet(MonitoringViewSet):
    """A task's executions, running it now, and what is running."""

    lookup_url_kwarg = "task_id"

    @schema.task_execution_list
    @action(detail=True, methods=["get"], url_path="executions", url_name="execution-list")
    def executions(self, request: Request, task_id: str) -> Response:
        """The newest executions of one task (404 if there is no such task)."""
        limit = parse_limit(request, default=20)
        task = row_or_404(Task, task_id)
        return Response(execution_rows(task_id=task.pk, limit=limit))

    @schema.task_execute
    @action(detail=True, methods=["post"], required_permission="tasks.run_task")
    def execute(self, request: Request, task_id: str) -> Response:
        """Queue a run now, even if one is already running."""
        task = row_or_404(Task, task_id)
        try:
            execution = start_execution(task, trigger=Trigger.MANUAL, user=request.user)
        except QueueUnavailable as exc:
            # The execution row is already marked failed with this reason by the runner.
            raise QueueError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
        return Response({"message": "Task executed successfully", "execution_id": execution.id})

    @schema.running_task_list
    @action(detail=False, methods=["get"], url_path="running", url_name="running-list")
    def running(self, request: Request) -> Response:
        """Running executions with an estimate of how long they take."""
        return Response([running_task_item(run) for run in estimates.running_runs()])


class ExecutionViewSet(MonitoringViewSet):
    """Executions of every task, newest first, and what one of them found."""

    lookup_url_kwarg = "execution_id"

    @schema.execution_list
    def list(self, request: Request) -> Response:
        """The newest executions, filtered by `task_id`, `status` and `since`."""
        limit = parse_limit(request, default=50)
        task_id = parse_id(request, "task_id")
        status = parse_choice(request, "status", ExecutionStatus.values)
        since = parse_since(request)
        return Response(execution_rows(task_id=task_id, status=status, since=since, limit=limit))

    @schema.execution_finding_list
    @action(detail=True, methods=["get"], url_path="findings", url_name="finding-list")
    def findings(self, request: Request, execution_id: str) -> Response:
        """What one run found (404 if there is no such run)."""
        limit = parse_limit(request, default=100)
        execution_pk = path_id(execution_id)
        if not TaskExecution.objects.filter(pk=execution_pk).exists():
            raise NotFound("Execution not found.")
        return Response(sighting_rows(execution_id=execution_pk, limit=limit))


class ConnectionViewSet(MonitoringViewSet):
    """The health of connections: the fleet, one connection, and a probe now."""

    lookup_url_kwarg = "connection_id"

    @schema.connection_status_list
    @action(detail=False, methods=["get"], url_path="status", url_name="status-list")
    def fleet_status(self, request: Request) -> Response:
        """Every active connection with its latest probe result (cached; judged now)."""
        return HttpResponse(fleet_status_body(), content_type=SpacedJSONRenderer.media_type)

    @schema.connection_status_detail
    @action(detail=True, methods=["get"], url_path="status", url_name="status-detail")
    def status(self, request: Request, connection_id: str) -> Response:
        """The cached latest result, else a probe now."""
        entry = fleet_status.connection_status(path_id(connection_id))
        if entry is None:
            raise NotFound("Connection not found.")
        if entry.checked_at is None:  # never probed: probe now
            connection = row_or_404(Connection, connection_id)
            return Response(
                ConnectionStatusSerializer(health.ConnectionHealth(connection, record_probe(connection))).data
            )
        return Response(fleet_status_item(entry, health.HealthJudge()))

    @schema.connection_check
    @action(detail=True, methods=["post"], required_permission="connections.check_connection")
    def check(self, request: Request, connection_id: str) -> Response:
        """Probe now (shared by concurrent callers)."""
        connection = row_or_404(Connection, connection_id)
        return Response(check_result(check_connection(connection)))


class FindingViewSet(MonitoringViewSet):
    """What the reviews found, newest first."""

    @schema.finding_list
    def list(self, request: Request) -> Response:
        """The newest findings, filtered by connection_id, task_id, state, severity and category."""
        limit = parse_limit(request, default=50)
        connection_id = parse_id(request, "connection_id")
        task_id = parse_id(request, "task_id")
        state = parse_choice(request, "state", FindingState.values)
        severity = parse_choice(request, "severity", Severity.values)
        category = parse_category(request)
        rows = finding_rows(
            connection_id=connection_id, task_id=task_id, state=state, severity=severity, category=category, limit=limit
        )
        return Response(rows)
