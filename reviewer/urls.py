"""Top-level routes: the admin, the monitoring API (canonical, legacy redirect, short alias),
its OpenAPI schema and the schema's offline viewers. Anything else under /api/ or /monitoring/
is a JSON 404."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from monitoring.api import errors
from monitoring.api.docs import RedocView, SwaggerView
from monitoring.api.legacy import legacy_redirect
from monitoring.api.schema import SchemaView
from monitoring.metrics.views import MetricsView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/monitoring/", include("monitoring.api.urls")),
    # The documented curl examples use /monitoring/...; it answers the same, without a redirect.
    path("monitoring/", include("monitoring.api.urls", namespace="monitoring-alias")),
    re_path(r"^api/monitoring(?P<rest>/.*)?$", legacy_redirect),
    path("api/v1/schema/", SchemaView.as_view(), name="schema"),
    # Prometheus metrics (README "Metrics"). /healthz and /readyz are answered by
    # monitoring.health.HealthEndpointsMiddleware, before host validation.
    path("metrics", MetricsView.as_view(), name="metrics"),
    # --- API documentation: Swagger UI and Redoc, their files from drf-spectacular-sidecar -----
    path("api/v1/docs/", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/redoc/", RedocView.as_view(url_name="schema"), name="api-redoc"),
    re_path(r"^(?:api|monitoring)(?:/.*)?$", errors.api_not_found),
]

handler400 = "monitoring.api.errors.bad_request"
handler404 = "monitoring.api.errors.page_not_found"
handler500 = "monitoring.api.errors.server_error"
