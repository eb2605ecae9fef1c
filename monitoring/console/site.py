"""The console's admin site: its index is the fleet dashboard.

Installed as Django's default site (`admin.site`) by monitoring.apps.ConsoleAdminConfig,
listed in INSTALLED_APPS in place of django.contrib.admin. The index is served through
admin_view like every admin page, so only active staff reach it.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from monitoring.console.dashboard import dashboard_context


class ConsoleSite(admin.AdminSite):
    site_header = "PostgreSQL Reviewer"
    site_title = "PostgreSQL Reviewer"
    index_title = "Fleet overview"
    index_template = "admin/reviewer_dashboard.html"

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        """The admin index with the dashboard's context: what this user may see of the fleet."""
        return super().index(request, extra_context={**dashboard_context(request), **(extra_context or {})})
