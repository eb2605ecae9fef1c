"""The console's template filters ({% load console %}): times (see monitoring/console/dates.py)
and the figures of reports.

    {{ value|utc }}             2026-11-29 00:24 UTC
    {{ value|utc:"seconds" }}   2026-11-29 00:24:05 UTC
    {{ value|utc:"cell" }}      the same as HTML that wraps between day and clock only
    {{ value|utc:"cell,seconds" }}
    {{ value|ago:now }}         5 minutes ago / just now
    {{ value|lasting:now }}     2 hours / under a minute
    {{ value|until:now }}       in 5 minutes / due now
    {{ value|number }}          12,345 (number:1 -> 12,345.6)
    {{ value|size }}            27.1 MB (a number of bytes; size_kb for kilobytes)

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


@register.filter
def number(value, digits: int = 0) -> str:
    """12,345 (or 12,345.6 with `number:1`): figures of the workload report, grouped by
    thousands; "" for no value."""
    if value in (None, ""):
        return ""
    try:
        return f"{float(value):,.{int(digits)}f}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def size(value) -> str:
    """Bytes as people read them: 512 B, 27.1 MB."""
    if value in (None, ""):
        return ""
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1024:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"


@register.filter
def size_kb(value) -> str:
    """A number of kilobytes (as PostgreSQL logs distances) as people read it."""
    if value in (None, ""):
        return ""
    return size(float(value) * 1024)
