"""How durations are written for people, in the API and the console alike.

It lives in the lowest domain app because every layer above needs it: connections (how long
no probe result has arrived), tasks and the read side (how long a run usually takes).
"""

from __future__ import annotations

import math


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


def compact_duration(seconds: float | None) -> str | None:
    """A measured duration for a table cell: "850 ms", "4.2 s", "3 min 4 s", "2 h 5 min"."""
    if seconds is None:
        return None
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"
