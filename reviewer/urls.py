"""Top-level routes: the admin, the monitoring API (canonical, legacy redirect, short alias)
and its OpenAPI schema. Anything else under /api/ or /monitoring/ is a JSON 404."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from monitoring import errors
from monitoring.legacy import legacy_redirect
from monitoring.schema import SchemaView
from monitoring.urls import documented_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/monitoring/", include("monitoring.urls")),
    # The document's own examples use /monitoring/...; it answers the same, without a redirect.
    path("monitoring/", include("monitoring.urls", namespace="monitoring-alias")),
    re_path(r"^api/monitoring(?P<rest>/.*)?$", legacy_redirect),
    path(
        "api/v1/schema/",
        SchemaView.as_view(patterns=[path("api/v1/monitoring/", include(documented_urlpatterns))]),
        name="schema",
    ),
    re_path(r"^(?:api|monitoring)(?:/.*)?$", errors.api_not_found),
]

handler404 = "monitoring.errors.page_not_found"
handler500 = "monitoring.errors.server_error"
