"""Routes under /api/v1/monitoring/ (and, through reviewer/urls.py, the /monitoring/ alias).

A router builds the documented routes from the viewsets. Every route answers with and
without a trailing slash, without a redirect: a redirect would turn `curl -X POST` into a
GET. Ids are ASCII digits only, so a non-integer id matches nothing and reaches the JSON 404
catch-all. The OpenAPI schema lists only the documented form (no slash).
"""

from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from monitoring.api.views import ConnectionViewSet, ExecutionViewSet, FindingViewSet, TaskViewSet

app_name = "monitoring"

router = SimpleRouter(trailing_slash="")
router.register("tasks/executions", ExecutionViewSet, basename="execution")
router.register("tasks", TaskViewSet, basename="task")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("findings", FindingViewSet, basename="finding")


def with_trailing_slash(pattern) -> object:
    """The same route, ending in "/" (unnamed: reverse() gives the documented form)."""
    return re_path(pattern.pattern.regex.pattern.removesuffix("$") + "/$", pattern.callback)


urlpatterns = router.urls + [with_trailing_slash(pattern) for pattern in router.urls]
