"""Notification rules, the events they match, and the delivery of each event to each rule.

- `NotificationRule`: where to send (a URL whose scheme picks the channel), which events,
  from which connections, from which finding severity.
- `NotificationEvent`: something that happened, once. Its `key` is deterministic (a
  duplicated signal or message finds the row already there) and its public `uuid` is derived
  from the key, so it is stable too.
- `Delivery`: one event to one rule, one message; `DeliveryAttempt`: each try, with its
  outcome and the reason of a failure (never containing the URL's secrets).
- `ConnectionAlertState`: what notifications remembers of each connection between probes.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models

from connections.models import Connection
from notifications.channels import url_problem
from tasks.models import Severity

# Stable event ids: uuid5 of the event's key in this namespace.
EVENT_NAMESPACE = uuid.UUID("6f0b1c1e-3d5a-4c55-9a36-5b1f2f0a7d11")


class EventName(models.TextChoices):
    CONNECTION_DOWN = "connection_down"
    CONNECTION_RECOVERED = "connection_recovered"
    EXECUTION_FAILED = "execution_failed"
    FINDING_OPENED = "finding_opened"
    FINDING_RESOLVED = "finding_resolved"


FINDING_EVENTS = (EventName.FINDING_OPENED, EventName.FINDING_RESOLVED)


def validate_events(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(f"List at least one event: {', '.join(EventName.values)}.")
    unknown = [str(name) for name in value if name not in EventName.values]
    if unknown:
        raise ValidationError(f"Unknown event(s) {', '.join(unknown)}; valid events: {', '.join(EventName.values)}.")


def validate_channel_url(value: str) -> None:
    problem = url_problem(value)
    if problem:
        raise ValidationError(problem)


class NotificationRule(models.Model):
    """Send a message to `url` for each event it matches."""

    name = models.CharField(max_length=200, unique=True)
    # May carry a token or a password: never shown, logged or returned (see channels.mask_url).
    url = models.TextField(validators=[validate_channel_url])
    events = models.JSONField(default=list, validators=[validate_events])
    min_severity = models.CharField(
        max_length=10,
        choices=Severity.choices,
        default=Severity.WARNING,
        help_text="For finding events: the least severe finding that notifies.",
    )
    connections = models.ManyToManyField(
        Connection, blank=True, related_name="+", help_text="None selected: every connection."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Duplicates would send one event twice to one place.
        if isinstance(self.events, list):
            self.events = list(dict.fromkeys(self.events))


class NotificationEvent(models.Model):
    """Something worth a message, recorded once whatever the number of signals about it."""

    uuid = models.UUIDField(unique=True, editable=False)
    key = models.CharField(max_length=200, unique=True, editable=False)
    event = models.CharField(max_length=30, choices=EventName.choices)
    # Plain ids as well as the connection: the event outlives the rows it names (retention).
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    connection_name = models.CharField(max_length=200, blank=True)
    task_id = models.BigIntegerField(null=True, blank=True)
    execution_id = models.BigIntegerField(null=True, blank=True)
    finding_id = models.BigIntegerField(null=True, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    message = models.TextField()
    # The event this one closes: the down event a recovery ends, the opening a resolution ends.
    closes = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="closed_by")
    payload = models.JSONField(default=dict, blank=True, help_text="The webhook body.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["event", "finding_id"], name="notifyevent_finding_idx"),
            models.Index(fields=["connection", "-id"], name="notifyevent_connection_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event}: {self.message[:80]}"

    def save(self, *args, **kwargs) -> None:
        if self.uuid is None:
            self.uuid = uuid.uuid5(EVENT_NAMESPACE, self.key)
        super().save(*args, **kwargs)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a worker, attempt in progress
    SENT = "sent"
    FAILED = "failed"  # every attempt failed


class Delivery(models.Model):
    """One event to one rule: one message, tried until sent or out of attempts."""

    event = models.ForeignKey(NotificationEvent, on_delete=models.CASCADE, related_name="deliveries")
    rule = models.ForeignKey(NotificationRule, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "rule"], name="delivery_one_per_event_and_rule")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self) -> str:
        return f"event {self.event_id} to {self.rule_id}: {self.status}"


class AttemptOutcome(models.TextChoices):
    SENT = "sent"
    FAILED = "failed"


class DeliveryAttempt(models.Model):
    """One try of one delivery: when, how it ended, and why it failed."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    # Denormalised so an event's page lists every attempt of every delivery in one query.
    event = models.ForeignKey(NotificationEvent, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)
    reason = models.TextField(blank=True, help_text="Why it failed; never contains the URL's secrets.")

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_one_per_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"


class ConnectionAlertState(models.Model):
    """Whether a connection is down as far as notifications go, and the streak behind it.

    `last_status_id` is the newest probe result already counted: a result seen twice (a
    duplicated signal) or out of order (an on-demand check racing a round) counts once.
    """

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, primary_key=True, related_name="+")
    down = models.BooleanField(default=False)
    consecutive_failures = models.PositiveIntegerField(default=0)
    streak_status_id = models.BigIntegerField(null=True, blank=True, help_text="First failed probe of the streak.")
    last_status_id = models.BigIntegerField(null=True, blank=True)
    down_event = models.ForeignKey(
        NotificationEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    since = models.DateTimeField(null=True, blank=True, help_text="When the connection went down.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.connection_id}: {'down' if self.down else 'up'}"
