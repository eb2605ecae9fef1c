"""The seven endpoints of monitoring-api.md, as decided in contract.md.

Views only read and call into `connections/` and `tasks/`; the SQL lives in queries.py,
the shapes in serializers.py, the OpenAPI description in schema.py.
"""

from __future__ import annotations

import re

from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connections.health import ConnectionHealth
from connections.models import Connection
from connections.status import cached_status, check_connection, record_probe
from monitoring import queries, schema
from monitoring.params import (
    fits_in_bigint,
    parse_choice,
    parse_id,
    parse_limit,
    parse_since,
    parse_status,
    parse_task_id,
)
from monitoring.queries import since_filter
from monitoring.serializers import (
    ConnectionStatusSerializer,
    ExecutionSerializer,
    FindingSerializer,
    RunningTaskSerializer,
    check_result,
)
from tasks.models import Finding, Severity, Task, TaskExecution, Trigger
from tasks.runner import QueueUnavailable, start_execution


class SpacedJSONRenderer(JSONRenderer):
    """JSON with a space after `,` and `:`.

    The document's health script runs `echo $RESPONSE` unquoted, so the shell splits and
    glob-expands the body: compact JSON without spaces is one word `[...]`, a bracket glob
    that a one-letter file in the script's directory would replace. Spaces keep every `[`
    and `]` of the structure in separate words, where bash leaves them alone.
    """

    compact = False


class MonitoringView(APIView):
    renderer_classes = [SpacedJSONRenderer]


class QueueError(APIException):
    status_code = 500
    default_detail = "Could not queue the run."


def get_task(task_id: int) -> Task:
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise NotFound("Task not found.")
    return task


def get_connection(connection_id: int) -> Connection:
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        raise NotFound("Connection not found.")
    return connection


class ExecutionList(MonitoringView):
    """GET /tasks/executions: the newest executions, filtered by `task_id`, `status`, `since`."""

    @schema.execution_list
    def get(self, request: Request) -> Response:
        limit = parse_limit(request, default=50)
        task_id = parse_task_id(request)
        status = parse_status(request)
        since = parse_since(request)
        executions = TaskExecution.objects.order_by("-id")
        if task_id is not None:
            executions = executions.filter(task_id=task_id) if fits_in_bigint(task_id) else executions.none()
        if status is not None:
            executions = executions.filter(status=status)
        if since is not None:
            executions = executions.filter(since_filter(since))
        return Response(ExecutionSerializer(executions[:limit], many=True).data)


class TaskExecutionList(MonitoringView):
    """GET /tasks/{task_id}/executions: the newest executions of one task (404 if none such)."""

    @schema.task_execution_list
    def get(self, request: Request, task_id: int) -> Response:
        limit = parse_limit(request, default=20)
        task = get_task(task_id)
        executions = TaskExecution.objects.filter(task=task).order_by("-id")[:limit]
        return Response(ExecutionSerializer(executions, many=True).data)


class TaskExecute(MonitoringView):
    """POST /tasks/{task_id}/execute: queue a run now, even if one is already running."""

    required_permission = "tasks.run_task"

    @schema.task_execute
    def post(self, request: Request, task_id: int) -> Response:
        task = get_task(task_id)
        try:
            execution = start_execution(task, trigger=Trigger.MANUAL, user=request.user)
        except QueueUnavailable as exc:
            # The execution row is already marked failed with this reason by the runner.
            raise QueueError(f"Could not queue the run: {exc}") from exc
        return Response({"message": "Task executed successfully", "execution_id": execution.id})


class RunningTaskList(MonitoringView):
    """GET /tasks/running: running executions with an estimate of how long they take."""

    @schema.running_task_list
    def get(self, request: Request) -> Response:
        return Response(RunningTaskSerializer(queries.running_executions(), many=True).data)


class ConnectionStatusList(MonitoringView):
    """GET /connections/status: every active connection with its latest probe result."""

    @schema.connection_status_list
    def get(self, request: Request) -> Response:
        return Response(ConnectionStatusSerializer(queries.active_connections_health(), many=True).data)


class ConnectionStatusDetail(MonitoringView):
    """GET /connections/{connection_id}/status: the cached latest result, else a probe now."""

    @schema.connection_status_detail
    def get(self, request: Request, connection_id: int) -> Response:
        connection = get_connection(connection_id)
        status = cached_status(connection) or record_probe(connection)
        return Response(ConnectionStatusSerializer(ConnectionHealth(connection, status)).data)


class ConnectionCheck(MonitoringView):
    """POST /connections/{connection_id}/check: probe now (shared by concurrent callers)."""

    required_permission = "connections.check_connection"

    @schema.connection_check
    def post(self, request: Request, connection_id: int) -> Response:
        connection = get_connection(connection_id)
        return Response(check_result(check_connection(connection)))


FINDING_CATEGORY = re.compile(r"[a-z0-9_]{1,50}")


class ExecutionFindingList(MonitoringView):
    """GET /tasks/executions/{execution_id}/findings: what one run found (404 if no such run)."""

    @schema.execution_finding_list
    def get(self, request: Request, execution_id: int) -> Response:
        limit = parse_limit(request, default=100)
        if not fits_in_bigint(execution_id) or not TaskExecution.objects.filter(pk=execution_id).exists():
            raise NotFound("Execution not found.")
        findings = Finding.objects.filter(execution_id=execution_id).select_related("execution").order_by("-id")
        return Response(FindingSerializer(findings[:limit], many=True).data)


class FindingList(MonitoringView):
    """GET /findings: the newest findings, filtered by connection_id, severity, category."""

    @schema.finding_list
    def get(self, request: Request) -> Response:
        limit = parse_limit(request, default=50)
        connection_id = parse_id(request, "connection_id")
        severity = parse_choice(request, "severity", [value for value, _ in Severity.choices])
        category = request.query_params.get("category")
        if category is not None and not FINDING_CATEGORY.fullmatch(category):
            raise ParseError(f"category must be a category name such as deadlock or slow_query, not {category!r}.")
        findings = Finding.objects.select_related("execution").order_by("-id")
        if connection_id is not None:
            findings = (
                findings.filter(connection_id=connection_id) if fits_in_bigint(connection_id) else findings.none()
            )
        if severity is not None:
            findings = findings.filter(severity=severity)
        if category is not None:
            findings = findings.filter(category=category)
        return Response(FindingSerializer(findings[:limit], many=True).data)
