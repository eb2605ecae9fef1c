"""Times as the console writes them: "2026-11-29 00:24 UTC", and how long ago in words.

The form is the DATETIME_FORMAT of the console's format module (formats/en/formats.py), so
the admin's own columns and these helpers agree; seconds are added where they matter (when a
run started and finished, when a check ran). Relative times say "just now" rather than
"0 minutes ago": Django's timesince counts whole minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil

WITH_SECONDS = "Y-m-d H:i:s T"  # DATETIME_FORMAT with seconds
A_MINUTE = timedelta(minutes=1)


def console_time(value: datetime | None, seconds: bool = False) -> str:
    """ "2026-11-29 00:24 UTC" ("2026-11-29 00:24:05 UTC" with seconds); "-" for no time."""
    if value is None:
        return "-"
    return date_format(timezone.localtime(value), WITH_SECONDS if seconds else "DATETIME_FORMAT")


def wrapping_time(value: datetime | None, seconds: bool = False) -> str:
    """console_time as HTML for a table cell: its day and its clock each kept whole, so that a
    narrow column wraps "2026-11-29" over "00:24 UTC", never inside the day at a hyphen."""
    if value is None:
        return "-"
    day, _, clock = console_time(value, seconds).partition(" ")
    return format_html('<span class="rv-nowrap">{}</span> <span class="rv-nowrap">{}</span>', day, clock)


def ago(value: datetime, now: datetime | None = None) -> str:
    """ "5 minutes ago", or "just now" under a minute (and for a time a skewed clock put
    slightly ahead)."""
    now = now or timezone.now()
    if now - value < A_MINUTE:
        return "just now"
    return f"{timesince(value, now)} ago"


def lasting(value: datetime, now: datetime | None = None) -> str:
    """How long something has been going on since `value`: "2 hours", or "under a minute"."""
    now = now or timezone.now()
    if now - value < A_MINUTE:
        return "under a minute"
    return timesince(value, now)


def until(value: datetime, now: datetime | None = None) -> str:
    """ "in 5 minutes", or "due now" when it is less than a minute away or past."""
    now = now or timezone.now()
    if value - now < A_MINUTE:
        return "due now"
    return f"in {timeuntil(value, now)}"
