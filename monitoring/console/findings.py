"""The console's pages for what reviews found: the findings list (by state, severity, category
and connection) and a finding's page with its details, its remedy and the runs that saw it."""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from monitoring.console.kit import ConsoleModelAdmin, ReadOnlyRecordsMixin, badge, short_text
from tasks.models import Finding, severity_rank


@admin.register(Finding)
class FindingAdmin(ReadOnlyRecordsMixin, ConsoleModelAdmin):
    """What reviews found: written by the reviews only, so read-only here."""

    list_display = [
        "id",
        "state_badge",
        "severity_badge",
        "category",
        "subject_text",
        "summary",
        "connection",
        "first_seen",
        "last_seen",
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

    @admin.display(description="subject", ordering="subject")
    def subject_text(self, obj: Finding) -> str:
        return short_text(obj.subject)

    @admin.display(description="what to do")
    def remedy_text(self, obj: Finding) -> str:
        return format_html('<pre class="rv-remedy">{}</pre>', obj.remedy) if obj.remedy else "–"

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
