"""Compile PostgreSQL's `log_line_prefix` into a regular expression for stderr logs.

Every escape PostgreSQL knows is supported, with padding (`%-10u`, `%5p`) and `%q` (the rest
of the prefix is omitted by processes that have no session). The compiled pattern matches one
whole line — prefix, severity and message — and always defines the same named groups, so the
parser can read the fields of any prefix with one `match.group(*LINE_FIELDS)` call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

# Every quantifier of a fixed-shape escape is bounded, so matching one costs a bounded amount
# of work wherever the engine tries it (see compile_prefix on why that keeps a line linear).
_ZONE = r"(?: [A-Za-z+\-][A-Za-z0-9+\-:_/]{0,40})?"
# Digits are [0-9], not \d: PostgreSQL writes ASCII digits, and in a str pattern \d tests each
# character against the Unicode database (a call per digit, 7% of the matching time).
_TIME_S = r"[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]" + _ZONE
_TIME_MS = r"[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]{3}" + _ZONE

# Text of any length: names, hosts, the backend type, the command tag.
_TEXT = "text"
# escape -> (field name or None, value pattern or _TEXT). The first occurrence of a named field
# captures.
_ESCAPES: dict[str, tuple[str | None, str]] = {
    "a": ("application", _TEXT),
    "u": ("user", _TEXT),
    "d": ("database", _TEXT),
    "r": ("client", _TEXT),  # host(port) or [local]; the port is matched after the group
    "h": ("client", _TEXT),
    "b": (None, _TEXT),  # backend type ("client backend", "autovacuum worker")
    "i": (None, _TEXT),  # command tag
    "p": ("pid", r"[0-9]{1,10}"),
    "P": (None, r"[0-9]{0,10}"),  # parallel leader pid, empty outside parallel workers
    "t": ("time", _TIME_S),
    "m": ("time", _TIME_MS),
    "n": ("time", r"[0-9]{1,20}\.[0-9]{1,9}"),
    "e": ("sqlstate", r"[0-9A-Z]{5}"),
    "c": ("session_id", r"[0-9a-f]{1,16}\.[0-9a-f]{1,16}"),
    "l": ("line_no", r"[0-9]{1,20}"),
    "s": (None, _TIME_S),  # session start
    "v": (None, r"[0-9/]{0,32}"),  # virtual transaction id
    "x": (None, r"[0-9]{0,20}"),  # transaction id
    "Q": (None, r"-?[0-9]{0,20}"),  # query id
}
_TEXT_VALUES = {"r": r"[^\s(]*?", "h": r"[^\s]*?"}  # the others: .*? (within the line)

_ESCAPE_RE = re.compile(r"%(-?\d+)?(.)", re.DOTALL)

_SEVERITIES = "|".join(PRIMARY_SEVERITIES + CONTINUATION_SEVERITIES)
_SEVERITY = f"(?P<severity>{_SEVERITIES})"
_SEVERITY_AHEAD = f"(?:{_SEVERITIES}):  "  # what follows the prefix (in a lookahead)
_SEPARATOR = ":  "
# A translated log (tasks.logs.language): the severity group holds the word with its separator
# ("FEHLER:  ", "ASTUCE :  ", Korean "쿼리:"), as the catalog writes it.
ANY_WORD = "any word"  # a language without a known catalog: any "WORD:  " (elog.c writes "%s:  ")
_ANY_WORD = r"[^\W\d_][^\s:]{0,40}(?: [^\s:]{1,40}){0,2}:  "

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


def compile_prefix(log_line_prefix: str, tokens: Iterable[str] | str | None = None) -> CompiledPrefix:
    """Compile `log_line_prefix` (the server setting, unquoted) for the stderr parser.

    `tokens`: None for English severities; for a translated log, the severities and labels as
    written after the prefix, each with its separator (Language.tokens), or ANY_WORD.

    Raises LogFormatError when the prefix lacks a time (%t, %m, %n) or a process
    identifier (%p, %c): without them entries cannot be dated nor multi-line messages
    joined, and the message says exactly what to set instead.

    The pattern costs linear time per line whatever the prefix (with the server source the
    prefix comes from the monitored server). A plain regex of lazy wildcards backtracks over
    every way to split a line between them: `%u%u%u%u%m` is O(n^4) on a line that does not
    match. Here each text escape (%u, %d, %a, %h, %r, %b, %i) is an atomic group that runs
    lazily up to its anchor and never gives its choice back:
      - up to the next fixed-shape escape (a time, a pid, ... with its literals around it),
        or to the severity when it is the last escape: the text may then hold anything,
        spaces included (application names often do);
      - otherwise (another text escape follows) up to the first occurrence of the literal
        between them: `%u@%d` splits at the first "@".
    Adjacent text escapes cannot be told apart: all but the last match empty. Fixed-shape
    escapes have bounded quantifiers and are atomic with the literals that follow them.
    A text escape that runs up to a literal (and, last, the severity) is written as a
    possessive scan for the literal's first character rather than a lazy wildcard: the same
    text, without a step of the engine per character (see _up_to).
    """
    # (kind, pattern, plain): kind "lit", "text", "fixed" or "q"; plain is a literal's text
    # (None for padding and empty groups), a text escape's group opening when its value is
    # the bare wildcard (None when padded or specific: %r, %h), else None.
    items: list[tuple[str, str, str | None]] = []
    empty_text = ""  # the last text escape's pattern matching the empty string
    padded_right = False  # the last item was an escape padded on the right (%-10u)
    seen: set[str] = set()
    optional = False
    pos = 0
    for m in _ESCAPE_RE.finditer(log_line_prefix):
        padded_right = _add_literal(items, log_line_prefix[pos : m.start()], padded_right)
        pos = m.end()
        padding, escape = m.group(1), m.group(2)
        if escape == "%":
            padded_right = _add_literal(items, "%", padded_right)
            continue
        if escape == "q":
            # Non-session processes stop printing here: the rest is optional.
            if not optional:
                items.append(("q", "", None))
                optional, padded_right = True, False
            continue
        if escape not in _ESCAPES:
            continue  # unknown escapes print nothing
        name, value = _ESCAPES[escape]
        kind = "fixed"
        if value is _TEXT:
            kind, value = "text", _TEXT_VALUES.get(escape, ".*?")
            if items and items[-1][0] == "text":
                # Two text escapes with nothing between: the earlier one matches empty.
                items[-1] = ("lit", empty_text, None)
        if name and name not in seen:
            seen.add(name)
            group = f"(?P<{name}>"
        else:
            group = "(?:"
        port = r"(?:\([0-9]{0,5}\))?" if escape == "r" else ""
        # %10u pads on the left, %-10u on the right. Padding spaces are possessive, so they
        # are never traded with a value or with another run of spaces: a right-padded text
        # ends with a non-space, and the literal after it may lose its leading spaces to the
        # padding (see _add_literal).
        width = min(abs(int(padding or 0)), 1000)
        padded_right = bool(width) and padding.startswith("-")
        spaces = f" {{0,{width}}}+" if width else ""
        lead, trail = ("", spaces) if padded_right else (spaces, "")
        if padded_right and value == ".*?":
            value = "(?:.*?[^ ])??"
        plain = group if kind == "text" and value == ".*?" and not (width or port) else None
        items.append((kind, f"{lead}{group}{value}){port}{trail}", plain))
        empty_text = f"(?>{lead}{group}){port}{trail})"
    _add_literal(items, log_line_prefix[pos:], padded_right)

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

    severity, ahead, separator = _severity_patterns(tokens)
    parts = _segments(items, ahead)
    if optional:
        parts.append(")?")
    # Absent fields become groups that never participate, so every pattern has every name.
    # They sit in a first alternative that fails at once: optional groups after the message
    # would each be tried at every line (a quarter of the matching time with five of them).
    absent = "".join(f"(?P<{name}>)" for name in LINE_FIELDS if name not in seen and name not in _TAIL)
    body = "".join(parts) + severity + separator + "(?P<message>[^\n]*)"
    pattern = f"^(?:(?!){absent}|{body})" if absent else "^" + body
    return CompiledPrefix(
        prefix=log_line_prefix,
        pattern=pattern,
        line=re.compile(pattern, re.MULTILINE),
        line_bytes=re.compile(pattern.encode(), re.MULTILINE),
        fields=frozenset(seen),
    )


def _severity_patterns(tokens: Iterable[str] | str | None) -> tuple[str, str, str]:
    """(severity group, what a lookahead for it holds, separator after it)."""
    if tokens is None:
        return _SEVERITY, _SEVERITY_AHEAD, _SEPARATOR
    if tokens == ANY_WORD:
        alternatives = _ANY_WORD
    else:
        alternatives = "|".join(re.escape(token) for token in sorted(tokens, key=len, reverse=True))
    return f"(?P<severity>{alternatives})", f"(?:{alternatives})", ""


def _add_literal(items: list[tuple[str, str, str | None]], text: str, padded_right: bool) -> bool:
    """Append literal `text`; returns whether the last item is still padded on the right."""
    if not text:
        return padded_right
    if padded_right and text.startswith(" "):
        # The padding before may have taken these spaces (it cannot give them back).
        rest = text.lstrip(" ")
        items.append(("lit", f" {{0,{len(text) - len(rest)}}}", None))
        text = rest
    if text:
        items.append(("lit", re.escape(text), text))
    return False


def _segments(items: list[tuple[str, str, str | None]], severity_ahead: str) -> list[str]:
    """The prefix's items as atomic groups (see compile_prefix)."""
    parts: list[str] = []
    i, n = 0, len(items)

    def literals() -> list[tuple[str, str, str | None]]:
        nonlocal i
        out = []
        while i < n and items[i][0] == "lit":
            out.append(items[i])
            i += 1
        return out

    while i < n:
        kind, value, plain = items[i]
        i += 1
        if kind == "lit":
            parts.append(value)
        elif kind == "q":
            parts.append("(?:")
        elif kind == "fixed":
            parts.append("(?>" + value + "".join(lit[1] for lit in literals()) + ")")
        else:
            run = literals()
            segment = [value, *(lit[1] for lit in run)]
            if i < n and items[i][0] == "fixed":
                segment.append(items[i][1])
                i += 1
                segment.extend(lit[1] for lit in literals())
            else:
                ahead = severity_ahead if i == n else ""
                literal = "".join(lit[2] or "" for lit in run) if all(lit[2] for lit in run) else ""
                scan = _up_to(plain, literal, ahead) if plain and literal else None
                if scan:
                    segment[0] = scan
                elif ahead:
                    segment.append(f"(?={ahead})")
            parts.append("(?>" + "".join(segment) + ")")
    return parts


def _up_to(group: str, literal: str, ahead: str) -> str | None:
    """A text escape's group (opened by `group`) holding the line up to the first occurrence of
    `literal` followed by `ahead` (a lookahead's content, or ""): what `.*?` before them holds,
    found by a possessive scan for the literal's first character (linear, never backtracked
    into) rather than a lazy wildcard trying the rest at every character. The literal itself
    follows the group. None when the literal starts with a newline or a non-ASCII character
    (in the bytes pattern that is several bytes, which a character class cannot hold)."""
    first, rest = literal[0], re.escape(literal[1:]) + ahead
    if first == "\n" or not first.isascii():
        return None
    others = f"[^{re.escape(first)}\n]*+"
    if not rest:
        return f"{group}{others})"
    return f"{group}{others}(?:{re.escape(first)}(?!{rest}){others})*+)"
