"""How times are written: in results and finding details, the API's form; in text for people,
the console's.

- `utc_iso` is the machine form, "2024-01-01T02:00:00Z": UTC, whole seconds, a trailing Z.
  The API writes every time this way (monitoring/api/serializers.py uses this function), and
  so do execution results and finding details, so that a script reads one form everywhere
  (jq's `fromdateiso8601` takes exactly this one: no fraction, no offset).
- The API's long lists (monitoring/api/rows.py) have the database write this same form
  (`UtcIso` there) rather than load each time into Python to write it here; this module
  stays free of Django, for the log analyzer's command line.
- `utc_text` is the human form, "2024-01-01 02:00 UTC", the one the console shows (its
  Django formats in monitoring/console/formats/en/formats.py say the same). Finding messages
  use it.
"""

from __future__ import annotations

from datetime import UTC, datetime

TEXT_FORMAT = "%Y-%m-%d %H:%M UTC"


def utc_iso(value: datetime | None) -> str | None:
    """ "2024-01-01T02:00:00Z"; None stays None.

    Fractions are truncated, not rounded, so a time is never written later than it happened.
    A naive time (a log line whose zone could not be resolved) has no known offset: it is
    written as it was logged, without a zone, rather than labelled UTC wrongly.
    """
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(microsecond=0).isoformat()
    # isoformat, not strftime: the year has four digits before 1000 too ("0999"), as
    # ISO 8601 and UtcIso write it.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def utc_text(value: datetime) -> str:
    """ "2024-01-01 02:00 UTC": a time in a sentence for a person."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.strftime("%Y-%m-%d %H:%M")
    return value.astimezone(UTC).strftime(TEXT_FORMAT)


def same_instant(first: str | None, second: str | None) -> bool:
    """Whether two stored ISO 8601 times name the same second.

    Results written before `utc_iso` carry "+00:00" and microseconds; a run comparing its
    snapshot with an older one must not take the change of form for a change of time.
    """
    if first is None or second is None:
        return first is second
    try:
        a, b = datetime.fromisoformat(first), datetime.fromisoformat(second)
    except ValueError:
        return first == second
    return utc_iso(a) == utc_iso(b)


def json_times(value):
    """`value` with every datetime inside it (dicts, lists, tuples) written by `utc_iso`:
    finding details and results as JSON."""
    if isinstance(value, dict):
        return {str(key): json_times(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_times(item) for item in value]
    if isinstance(value, datetime):
        return utc_iso(value)
    if hasattr(value, "isoformat"):  # a date or a time of day: no zone to speak of
        return value.isoformat()
    return value
