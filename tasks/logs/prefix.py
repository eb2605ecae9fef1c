"""Compile PostgreSQL's `log_line_prefix` into a regular expression for stderr logs.

Every escape PostgreSQL knows is supported, with padding (`%-10u`, `%5p`) and `%q` (the rest
of the prefix is omitted by processes that have no session). The compiled pattern matches one
whole line — prefix, severity and message — and always defines the same named groups, so the
parser can read the fields of any prefix with one `match.group(*LINE_FIELDS)` call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The fields a stderr line can yield, in the order LogEntry stores them.
LINE_FIELDS = (
    "time",
    "pid",
    "session_id",
    "line_no",
    "user",
    "database",
    "client",
    "application",
    "severity",
    "sqlstate",
    "message",
)

# Severities as written by PostgreSQL (English messages). DEBUG1..5 are all written "DEBUG".
PRIMARY_SEVERITIES = ("LOG", "ERROR", "WARNING", "FATAL", "PANIC", "NOTICE", "INFO", "DEBUG")
# Lines that continue the previous message of the same process.
CONTINUATION_SEVERITIES = ("DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY", "LOCATION")

_ZONE = r"(?: [A-Za-z+\-][A-Za-z0-9+\-:_/]*)?"
_TIME_S = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d" + _ZONE
_TIME_MS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}" + _ZONE

# escape -> (field name or None, value pattern). The first occurrence of a named field captures.
_ESCAPES: dict[str, tuple[str | None, str]] = {
    "a": ("application", r".*?"),
    "u": ("user", r".*?"),
    "d": ("database", r".*?"),
    "r": ("client", r"[^\s(]*?"),  # host(port) or [local]; the port is matched after the group
    "h": ("client", r"[^\s]*?"),
    "b": (None, r".*?"),  # backend type ("client backend", "autovacuum worker")
    "p": ("pid", r"\d+"),
    "P": (None, r"\d*"),  # parallel leader pid, empty outside parallel workers
    "t": ("time", _TIME_S),
    "m": ("time", _TIME_MS),
    "n": ("time", r"\d+\.\d+"),
    "i": (None, r".*?"),  # command tag
    "e": ("sqlstate", r"[0-9A-Z]{5}"),
    "c": ("session_id", r"[0-9a-f]+\.[0-9a-f]+"),
    "l": ("line_no", r"\d+"),
    "s": (None, _TIME_S),  # session start
    "v": (None, r"[0-9/]*"),  # virtual transaction id
    "x": (None, r"\d*"),  # transaction id
    "Q": (None, r"-?\d*"),  # query id
}

_ESCAPE_RE = re.compile(r"%(-?\d+)?(.)", re.DOTALL)

_SEVERITY = "(?P<severity>" + "|".join(PRIMARY_SEVERITIES + CONTINUATION_SEVERITIES) + ")"

SUGGESTED_PREFIX = "%m [%p] %q%u@%d "
_TAIL = ("severity", "message")  # always matched after the prefix


class LogFormatError(ValueError):
    """The log cannot be parsed as configured; the message says what to change."""


@dataclass(frozen=True)
class CompiledPrefix:
    """A log_line_prefix turned into line patterns (one for str, one for bytes)."""

    prefix: str
    pattern: str
    line: re.Pattern[str]
    line_bytes: re.Pattern[bytes]
    fields: frozenset[str]

    @property
    def process_key(self) -> str:
        """The field that tells processes apart (pid, or the session id that embeds it)."""
        return "pid" if "pid" in self.fields else "session_id"


def compile_prefix(log_line_prefix: str) -> CompiledPrefix:
    """Compile `log_line_prefix` (the server setting, unquoted) for the stderr parser.

    Raises LogFormatError when the prefix lacks a time (%t, %m, %n) or a process
    identifier (%p, %c): without them entries cannot be dated nor multi-line messages
    joined, and the message says exactly what to set instead.
    """
    parts: list[str] = []
    seen: set[str] = set()
    optional = False
    pos = 0
    for m in _ESCAPE_RE.finditer(log_line_prefix):
        parts.append(re.escape(log_line_prefix[pos : m.start()]))
        pos = m.end()
        padding, escape = m.group(1), m.group(2)
        if escape == "%":
            parts.append("%")
            continue
        if escape == "q":
            # Non-session processes stop printing here: the rest is optional.
            if not optional:
                parts.append("(?:")
                optional = True
            continue
        name, value = _ESCAPES.get(escape, (None, ""))  # unknown escapes print nothing
        if name and name not in seen:
            seen.add(name)
            value = f"(?P<{name}>{value})"
        else:
            value = f"(?:{value})"
        if escape == "r":
            value += r"(?:\(\d*\))?"
        if padding:
            value = f" *{value} *"
        parts.append(value)
    parts.append(re.escape(log_line_prefix[pos:]))
    if optional:
        parts.append(")?")

    missing = []
    if "time" not in seen:
        missing.append("no time (%t or %m)")
    if "pid" not in seen and "session_id" not in seen:
        missing.append("no process id (%p)")
    if missing:
        raise LogFormatError(
            f"log_line_prefix {log_line_prefix!r} has {' and '.join(missing)}; "
            f"set log_line_prefix = '{SUGGESTED_PREFIX}' (or add the missing escapes) — pgBadger needs these too"
        )

    # Absent fields become groups that never participate, so every pattern has every name.
    absent = "".join(f"(?:(?P<{name}>)(?!))?" for name in LINE_FIELDS if name not in seen and name not in _TAIL)
    pattern = "^" + "".join(parts) + _SEVERITY + ":  (?P<message>[^\n]*)" + absent
    return CompiledPrefix(
        prefix=log_line_prefix,
        pattern=pattern,
        line=re.compile(pattern, re.MULTILINE),
        line_bytes=re.compile(pattern.encode(), re.MULTILINE),
        fields=frozenset(seen),
    )
