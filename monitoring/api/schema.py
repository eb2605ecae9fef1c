"""OpenAPI 3 description of the endpoints (drf-spectacular), served at /api/v1/schema/.

The decorators below document exactly what the views answer, error bodies included;
monitoring/tests/test_schema.py validates real responses against the served schema.
"""

from __future__ import annotations

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from monitoring.api.params import CATEGORY
from monitoring.api.serializers import (
    ConnectionStatusSerializer,
    ErrorSerializer,
    ExecutionSerializer,
    FindingSerializer,
    HealthyCheckSerializer,
    RunningTaskSerializer,
    SightingSerializer,
    UnhealthyCheckSerializer,
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


READ_ERRORS = {
    401: _error("Not authenticated (reads are open only with REVIEWER_PUBLIC_READ=true)."),
    500: _error("Internal server error."),
}
ACTION_ERRORS = {
    401: _error("Not authenticated."),
    403: _error("The user lacks the permission this action needs."),
    500: _error("Internal server error."),
}
BAD_PARAMETER = {400: _error("A malformed query parameter.")}


def _limit(default: int) -> OpenApiParameter:
    return OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1},
        OpenApiParameter.QUERY,
        description=f"Decimal digits, at least 1; default {default}; values above 1000 are capped at 1000. "
        "Anything else answers 400.",
    )


def _path_id(name: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "integer", "minimum": 0},
        OpenApiParameter.PATH,
        description="Decimal digits; anything else is a 404, as is an id no row has.",
    )


TASK_ID_FILTER = OpenApiParameter(
    "task_id",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    description="Only this task's executions; an unknown id gives an empty list, a non-integer 400.",
)

STATUS_FILTER = OpenApiParameter(
    "status",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    enum=["pending", "running", "completed", "failed"],
    description="Only executions in this status; anything else answers 400.",
)
SINCE_FILTER = OpenApiParameter(
    "since",
    OpenApiTypes.DATETIME,
    OpenApiParameter.QUERY,
    description="Only executions started at or after this ISO 8601 time (UTC unless it names a zone, "
    "e.g. 2024-01-01T02:00:00Z); one not started yet counts from when it was queued. Malformed: 400.",
)

CHECK_RESULT = PolymorphicProxySerializer(
    component_name="HealthCheckResult",
    serializers=[HealthyCheckSerializer, UnhealthyCheckSerializer],
    resource_type_field_name=None,
)

execution_list = extend_schema(
    operation_id="list_executions",
    summary="Get task executions",
    parameters=[TASK_ID_FILTER, STATUS_FILTER, SINCE_FILTER, _limit(50)],
    responses={200: ExecutionSerializer(many=True), **BAD_PARAMETER, **READ_ERRORS},
)
task_execution_list = extend_schema(
    operation_id="list_task_executions",
    summary="Get task executions by task id",
    parameters=[_path_id("task_id"), _limit(20)],
    responses={
        200: ExecutionSerializer(many=True),
        **BAD_PARAMETER,
        404: _error("Task not found."),
        **READ_ERRORS,
    },
)
task_execute = extend_schema(
    operation_id="execute_task",
    summary="Execute a task manually",
    description="Queues a new run even if one is running. Needs the permission tasks.run_task.",
    parameters=[_path_id("task_id")],
    request=None,
    responses={
        200: OpenApiResponse(
            {
                "type": "object",
                "properties": {
                    "message": {"type": "string", "example": "Task executed successfully"},
                    "execution_id": {"type": "integer"},
                },
                "required": ["message", "execution_id"],
            },
            description="The run is queued.",
        ),
        404: _error("Task not found."),
        **ACTION_ERRORS,
        500: _error("The broker did not take the run; the execution is recorded as failed."),
    },
)
running_task_list = extend_schema(
    operation_id="list_running_tasks",
    summary="Get running tasks",
    responses={200: RunningTaskSerializer(many=True), **READ_ERRORS},
)
connection_status_list = extend_schema(
    operation_id="list_connection_statuses",
    summary="Get the status of all active connections",
    responses={200: ConnectionStatusSerializer(many=True), **READ_ERRORS},
)
connection_status_detail = extend_schema(
    operation_id="get_connection_status",
    summary="Get the status of one connection",
    description="The latest stored probe (cached); if there is none, a probe runs now.",
    parameters=[_path_id("connection_id")],
    responses={200: ConnectionStatusSerializer, 404: _error("Connection not found."), **READ_ERRORS},
)
connection_check = extend_schema(
    operation_id="check_connection",
    summary="Check a connection's health now",
    description="Always 200 once the connection exists, healthy or not. "
    "Needs the permission connections.check_connection.",
    parameters=[_path_id("connection_id")],
    request=None,
    responses={200: CHECK_RESULT, 404: _error("Connection not found."), **ACTION_ERRORS},
)


CANONICAL_BASE = "/api/v1/monitoring/"


def canonical_endpoints(endpoints: list[tuple]) -> list[tuple]:
    """drf-spectacular preprocessing hook: describe each operation once, at its documented
    path. The /monitoring/ alias and the trailing-slash forms answer identically and are
    left out, so every operation has one stable operationId."""
    return [
        (path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
        if path.startswith(CANONICAL_BASE) and not path.endswith("/")
    ]


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: JSON by default, YAML with ?format=yaml; readable by anyone.

    Content negotiation as drf-spectacular's own view, JSON first: `Accept:` the OpenAPI media
    types or plain application/json / application/yaml, which is what generic clients send."""

    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]
    permission_classes = [AllowAny]


def _id_filter(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        OpenApiTypes.INT,
        OpenApiParameter.QUERY,
        description=f"Only findings of this {what}; an unknown id gives an empty list, a non-integer 400.",
    )


execution_finding_list = extend_schema(
    operation_id="list_execution_findings",
    summary="Get the findings of one execution",
    description=(
        "What this run saw, newest first, with this run's own counts, times and details. `id` is the "
        "tracked finding's (GET /findings), and `state` its state now."
    ),
    parameters=[_path_id("execution_id"), _limit(100)],
    responses={200: SightingSerializer(many=True), **BAD_PARAMETER, 404: _error("Execution not found."), **READ_ERRORS},
)
finding_list = extend_schema(
    operation_id="list_findings",
    summary="Get findings",
    description=(
        "Problems found by the reviews, newest first (id descending). A finding is one problem "
        "(category and subject) on one connection: runs that see it again update it, a run that "
        "looks and no longer sees it resolves it, and it opens again if it comes back."
    ),
    parameters=[
        _id_filter("connection_id", "connection"),
        _id_filter("task_id", "task (the task whose run last saw it)"),
        OpenApiParameter(
            "state",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            enum=["open", "resolved"],
            description="Only open or only resolved findings; anything else answers 400.",
        ),
        OpenApiParameter(
            "severity",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            enum=["info", "warning", "critical"],
            description="Only findings of this severity; anything else answers 400.",
        ),
        OpenApiParameter(
            "category",
            {"type": "string", "pattern": f"^{CATEGORY.pattern}$", "maxLength": 50},
            OpenApiParameter.QUERY,
            description="Only findings of this category (deadlock, slow_query, auth_failure, error, ...).",
        ),
        _limit(50),
    ],
    responses={200: FindingSerializer(many=True), **BAD_PARAMETER, **READ_ERRORS},
)
