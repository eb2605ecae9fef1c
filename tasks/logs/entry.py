"""One log entry (a message with its DETAIL, HINT, CONTEXT, STATEMENT and QUERY lines).

A LogEntry is a tuple: the parsers build millions of them, and a tuple is built in C with no
per-field Python work. Fields hold the text as logged; `timestamp`, `pid` and `line_no` convert
on access, because only the few entries that end up in a finding ever need a datetime.
"""

from __future__ import annotations

import re
from collections import namedtuple
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

SAMPLE_LIMIT = 4096  # characters of an entry kept as a finding's sample

_EntryFields = namedtuple(
    "_EntryFields",
    (
        "raw_time",
        "raw_pid",
        "session_id",
        "raw_line_no",
        "user",
        "database",
        "client",
        "application",
        "severity",
        "sqlstate",
        "message",
        "detail",
        "hint",
        "context",
        "statement",
        "query",
    ),
)

FIELD_COUNT = len(_EntryFields._fields)
# Indexes of the fields, for the hot loops (a tuple index is faster than an attribute).
RAW_TIME = _EntryFields._fields.index("raw_time")
SEVERITY = _EntryFields._fields.index("severity")
MESSAGE = _EntryFields._fields.index("message")
DETAIL, HINT, CONTEXT, STATEMENT, QUERY = (
    _EntryFields._fields.index(name) for name in ("detail", "hint", "context", "statement", "query")
)
CONTINUATION_INDEX = {"DETAIL": DETAIL, "HINT": HINT, "CONTEXT": CONTEXT, "STATEMENT": STATEMENT, "QUERY": QUERY}


class LogEntry(_EntryFields):
    """A parsed log entry. Text fields are str or None (empty when the log printed nothing)."""

    __slots__ = ()

    @property
    def timestamp(self) -> datetime | None:
        """When the entry was logged; timezone-aware when the log names a known zone."""
        return parse_log_time(self.raw_time) if self.raw_time else None

    @property
    def pid(self) -> int | None:
        if self.raw_pid:
            return int(self.raw_pid)
        if self.session_id and "." in self.session_id:
            # %c is "<session start, hex>.<pid, hex>".
            return int(self.session_id.rsplit(".", 1)[1], 16)
        return None

    @property
    def line_no(self) -> int | None:
        return int(self.raw_line_no) if self.raw_line_no else None

    def text(self, limit: int = SAMPLE_LIMIT) -> str:
        """The entry rendered like a stderr log, bounded to `limit` characters."""
        who = f"{self.user}@{self.database} " if self.user or self.database else ""
        lines = [f"{self.raw_time or ''} [{self.pid or ''}] {who}{self.severity}:  {self.message}"]
        for label, value in (
            ("DETAIL", self.detail),
            ("HINT", self.hint),
            ("CONTEXT", self.context),
            ("QUERY", self.query),
            ("STATEMENT", self.statement),
        ):
            if value:
                lines.append(f"{label}:  {value}")
        text = "\n".join(lines)
        return text if len(text) <= limit else text[: limit - 1] + "…"


def make_entry(values: tuple | list) -> LogEntry:
    """Build a LogEntry from a full-length sequence of field values (no validation, C speed)."""
    return tuple.__new__(LogEntry, values)


_ZONES = {
    "UTC": UTC,
    "GMT": UTC,
    "Z": UTC,
    "CET": timezone(timedelta(hours=1), "CET"),
    "CEST": timezone(timedelta(hours=2), "CEST"),
    "EET": timezone(timedelta(hours=2), "EET"),
    "EEST": timezone(timedelta(hours=3), "EEST"),
    "WET": timezone(timedelta(0), "WET"),
    "WEST": timezone(timedelta(hours=1), "WEST"),
    "BST": timezone(timedelta(hours=1), "BST"),
    "MSK": timezone(timedelta(hours=3), "MSK"),
    "IST": timezone(timedelta(hours=5, minutes=30), "IST"),
    "JST": timezone(timedelta(hours=9), "JST"),
    "KST": timezone(timedelta(hours=9), "KST"),
    "EST": timezone(timedelta(hours=-5), "EST"),
    "EDT": timezone(timedelta(hours=-4), "EDT"),
    "CST": timezone(timedelta(hours=-6), "CST"),
    "CDT": timezone(timedelta(hours=-5), "CDT"),
    "MST": timezone(timedelta(hours=-7), "MST"),
    "MDT": timezone(timedelta(hours=-6), "MDT"),
    "PST": timezone(timedelta(hours=-8), "PST"),
    "PDT": timezone(timedelta(hours=-7), "PDT"),
    "AEST": timezone(timedelta(hours=10), "AEST"),
    "AEDT": timezone(timedelta(hours=11), "AEDT"),
}
_NUMERIC_ZONE = re.compile(r"^([+-])(\d\d):?(\d\d)?$")


@lru_cache(maxsize=256)
def _zone(name: str) -> timezone | None:
    if name in _ZONES:
        return _ZONES[name]
    m = _NUMERIC_ZONE.match(name)
    if m:
        offset = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        return timezone(-offset if m.group(1) == "-" else offset)
    return None  # an abbreviation we cannot resolve: keep the local (naive) time


def parse_log_time(raw: str) -> datetime | None:
    """Parse %t / %m ("2024-05-01 12:00:00.123 UTC") or %n (epoch seconds) into a datetime."""
    raw = raw.strip()
    if not raw:
        return None
    if "-" not in raw[:5]:
        try:
            return datetime.fromtimestamp(float(raw), UTC)
        except ValueError:
            return None
    clock, _, zone = raw.partition(" ")[2].partition(" ")
    try:
        moment = datetime.fromisoformat(raw[:10] + " " + clock)
    except ValueError:
        return None
    tz = _zone(zone) if zone else None
    return moment.replace(tzinfo=tz) if tz else moment
