"""The registry of databases under review and the history of their health probes."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from connections.durations import human_duration


class SSLMode(models.TextChoices):
    DISABLE = "disable"
    ALLOW = "allow"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class Connection(models.Model):
    """A PostgreSQL database the service watches.

    Credentials are never stored here: they come from Vault (a KV v2 secret at `vault_path`
    or dynamic credentials from the database secrets engine role `vault_database_role`),
    or, with neither, from libpq's own sources (~/.pgpass, PGPASSWORD, service file).
    """

    name = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=5432, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    database = models.CharField(max_length=63)
    username = models.CharField(max_length=63, blank=True, help_text="Optional when Vault provides it.")
    sslmode = models.CharField(max_length=12, choices=SSLMode.choices, default=SSLMode.PREFER)
    sslrootcert = models.CharField(max_length=500, blank=True, help_text="CA file path on the worker host.")
    connect_timeout = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(300)], help_text="Seconds."
    )
    vault_path = models.CharField(
        max_length=500, blank=True, help_text="KV v2 secret, first segment is the mount: secret/reviewer/prod-db"
    )
    vault_database_role = models.CharField(
        max_length=500, blank=True, help_text="Database secrets engine role, first segment is the mount: database/ro"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        permissions = [("check_connection", "Can run a health check of a connection")]
        constraints = [
            models.CheckConstraint(
                condition=Q(vault_path="") | Q(vault_database_role=""),
                name="connection_one_vault_source",
                violation_error_message="Set at most one of vault_path and vault_database_role.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.vault_path and self.vault_database_role:
            raise ValidationError({"vault_database_role": "Set at most one of vault_path and vault_database_role."})
        for field in ("vault_path", "vault_database_role"):
            value = getattr(self, field)
            if value and len([s for s in value.strip("/").split("/") if s]) < 2:
                raise ValidationError({field: "Give the mount and the path, e.g. secret/reviewer/prod-db."})

    def latest_status(self) -> ConnectionStatus | None:
        return self.statuses.order_by("-id").first()


class ConnectionStatus(models.Model):
    """One health probe of a connection; the newest row per connection is its current status."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="statuses")
    is_healthy = models.BooleanField()
    checked_at = models.DateTimeField()
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    server_version = models.CharField(max_length=32, null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "connection_status"
        ordering = ["-id"]
        verbose_name_plural = "connection statuses"
        # "Latest per connection" is an index-only descent of (connection_id, id DESC),
        # whatever the number of rows.
        indexes = [
            models.Index(fields=["connection", "-id"], name="connstatus_latest_idx"),
            # "Unhealthy since when" looks up the newest healthy row: one index descent, not a
            # walk back over a long outage.
            models.Index(fields=["connection", "-id"], condition=Q(is_healthy=True), name="connstatus_healthy_idx"),
            # A connection's page: its probes of the last day or week (response times, uptime),
            # read from the index alone, without visiting the rows of its older history.
            models.Index(
                fields=["connection", "checked_at"],
                include=["is_healthy", "response_time_ms"],
                name="connstatus_history_idx",
            ),
        ]

    def __str__(self) -> str:
        state = "healthy" if self.is_healthy else "unhealthy"
        return f"{self.connection_id} {state} at {self.checked_at:%Y-%m-%d %H:%M:%S}"

    def staleness_message(self, now: datetime | None = None) -> str | None:
        """Why this result no longer counts as current, or None while it is fresh."""
        return staleness_message(self.checked_at, now)


def staleness_message(checked_at: datetime, now: datetime | None = None) -> str | None:
    """Why a probe result checked at `checked_at` no longer counts as current, or None while
    it is fresh.

    Probes run every PROBE_INTERVAL_SECONDS; a latest result older than
    PROBE_STALE_AFTER_SECONDS means the probe worker or beat is down, and a dead prober
    must never look like a healthy fleet.
    """
    age = ((now or timezone.now()) - checked_at).total_seconds()
    if age <= settings.PROBE_STALE_AFTER_SECONDS:
        return None
    return f"no probe result for {human_duration(age)}: are the probe worker and beat running?"
