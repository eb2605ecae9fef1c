"""The `notifications:` section of the apply_config file: rules upserted by name.

    notifications:
      - name: On-call webhook
        url: http://alerts.internal:9000/hook
        events: [connection_down, connection_recovered, execution_failed, finding_opened, finding_resolved]
        min_severity: warning          # for finding events; default warning
        connections: [Production DB]   # optional; default all
        is_active: true                # optional; default true

Registered with tasks/config_file.py from NotificationsConfig.ready(): it is checked with the
rest of the file (every error at once, naming the entry and the field, never the URL) and
written in the same transaction, so `--dry-run` and all-or-nothing hold for it too.
"""

from __future__ import annotations

from typing import Any

from connections.models import Connection
from notifications.models import NotificationRule
from tasks.config_file import (
    ConfigSection,
    Plan,
    Tally,
    check_keys,
    entry_label,
    entry_names,
    format_problems,
    full_clean_problems,
    problem_fields,
    register_section,
    save_planned,
    type_name,
)

SECTION = "notifications"
RULE_KEYS: dict[str, type] = {
    "name": str,
    "url": str,
    "events": list,
    "min_severity": str,
    "connections": list,
    "is_active": bool,
}
RULE_REQUIRED = ("name", "url", "events")
FIELDS = ("name", "url", "events", "min_severity", "is_active")

# (rule with the file's values, changed fields or None for a new rule, its connections,
# whether its connections change)
RulePlan = tuple[NotificationRule, list[str] | None, list[Connection], bool]


def plan_rules(entries: list[dict[str, Any]], connections: dict[str, Plan | None], errors: list[str]) -> list[RulePlan]:
    existing = {
        rule.name: rule
        for rule in NotificationRule.objects.filter(name__in=entry_names(entries)).prefetch_related("connections")
    }
    referenced = {
        name for entry in entries if isinstance(entry.get("connections"), list) for name in entry["connections"]
    }
    named = {name for name in referenced if isinstance(name, str)} - set(connections)
    in_db = {c.name: c for c in Connection.objects.filter(name__in=named)}
    planned: list[RulePlan] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        problems = check_keys(entry, RULE_KEYS, RULE_REQUIRED)
        name = entry.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append(("name", "listed twice in `notifications`"))
            seen.add(name)
        targets, complete = _connections(entry.get("connections"), connections, in_db, problems)
        rule = existing.get(name) if isinstance(name, str) else None
        is_new = rule is None
        rule = rule or NotificationRule()
        skip = problem_fields(problems)
        changed: list[str] = []
        for key in FIELDS:
            if key in skip:
                continue
            value = entry.get(key)
            if value is None:
                value = rule._meta.get_field(key).get_default()
            if getattr(rule, key) != value:
                changed.append(key)
                setattr(rule, key, value)
        problems += full_clean_problems(rule, exclude=skip | {"connections"})
        errors.extend(format_problems(entry_label(SECTION, index, entry), problems))
        if problems or not complete:
            continue
        before = set() if is_new else {c.name for c in rule.connections.all()}
        planned.append((rule, None if is_new else changed, targets, {c.name for c in targets} != before))
    return planned


def _connections(
    value: Any, in_file: dict[str, Plan | None], in_db: dict[str, Connection], problems: list[tuple[str, str]]
) -> tuple[list[Connection], bool]:
    """The connections a rule names ([] = every connection), and whether all could be used."""
    if not isinstance(value, list):
        return [], True  # absent, or a wrong type already reported
    found: list[Connection] = []
    complete = True
    for name in value:
        if not isinstance(name, str):
            problems.append(("connections", f"list connection names, not {type_name(name)}"))
        elif name in in_file:
            plan = in_file[name]
            if plan is None:
                complete = False  # its own entry is invalid, already reported
            else:
                found.append(plan[0])
        elif name in in_db:
            found.append(in_db[name])
        else:
            problems.append(("connections", f"no connection named {name!r} in the file or the database"))
    return found, complete


def save_rules(planned: list[RulePlan]) -> Tally:
    tally = Tally()
    for rule, changed, targets, targets_change in planned:
        if changed is not None and not changed and targets_change:
            changed = ["connections"]
        save_planned(rule, changed, tally)
        if changed is None or targets_change:
            rule.connections.set(targets)  # file connections are saved by now
    return tally


def register() -> None:
    register_section(ConfigSection(name=SECTION, plan=plan_rules, save=save_rules))
