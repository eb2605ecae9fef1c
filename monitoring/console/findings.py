"""The console's pages for what reviews found: the findings list (by state, severity, category
and connection) and a finding's page with its details, its remedy and the runs that saw it."""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from monitoring.console.kit import ConsoleModelAdmin, ReadOnlyRecordsMixin, badge, short_text, time_column
from tasks.models import Finding, severity_rank


@admin.register(Finding)
class FindingAdmin(ReadOnlyRecordsMixin, ConsoleModelAdmin):
    """What reviews found: written by the reviews only, so read-only here."""

    list_display = [
        "id",
        "state_badge",
        "severity_badge",
        "finding",
        "connection",
        "first",
        "last",
        "run",
    ]
    list_display_links = ["id"]
    list_filter = ["state", "severity", "category", "connection"]
    list_select_related = ["connection"]
    search_fields = ["subject", "message", "sample", "database", "user"]
    date_hierarchy = "created_at"
    # Findings pile up over months: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False
    ordering = ["-id"]
    readonly_fields = [
        "state",
        "severity",
        "category",
        "subject",
        "message",
        "remedy_text",
        "connection",
        "task",
        "execution",
        "count",
        "first_seen",
        "last_seen",
        "resolved_at",
        "database",
        "user",
        "sample",
        "details_json",
        "created_at",
    ]
    exclude = ["details", "remedy", "key"]

    @admin.display(description="severity", ordering=severity_rank())
    def severity_badge(self, obj: Finding) -> str:
        return badge(obj.severity)

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: Finding) -> str:
        return badge(obj.state)

    first = time_column("first_seen", "first seen")
    last = time_column("last_seen", "last seen")

    @admin.display(description="finding", ordering="category")
    def finding(self, obj: Finding) -> str:
        """Its category and subject, over its message: one column that wraps, so that the list
        fits 1280 px with its times and connection in view."""
        subject = format_html(" <code>{}</code>", short_text(obj.subject)) if obj.subject else ""
        return format_html(
            '<strong>{}</strong>{}<br><span class="rv-quiet">{}</span>',
            obj.category,
            subject,
            short_text(obj.message, 160),
        )

    @admin.display(description="what to do")
    def remedy_text(self, obj: Finding) -> str:
        return format_html('<pre class="rv-remedy">{}</pre>', obj.remedy) if obj.remedy else "–"

    @admin.display(description="run", ordering="execution_id")
    def run(self, obj: Finding) -> str:
        url = reverse("admin:tasks_taskexecution_change", args=[obj.execution_id])
        return format_html('<a href="{}">#{}</a>', url, obj.execution_id)

    @admin.display(description="details")
    def details_json(self, obj: Finding) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, sort_keys=True))
