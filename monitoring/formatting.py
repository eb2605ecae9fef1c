"""How the API writes times and durations (contract.md, "Representation")."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def utc_timestamp(value: datetime | None) -> str | None:
    """UTC, ISO 8601, whole seconds, trailing Z: "2024-01-01T02:00:00Z".

    Exactly the form jq's `fromdateiso8601` accepts (no fraction, no offset), which the
    document's alerting script relies on. Fractions are truncated, not rounded, so a time
    is never written later than it happened.
    """
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _round_half_up(value: float) -> int:
    # round() rounds half to even (2.5 -> 2); people expect 2 min 30 s to read "3 minutes".
    return math.floor(value + 0.5)


def human_duration(seconds: float) -> str:
    """A duration as a person would say it: "45 seconds", "5 minutes", "1 hour 10 minutes".

    Under a minute: whole seconds, at least 1 (an estimate of "0 seconds" says nothing).
    Under an hour: whole minutes, rounded. Otherwise hours and the rounded remaining minutes,
    the minutes left out when there are none ("2 hours"). Rounding happens before choosing
    the unit, so 59.6 s reads "1 minute" and 59 min 50 s reads "1 hour".
    """
    total_seconds = max(1, _round_half_up(seconds))
    if total_seconds < 60:
        return _plural(total_seconds, "second")
    minutes = max(1, _round_half_up(total_seconds / 60))
    if minutes < 60:
        return _plural(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    text = _plural(hours, "hour")
    return f"{text} {_plural(minutes, 'minute')}" if minutes else text
