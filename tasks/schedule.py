"""Cron schedules (UTC) of tasks."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter


def cron_error(expression: str) -> str | None:
    """A readable reason the expression is not a 5-field cron schedule, or None if it is."""
    if not expression:
        return None
    fields = expression.split()
    if len(fields) != 5:
        return f"A cron schedule has 5 fields (minute hour day month weekday), not {len(fields)}: {expression!r}."
    if not croniter.is_valid(expression):
        return f"Not a valid cron schedule: {expression!r}."
    return None


def next_run_after(expression: str, moment: datetime) -> datetime:
    """The first slot of the schedule strictly after `moment` (both in UTC)."""
    return croniter(expression, moment).get_next(datetime)
