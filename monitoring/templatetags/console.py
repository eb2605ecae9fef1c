"""The console's template filters for times ({% load console %}); see monitoring/console/dates.py.

    {{ value|utc }}             2026-11-29 00:24 UTC
    {{ value|utc:"seconds" }}   2026-11-29 00:24:05 UTC
    {{ value|utc:"cell" }}      the same as HTML that wraps between day and clock only
    {{ value|utc:"cell,seconds" }}
    {{ value|ago:now }}         5 minutes ago / just now
    {{ value|lasting:now }}     2 hours / under a minute
    {{ value|until:now }}       in 5 minutes / due now

Each returns "" for no time, so `|default:"–"` still works after it.
"""

from __future__ import annotations

from django import template

from monitoring.console import dates

register = template.Library()


@register.filter
def utc(value, form: str = "") -> str:
    if value in (None, ""):
        return ""
    options = set(form.split(","))
    if "cell" in options:
        return dates.wrapping_time(value, seconds="seconds" in options)
    return dates.console_time(value, seconds="seconds" in options)


@register.filter
def ago(value, now=None) -> str:
    return "" if value in (None, "") else dates.ago(value, now or None)


@register.filter
def lasting(value, now=None) -> str:
    return "" if value in (None, "") else dates.lasting(value, now or None)


@register.filter
def until(value, now=None) -> str:
    return "" if value in (None, "") else dates.until(value, now or None)
