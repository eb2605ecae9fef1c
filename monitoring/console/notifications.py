"""The console's pages for notifications: the rules (editable), and the events with every
delivery attempt, its outcome and its reason (read-only: the service writes them).

A rule's URL may hold a token or a password, so no page ever shows it: lists and forms show
`mask_url` (scheme and host), and the form's URL field is write-only: it never renders the
stored value, and left blank it keeps it.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from monitoring.console.kit import (
    RECENT_ROWS,
    ConsoleModelAdmin,
    ReadOnlyHistoryInline,
    ReadOnlyRecordsMixin,
    badge,
    short_text,
    short_time,
)
from notifications.channels import mask_url, url_problem
from notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EventName,
    NotificationEvent,
    NotificationRule,
)


class WriteOnlyInput(forms.TextInput):
    """A text box that never renders a value: not the stored URL, not a submitted one."""

    def format_value(self, value) -> None:
        return None


class RuleForm(forms.ModelForm):
    new_url = forms.CharField(
        label="URL",
        required=False,
        strip=True,
        widget=WriteOnlyInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 80}),
    )
    events = forms.MultipleChoiceField(choices=EventName.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = NotificationRule
        fields = ["name", "new_url", "events", "min_severity", "connections", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        help_text = (
            "http(s)://… a JSON webhook; mailto:ops@example.com e-mail; any other scheme a chat service "
            "through apprise (slack://, tgram://, discord://, mmost://, ntfy://…)."
        )
        if self.instance.pk:
            help_text = f"Now: {mask_url(self.instance.url)}. Leave blank to keep it. " + help_text
        self.fields["new_url"].help_text = help_text
        self.fields["new_url"].required = not self.instance.pk

    def clean_new_url(self) -> str:
        url = self.cleaned_data.get("new_url", "")
        if url:
            problem = url_problem(url)
            if problem:
                raise forms.ValidationError(problem)  # names the scheme, never the URL
        return url

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("new_url"):
            self.instance.url = cleaned["new_url"]
        return cleaned


@admin.register(NotificationRule)
class NotificationRuleAdmin(ConsoleModelAdmin):
    """Who is told what: declared in the apply_config file or edited here."""

    form = RuleForm
    list_display = ["name", "channel", "event_list", "min_severity", "scope", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    filter_horizontal = ["connections"]
    ordering = ["name"]
    readonly_fields = ["created_at", "updated_at", "deliveries_link"]
    fieldsets = [
        (None, {"fields": ["name", "new_url", "events", "min_severity", "connections", "is_active"]}),
        ("History", {"fields": ["deliveries_link", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("connections")

    @admin.display(description="channel")
    def channel(self, obj: NotificationRule) -> str:
        return mask_url(obj.url)

    @admin.display(description="events")
    def event_list(self, obj: NotificationRule) -> str:
        return ", ".join(obj.events or [])

    @admin.display(description="connections")
    def scope(self, obj: NotificationRule) -> str:
        names = [connection.name for connection in obj.connections.all()]
        return short_text(", ".join(names)) if names else "all"

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: NotificationRule) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:notifications_delivery_changelist") + f"?rule__id__exact={obj.pk}"
        return format_html('<a href="{}">Every delivery of this rule</a>', url)


class DeliveryInline(ReadOnlyHistoryInline):
    model = Delivery
    verbose_name_plural = "Deliveries (one per matching rule)"
    fields = ["delivery", "rule", "channel", "status_badge", "attempts", "next_attempt", "sent", "error"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("rule")

    @admin.display(description="delivery")
    def delivery(self, obj: Delivery) -> str:
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:notifications_delivery_change", args=[obj.pk]), obj.pk
        )

    @admin.display(description="channel")
    def channel(self, obj: Delivery) -> str:
        return mask_url(obj.rule.url)

    @admin.display(description="status")
    def status_badge(self, obj: Delivery) -> str:
        return badge(obj.status)

    @admin.display(description="next attempt")
    def next_attempt(self, obj: Delivery) -> str:
        return short_time(obj.next_attempt_at) if obj.status == DeliveryStatus.PENDING else "-"

    @admin.display(description="sent at")
    def sent(self, obj: Delivery) -> str:
        return short_time(obj.sent_at)

    @admin.display(description="last error")
    def error(self, obj: Delivery) -> str:
        return short_text(obj.last_error, 160)


class AttemptInline(ReadOnlyHistoryInline):
    model = DeliveryAttempt
    verbose_name_plural = f"Attempts (newest {RECENT_ROWS})"
    fields = ["rule", "number", "started", "finished", "outcome_badge", "reason"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("delivery__rule")

    @admin.display(description="rule")
    def rule(self, obj: DeliveryAttempt) -> str:
        return obj.delivery.rule.name

    @admin.display(description="started")
    def started(self, obj: DeliveryAttempt) -> str:
        return short_time(obj.started_at)

    @admin.display(description="finished")
    def finished(self, obj: DeliveryAttempt) -> str:
        return short_time(obj.finished_at)

    @admin.display(description="outcome")
    def outcome_badge(self, obj: DeliveryAttempt) -> str:
        return badge(obj.outcome)


class EventAttemptInline(AttemptInline):
    fk_name = "event"


class DeliveryAttemptInline(AttemptInline):
    fk_name = "delivery"


def _link(name: str, object_id: int | None) -> str:
    if not object_id:
        return "-"
    return format_html('<a href="{}">#{}</a>', reverse(name, args=[object_id]), object_id)


@admin.register(NotificationEvent)
class NotificationEventAdmin(ReadOnlyRecordsMixin, ConsoleModelAdmin):
    """What happened and was worth a message, with each delivery and attempt."""

    list_display = ["id", "created_at", "event", "severity_badge", "connection_name", "summary", "delivered"]
    list_display_links = ["id"]
    list_filter = ["event", "severity", "connection"]
    search_fields = ["message", "connection_name"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    ordering = ["-id"]
    inlines = [DeliveryInline, EventAttemptInline]
    fields = [
        "uuid",
        "event",
        "severity",
        "connection",
        "task_link",
        "execution_link",
        "finding_link",
        "message",
        "closes_link",
        "created_at",
        "payload_json",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                sent_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)),
                failed_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
                waiting_count=Count(
                    "deliveries", filter=Q(deliveries__status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
                ),
            )
        )

    @admin.display(description="severity", ordering="severity")
    def severity_badge(self, obj: NotificationEvent) -> str:
        return badge(obj.severity)

    @admin.display(description="message")
    def summary(self, obj: NotificationEvent) -> str:
        return short_text(obj.message, 100)

    @admin.display(description="deliveries")
    def delivered(self, obj: NotificationEvent) -> str:
        parts = [(obj.sent_count, "sent"), (obj.waiting_count, "waiting"), (obj.failed_count, "failed")]
        return ", ".join(f"{n} {label}" for n, label in parts if n) or "no matching rule"

    @admin.display(description="task")
    def task_link(self, obj: NotificationEvent) -> str:
        return _link("admin:tasks_task_change", obj.task_id)

    @admin.display(description="execution")
    def execution_link(self, obj: NotificationEvent) -> str:
        return _link("admin:tasks_taskexecution_change", obj.execution_id)

    @admin.display(description="finding")
    def finding_link(self, obj: NotificationEvent) -> str:
        return _link("admin:tasks_finding_change", obj.finding_id)

    @admin.display(description="closes")
    def closes_link(self, obj: NotificationEvent) -> str:
        if not obj.closes_id:
            return "-"
        url = reverse("admin:notifications_notificationevent_change", args=[obj.closes_id])
        return format_html('<a href="{}">{} #{}</a>', url, obj.closes.event, obj.closes_id)

    @admin.display(description="webhook payload")
    def payload_json(self, obj: NotificationEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyRecordsMixin, ConsoleModelAdmin):
    """Every message: to which rule, how it went, and each attempt."""

    list_display = ["id", "event_link", "rule", "channel", "status_badge", "attempts", "sent_at", "error"]
    list_display_links = ["id"]
    list_filter = ["status", "rule"]
    list_select_related = ["event", "rule"]
    show_full_result_count = False
    ordering = ["-id"]
    inlines = [DeliveryAttemptInline]
    fields = ["event_link", "rule", "channel", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
    readonly_fields = fields

    @admin.display(description="event")
    def event_link(self, obj: Delivery) -> str:
        url = reverse("admin:notifications_notificationevent_change", args=[obj.event_id])
        return format_html('<a href="{}">{} #{}</a>', url, obj.event.event, obj.event_id)

    @admin.display(description="channel")
    def channel(self, obj: Delivery) -> str:
        return mask_url(obj.rule.url)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Delivery) -> str:
        return badge(obj.status)

    @admin.display(description="last error")
    def error(self, obj: Delivery) -> str:
        return short_text(obj.last_error, 120)
