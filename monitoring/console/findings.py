"""The console's pages for what reviews found: the findings list (by state, severity, category
and connection) and a finding's page with its details, its remedy and the runs that saw it."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from monitoring.console.kit import (
    ConsoleModelAdmin,
    HistoryListMixin,
    ReadOnlyRecordsMixin,
    badge,
    short_text,
    time_column,
)
from tasks.models import Finding, severity_rank

MAX_CATEGORIES = 500  # the category filter's bound; a review has a few dozen


def categories() -> list[str]:
    """The categories findings have, in order: one descent of the (category, -id) index per
    category (a loose index scan), not a DISTINCT over every finding."""
    table = connection.ops.quote_name(Finding._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH RECURSIVE found (category, n) AS (
                    SELECT (SELECT MIN(category) FROM {table}), 1
                    UNION ALL
                    SELECT (SELECT MIN(category) FROM {table} WHERE category > found.category), n + 1
                    FROM found WHERE found.category IS NOT NULL AND n < %s
                )
                SELECT category FROM found WHERE category IS NOT NULL""",
            [MAX_CATEGORIES],
        )
        return [row[0] for row in cursor.fetchall()]


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(category, category) for category in categories()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(category=self.value()) if self.value() else queryset


@admin.register(Finding)
class FindingAdmin(HistoryListMixin, ReadOnlyRecordsMixin, ConsoleModelAdmin):
    """What reviews found: written by the reviews only, so read-only here.

    Its lists cost the same however many findings there are: categories by a loose index
    scan, dates as a filter rather than a date hierarchy (which lists the distinct dates of
    every row), and a bounded count.
    """

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
    list_filter = ["state", "severity", CategoryFilter, ("created_at", admin.DateFieldListFilter), "connection"]
    list_select_related = ["connection"]
    search_fields = ["subject", "message", "sample", "database", "user"]
    date_field = "created_at"
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
