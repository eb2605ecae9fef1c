"""Which format a log file is written in, told from its first lines — and a file that does not
match the format asked for, refused before thousands of bogus entries come out of it.

The head of each file (its first HEAD_BYTES, complete lines only) is enough:
  - jsonlog: a JSON object per line, with a "timestamp";
  - csvlog: CSV records of 23 fields or more whose first field is a time;
  - stderr: anything else, each entry starting with the log_line_prefix. Without a prefix,
    the common ones (COMMON_PREFIXES) are tried and the one that matches most lines is taken.
A format is plausible when at least MIN_SHARE of the head's records fit it: a jsonlog file read
as csvlog, or csvlog as stderr, fails with the format it looks like.
"""

from __future__ import annotations

import csv
import io
import json
import re

from tasks.logs.language import Language
from tasks.logs.prefix import ANY_WORD, CompiledPrefix, LogFormatError, compile_prefix

HEAD_BYTES = 64 * 1024
HEAD_RECORDS = 200
MIN_SHARE = 0.5

# Prefixes in the wild, most common first: Debian's default, PostgreSQL's default since 10,
# pgBadger's suggestions, older Debian, Amazon RDS.
COMMON_PREFIXES = (
    "%m [%p] %q%u@%d ",
    "%m [%p] ",
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] user=%u,db=%d ",
    "%t [%p]: [%l-1] ",
    "%t [%p-%l] %q%u@%d ",
    "%t [%p] %q%u@%d ",
    "%t [%p] ",
    "%m [%p] %q[user=%u,db=%d,app=%a] ",
    "%t:%r:%u@%d:[%p]:",
    "%m:%r:%u@%d:[%p]:",
)

_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_CSV_FIELDS = 23  # PostgreSQL 13+ writes 24 or 26; 23 up to 12


def head_lines(head: bytes) -> list[str]:
    """The complete lines of `head` (a file's first bytes): the last one may be cut."""
    end = head.rfind(b"\n")
    return head[:end].decode("utf-8", "replace").split("\n") if end >= 0 else []


def jsonlog_share(lines: list[str]) -> tuple[int, int]:
    """(records that are jsonlog entries, records looked at)."""
    good = total = 0
    for line in lines:
        if not line.strip():
            continue
        total += 1
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        good += isinstance(value, dict) and "timestamp" in value
        if total >= HEAD_RECORDS:
            break
    return good, total


def csvlog_share(lines: list[str]) -> tuple[int, int]:
    """(records that are csvlog entries, records looked at). A record may span lines; the last
    record of the head may be cut, so it is not judged."""
    rows = csv.reader(io.StringIO("\n".join(lines) + "\n"))
    good = total = 0
    records = []
    while len(records) <= HEAD_RECORDS:
        try:
            records.append(next(rows))
        except StopIteration:
            break
        except csv.Error:
            records.append(None)
    if len(records) > 1:
        records = records[:-1]
    for row in records[:HEAD_RECORDS]:
        if row == []:
            continue
        total += 1
        good += bool(row) and len(row) >= _CSV_FIELDS and _TIME.match(row[0]) is not None
    return good, total


def stderr_share(lines: list[str], prefix: CompiledPrefix) -> tuple[int, int]:
    """(lines that start an entry with `prefix`, lines looked at; tab continuations skipped)."""
    match = prefix.line.match
    good = total = 0
    for line in lines:
        if not line or line[0] == "\t":
            continue
        total += 1
        good += match(line) is not None
        if total >= HEAD_RECORDS:
            break
    return good, total


def _plausible(share: tuple[int, int]) -> bool:
    good, total = share
    return total > 0 and good >= MIN_SHARE * total


def detect_format(head: bytes) -> str:
    """ "jsonlog", "csvlog" or "stderr" (the default when neither fits)."""
    lines = head_lines(head)
    if not lines:
        # One line longer than the head: judge by how it starts.
        start = head.lstrip()[:40].decode("utf-8", "replace")
        if start.startswith("{"):
            return "jsonlog"
        return "csvlog" if _TIME.match(start) and "," in start[19:40] and " [" not in start else "stderr"
    if _plausible(jsonlog_share(lines)):
        return "jsonlog"
    if _plausible(csvlog_share(lines)):
        return "csvlog"
    return "stderr"


def prefix_tokens(language: Language | None):
    """What follows the prefix in a stderr line of `language` (compile_prefix's `tokens`): its
    translated severities and labels, None for English."""
    if language is None or language.english:
        return None
    return language.tokens or ANY_WORD


def detect_prefix(head: bytes, language: Language | None = None) -> str | None:
    """The common log_line_prefix that matches most of the head's lines (at least MIN_SHARE of
    them), or None. On a tie, the commonest: lines of background processes only (no session,
    so %q hides the rest) fit every prefix that ends in %q... alike."""
    lines = head_lines(head) or [head.decode("utf-8", "replace")]
    best, best_count = None, 0
    for candidate in COMMON_PREFIXES:
        share = stderr_share(lines, compile_prefix(candidate, prefix_tokens(language)))
        if _plausible(share) and share[0] > best_count:
            best, best_count = candidate, share[0]
    return best


def resolve(
    head: bytes, fmt: str, prefix: str | None, name: str, language: Language | None = None
) -> tuple[str, str | None]:
    """The format and prefix to read file `name` with, given its first bytes: "auto" detected,
    a missing stderr prefix detected, and a format that does not fit the file refused
    (LogFormatError naming the format it looks like; never quoting the file). `language`: the
    log's (its stderr lines carry translated severities)."""
    actual = detect_format(head) if fmt == "auto" else fmt
    lines = head_lines(head)
    if actual != "stderr":
        prefix = None
    elif prefix is None:
        prefix = detect_prefix(head, language)
        if prefix is None:
            raise LogFormatError(
                f"none of the common log_line_prefix values matches the first lines of {name!r}"
                + (_looks_like(lines, actual) or "; give the server's (SHOW log_line_prefix)")
            )
    if not lines:
        return actual, prefix  # an empty file, or one line longer than the head: nothing to judge
    if actual == "jsonlog":
        share = jsonlog_share(lines)
        what = "JSON objects with a timestamp"
    elif actual == "csvlog":
        share = csvlog_share(lines)
        what = f"CSV records of {_CSV_FIELDS}+ fields starting with a time"
    else:
        share = stderr_share(lines, compile_prefix(prefix, prefix_tokens(language)))
        if not _plausible(share):
            raise LogFormatError(
                f"{_none_or_only(share)} of the first {share[1]} lines of {name!r} {_verb(share)} log_line_prefix "
                f"{prefix!r}"
                + (_looks_like(lines, actual) or "; check the server's log_line_prefix (SHOW log_line_prefix)")
            )
        return actual, prefix
    if not _plausible(share):
        raise LogFormatError(
            f"{name!r} is not a {actual} file: {_none_or_only(share)} of its first {share[1]} records are "
            f"{what}{_looks_like(lines, actual)}"
        )
    return actual, prefix


def _looks_like(lines: list[str], wanted: str) -> str:
    if _plausible(jsonlog_share(lines)) and wanted != "jsonlog":
        return "; it looks like jsonlog: use format jsonlog (or auto)"
    if _plausible(csvlog_share(lines)) and wanted != "csvlog":
        return "; it looks like csvlog: use format csvlog (or auto)"
    if wanted != "stderr":
        return "; it looks like a stderr log: use format stderr (or auto) with its log_line_prefix"
    return ""


def _none_or_only(share: tuple[int, int]) -> str:
    return "none" if share[0] == 0 else f"only {share[0]}"


def _verb(share: tuple[int, int]) -> str:
    return "matches" if share[0] <= 1 else "match"
