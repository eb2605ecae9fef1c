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
    # The admin's "View site" link would lead to "/", where this service serves nothing (a
    # 404); the dashboard is already "Home" in every page's breadcrumbs, so there is no link.
    site_url = None
    # The page's width goes to the lists' columns: a 300 px navigation column beside the
    # filters left a 1280 px screen ~650 px of table. The dashboard (Home, in every page's
    # breadcrumbs) lists every page.
    enable_nav_sidebar = False

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        """The admin index with the dashboard's context: what this user may see of the fleet."""
        return super().index(request, extra_context={**dashboard_context(request), **(extra_context or {})})
