"""The console's pages for what reviews found: the findings list (by severity, category and
connection) and a finding's page with its details and a link to its run."""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from monitoring.console.kit import ConsoleModelAdmin, ReadOnlyRecordsMixin, badge, severity_rank, short_text
from tasks.models import Finding


@admin.register(Finding)
class FindingAdmin(ReadOnlyRecordsMixin, ConsoleModelAdmin):
    """What reviews found: written by the reviews only, so read-only here."""

    list_display = ["id", "severity_badge", "category", "summary", "connection", "count", "last_seen", "run"]
    list_display_links = ["id"]
    list_filter = ["severity", "category", "connection"]
    list_select_related = ["connection"]
    search_fields = ["message", "sample", "database", "user"]
    date_hierarchy = "created_at"
    # One row per finding per run: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False
    ordering = ["-id"]
    readonly_fields = [
        "execution",
        "connection",
        "severity",
        "category",
        "message",
        "count",
        "first_seen",
        "last_seen",
        "database",
        "user",
        "sample",
        "details_json",
        "created_at",
    ]
    exclude = ["details"]

    @admin.display(description="severity", ordering=severity_rank())
    def severity_badge(self, obj: Finding) -> str:
        return badge(obj.severity)

    @admin.display(description="message")
    def summary(self, obj: Finding) -> str:
        return short_text(obj.message)

    @admin.display(description="run", ordering="execution_id")
    def run(self, obj: Finding) -> str:
        url = reverse("admin:tasks_taskexecution_change", args=[obj.execution_id])
        return format_html('<a href="{}">#{}</a>', url, obj.execution_id)

    @admin.display(description="details")
    def details_json(self, obj: Finding) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, sort_keys=True))
