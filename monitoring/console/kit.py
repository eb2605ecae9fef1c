"""The small kit the console's admin pages share: status badges, short cells, times in lists,
the way back after a button, bounded read-only history inlines, the permissions of read-only
records, history lists whose count stops at COUNT_LIMIT, and severity ranked in SQL."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseRedirect
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator

from monitoring.console.dates import console_time, wrapping_time

RECENT_ROWS = 20  # history shown on a detail page; the full history is one click away
COUNT_LIMIT = 10_000  # a history list counts this many rows at most: 100 pages of 100

_BADGE = (
    '<span style="display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;'
    'font-size:11px;font-weight:600;background:{}">{}</span>'
)
BADGE_COLOURS = {
    "healthy": "#2e7d32",
    "unhealthy": "#c62828",
    "never checked": "#757575",
    "pending": "#757575",
    "running": "#1565c0",
    "completed": "#2e7d32",
    "failed": "#c62828",
    "critical": "#b71c1c",
    "warning": "#b45309",  # a dark orange: white text on it reads at 4.5:1
    "info": "#1565c0",
    "open": "#455a64",
    "resolved": "#2e7d32",
    "sending": "#1565c0",
    "sent": "#2e7d32",
}


def badge(label: str) -> str:
    """A small coloured label: health, execution status or severity."""
    return format_html(_BADGE, BADGE_COLOURS.get(label, "#757575"), label)


def short_text(text: str | None, length: int = 80) -> str:
    return Truncator(text or "").chars(length)


def list_time(value) -> str:
    """A time in a list column: the console's form, wrapping between its day and its clock."""
    return wrapping_time(value)


def time_column(field: str, description: str):
    """A list column showing the model's datetime `field` by list_time, sorted by it."""

    @admin.display(description=description, ordering=field)
    def column(self, obj) -> str:
        return list_time(getattr(obj, field))

    return column


def short_time(value) -> str:
    """ "2026-11-28 16:49:05 UTC": the console's form, to the second, for a history table."""
    return console_time(value, seconds=True)


def redirect_back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Back to the page the button was on (`next`, same site only), else `default`."""
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return HttpResponseRedirect(target if target and safe else default)


class RecentRowsFormSet(BaseInlineFormSet):
    """An inline formset showing only the newest RECENT_ROWS rows (the model orders by -id):
    a history inline must not render millions of rows."""

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_recent_rows"):
            self._recent_rows = super().get_queryset()[:RECENT_ROWS]
        return self._recent_rows


class ReadOnlyHistoryInline(admin.TabularInline):
    """A bounded, view-only inline of history rows, drawn as a compact table (the rv-history
    styles in templates/admin/base_site.html drop the label the admin prints above each row)."""

    formset = RecentRowsFormSet
    extra = 0
    max_num = 0
    can_delete = False
    classes = ["rv-history"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyRecordsMixin:
    """For the ModelAdmin of records only the service writes (probe results, executions,
    findings): staff may view them, never add or edit them; only a superuser may delete them.
    List it before admin.ModelAdmin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Pruning history is an operator's decision, not a routine staff one.
        return request.user.is_superuser


class BoundedCountPaginator(Paginator):
    """Counts at most COUNT_LIMIT rows: a list of a table that grows forever (runs, probes,
    findings) never counts its whole history to draw its page links.

    Beyond the limit the list says "more than 10000" and offers its first COUNT_LIMIT rows in
    pages; older ones are a filter or a search away. A filter on an indexed column (status,
    connection, date) counts down its index; an unindexed one or a search may read further,
    as it must to find its rows.
    """

    count_limit = COUNT_LIMIT

    @cached_property
    def counted(self) -> int:
        # COUNT(*) over the first count_limit + 1 rows (a subquery with LIMIT).
        return self.object_list[: self.count_limit + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self.counted, self.count_limit)

    @property
    def more_than_limit(self) -> bool:
        return self.counted > self.count_limit


class HistoryListMixin:
    """For the list of a history table: the count stops at COUNT_LIMIT (the pagination
    template says "more than"), no second count of the unfiltered table, and no "select all
    N" across pages, whose N would be the bounded count. List it before admin.ModelAdmin."""

    paginator = BoundedCountPaginator
    show_full_result_count = False
    actions_selection_counter = False


class ConsoleModelAdmin(admin.ModelAdmin):
    """The base of every console page: a list URL that cannot be read is a 400, not a 500.

    The admin passes filter values to the database as they come. PostgreSQL refuses a NUL
    byte in text, and Python's dates stop at 9999, so `?category__exact=%00` or a date
    drill-down to year 9999 would crash the page. Such a list URL is refused up front.
    """

    def panel(self, request: HttpRequest, obj) -> dict:
        """What a record's page shows above its form; each page adds its own."""
        return {}

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context = {**self.panel(request, obj), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context)

    # A list filtered by dates (a DateFieldListFilter) names its field here, so that old
    # drill-down links (`?checked_at__year=…`) are checked as the date hierarchy's were.
    date_field: str | None = None

    def changelist_view(self, request: HttpRequest, extra_context=None):
        problem = unreadable_parameter(request, self.date_hierarchy or self.date_field)
        if problem:
            return HttpResponseBadRequest(f"Bad request: {problem}", content_type="text/plain; charset=utf-8")
        return super().changelist_view(request, extra_context)


_DATE_PARTS = {"year": (1, 9998), "month": (1, 12), "day": (1, 31)}


def unreadable_parameter(request: HttpRequest, date_field: str | None) -> str | None:
    """Why a list's query string cannot be used, or None."""
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return "a filter contains a NUL byte."
    if date_field:
        for part, (low, high) in _DATE_PARTS.items():
            value = request.GET.get(f"{date_field}__{part}")
            if value is not None and not (
                value.isascii() and value.isdigit() and len(value) <= 6 and low <= int(value) <= high
            ):
                return f"the {part} must be a number from {low} to {high}."
    return None
