"""The console's pages for the database registry and its probe history.

There is no password anywhere in these models: credentials come from Vault or libpq's own
sources, so no page here can show one. Lists read each connection's latest probe with one
indexed subquery per column, never one query per row.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from connections.fleet import probe_connections
from connections.health import ConnectionHealth, current_since, latest_status_column
from connections.models import Connection, ConnectionStatus
from connections.status import check_connection
from monitoring.console import dashboard
from monitoring.console.kit import (
    RECENT_ROWS,
    ConsoleModelAdmin,
    HistoryListMixin,
    ReadOnlyHistoryInline,
    ReadOnlyRecordsMixin,
    badge,
    list_time,
    redirect_back,
    short_text,
    short_time,
    time_column,
)
from tasks.findings import open_problems

MAX_CHECKS_PER_ACTION = 20  # each check may wait up to a connect timeout: keep requests bounded


class ConnectionStatusInline(ReadOnlyHistoryInline):
    model = ConnectionStatus
    verbose_name_plural = f"Recent checks (newest {RECENT_ROWS})"
    fields = ["checked", "health", "response_time", "server_version", "error_message"]
    readonly_fields = fields

    @admin.display(description="checked at")
    def checked(self, obj: ConnectionStatus) -> str:
        return short_time(obj.checked_at)

    @admin.display(description="result")
    def health(self, obj: ConnectionStatus) -> str:
        return badge("healthy" if obj.is_healthy else "unhealthy")

    @admin.display(description="response")
    def response_time(self, obj: ConnectionStatus) -> str:
        return "-" if obj.response_time_ms is None else f"{obj.response_time_ms} ms"


class HealthFilter(admin.SimpleListFilter):
    """Filter by health as the API judges it: the latest probe result (annotated by
    ConnectionAdmin.get_queryset), a stale one counting as unhealthy."""

    title = "health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("healthy", "Healthy"), ("unhealthy", "Unhealthy"), ("never", "Never checked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        fresh = Q(latest_checked_at__gte=current_since())
        if value == "healthy":
            return queryset.filter(fresh, latest_is_healthy=True)
        if value == "unhealthy":
            return queryset.filter(Q(latest_is_healthy=False) | Q(~fresh, latest_is_healthy=True))
        if value == "never":
            return queryset.filter(latest_is_healthy__isnull=True)
        return queryset


@admin.register(Connection)
class ConnectionAdmin(ConsoleModelAdmin):
    """The registry; a connection's page opens on its health, history and latest reviews."""

    list_display = [
        "name",
        "address",
        "database",
        "username",
        "credentials",
        "health",
        "last_check",
        "response_time",
        "version",
        "is_active",
    ]
    list_filter = ["is_active", "sslmode", HealthFilter]
    search_fields = ["name", "host", "database"]
    ordering = ["name"]
    actions = ["check_now"]
    inlines = [ConnectionStatusInline]
    readonly_fields = ["credential_source", "history_link", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "host", "port", "database", "username", "is_active"]}),
        ("TLS and timeouts", {"fields": ["sslmode", "sslrootcert", "connect_timeout"], "classes": ["collapse"]}),
        (
            "Credentials",
            {
                "description": (
                    "No password is stored here. Set a Vault KV v2 path or a Vault database role "
                    "(at most one); with neither, libpq's own sources are used (~/.pgpass, "
                    "PGPASSWORD, service file)."
                ),
                "fields": ["vault_path", "vault_database_role", "credential_source"],
            },
        ),
        ("History", {"fields": ["history_link", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest_is_healthy=latest_status_column("is_healthy"),
                latest_checked_at=latest_status_column("checked_at"),
                latest_response_time_ms=latest_status_column("response_time_ms"),
                latest_server_version=latest_status_column("server_version"),
            )
        )

    @admin.display(description="host:port", ordering="host")
    def address(self, obj: Connection) -> str:
        return f"{obj.host}:{obj.port}"

    @admin.display(description="credentials")
    def credential_source(self, obj: Connection) -> str:
        if obj.vault_path:
            return f"Vault KV: {obj.vault_path}"
        if obj.vault_database_role:
            return f"Vault role: {obj.vault_database_role}"
        return "libpq (pgpass / PGPASSWORD / service)"

    @admin.display(description="credentials")
    def credentials(self, obj: Connection) -> str:
        """Where the password comes from, in a word for the list; the path is on the page."""
        short = "Vault KV" if obj.vault_path else "Vault role" if obj.vault_database_role else "libpq"
        return format_html('<span title="{}">{}</span>', self.credential_source(obj), short)

    @admin.display(description="health", ordering="latest_is_healthy")
    def health(self, obj: Connection) -> str:
        healthy = getattr(obj, "latest_is_healthy", None)
        if healthy is None:
            return badge("never checked")
        # A stale result is unhealthy, as on the dashboard and in the API.
        return badge("healthy" if healthy and obj.latest_checked_at >= current_since() else "unhealthy")

    @admin.display(description="last check", ordering="latest_checked_at")
    def last_check(self, obj: Connection) -> str:
        return list_time(getattr(obj, "latest_checked_at", None))

    @admin.display(description="response", ordering="latest_response_time_ms")
    def response_time(self, obj: Connection) -> str | None:
        ms = getattr(obj, "latest_response_time_ms", None)
        return None if ms is None else f"{ms} ms"

    @admin.display(description="version")
    def version(self, obj: Connection) -> str | None:
        return getattr(obj, "latest_server_version", None)

    @admin.display(description="full history")
    def history_link(self, obj: Connection) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:connections_connectionstatus_changelist") + f"?connection__id__exact={obj.pk}"
        return format_html('<a href="{}">All checks of this connection</a>', url)

    def has_check_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("connections.check_connection")

    def get_urls(self) -> list:
        check = self.admin_site.admin_view(self.check_view)
        return [path("<path:object_id>/check/", check, name="connections_connection_check"), *super().get_urls()]

    def panel(self, request: HttpRequest, connection: Connection) -> dict:
        """What the page shows above the form: current health, charts, executions, open problems."""
        now = timezone.now()
        return {
            "health": ConnectionHealth(connection, connection.latest_status()),
            "history": dashboard.connection_history(connection, request.GET.get("history", "24h"), now),
            "recent_executions": dashboard.latest_runs_of(connection),
            "review": open_problems(connection.pk) if request.user.has_perm("tasks.view_finding") else None,
            "can_check": self.has_check_permission(request),
        }

    @staticmethod
    def _summary(connection: Connection, status: ConnectionStatus) -> str:
        if status.is_healthy:
            return f"{connection.name}: healthy, {status.response_time_ms} ms, PostgreSQL {status.server_version}"
        return f"{connection.name}: unhealthy: {status.error_message}"

    @method_decorator(require_POST)
    def check_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Check now" on one connection: probe it, store the result, show it on the page."""
        if not self.has_check_permission(request):
            raise PermissionDenied
        connection = self.get_object(request, unquote(object_id))
        if connection is None:
            raise Http404("No such connection.")
        status = check_connection(connection)
        self.message_user(
            request, self._summary(connection, status), messages.SUCCESS if status.is_healthy else messages.ERROR
        )
        return redirect_back(request, reverse("admin:connections_connection_change", args=[connection.pk]))

    @admin.action(description="Check now", permissions=["check"])
    def check_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Probe each selected connection now and report every result."""
        if queryset.count() > MAX_CHECKS_PER_ACTION:
            self.message_user(
                request,
                f"Select at most {MAX_CHECKS_PER_ACTION} connections to check at once.",
                messages.ERROR,
            )
            return
        # Probed concurrently: twenty dead hosts cost one timeout, not twenty.
        connections = list(queryset.order_by("name"))
        for connection, status in zip(connections, probe_connections(connections), strict=True):
            level = messages.SUCCESS if status.is_healthy else messages.ERROR
            self.message_user(request, self._summary(connection, status), level)


@admin.register(ConnectionStatus)
class ConnectionStatusAdmin(HistoryListMixin, ReadOnlyRecordsMixin, ConsoleModelAdmin):
    """Probe history: written by probes only, so read-only here.

    Dates are a filter (today, the past 7 days, this month, this year), not a date
    hierarchy: the hierarchy lists the distinct days, months or years of every row, a read
    of the whole history (a row per connection per minute) on each page.
    """

    list_display = ["connection", "is_healthy", "checked", "response_time_ms", "server_version", "error"]
    list_filter = ["is_healthy", ("checked_at", admin.DateFieldListFilter), "connection"]
    list_select_related = ["connection"]
    search_fields = ["connection__name", "error_message"]
    date_field = "checked_at"
    ordering = ["-id"]
    checked = time_column("checked_at", "checked at")

    @admin.display(description="error message")
    def error(self, obj: ConnectionStatus) -> str:
        return short_text(obj.error_message)
