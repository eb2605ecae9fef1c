"""Which rules an event goes to: active, listing the event, naming its connection (or none,
meaning every connection) and, for finding events, at or above the rule's minimum severity."""

from __future__ import annotations

from notifications.models import FINDING_EVENTS, NotificationEvent, NotificationRule
from tasks.models import Severity


def active_rules() -> list[NotificationRule]:
    """Every active rule with its connections: two queries, whatever the number of events."""
    return list(NotificationRule.objects.filter(is_active=True).prefetch_related("connections").order_by("id"))


def rule_matches(rule: NotificationRule, event: NotificationEvent) -> bool:
    if event.event not in (rule.events or []):
        return False
    connection_ids = {connection.id for connection in rule.connections.all()}
    if connection_ids and event.connection_id not in connection_ids:
        return False
    if event.event in FINDING_EVENTS and Severity(event.severity).rank < Severity(rule.min_severity).rank:
        return False
    return True


def matching_rules(event: NotificationEvent, rules: list[NotificationRule] | None = None) -> list[NotificationRule]:
    return [rule for rule in (active_rules() if rules is None else rules) if rule_matches(rule, event)]
