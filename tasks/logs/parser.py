"""Streaming parsers for PostgreSQL server logs: stderr (any log_line_prefix), csvlog, jsonlog.

A parser is fed raw bytes in chunks of any size and returns the entries that are complete.
It keeps the bytes of the entry still in progress (a chunk may end mid-line, or between an
ERROR line and its STATEMENT line), so feeding a log in one piece or one byte at a time gives
the same entries. `consumed_bytes` is always an entry boundary: an incremental reader stores it
and starts the next run there.

Work is done a whole block at a time: one `decode`, then one compiled regex (stderr) or the C
csv/json parsers walk the block, and each entry is a tuple built in C. No per-line Python work
happens for lines that continue an entry (tab-continued lines are the text between matches).
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Protocol

from tasks.logs.entry import CONTINUATION_INDEX, FIELD_COUNT, MESSAGE, LogEntry, make_entry
from tasks.logs.prefix import CONTINUATION_SEVERITIES, LINE_FIELDS, CompiledPrefix, LogFormatError, compile_prefix

FORMATS = ("stderr", "csvlog", "jsonlog")
# An entry larger than this (a huge multi-line statement) is emitted in pieces rather than
# buffered without bound.
MAX_ENTRY_BYTES = 32 * 1024 * 1024

_CONTINUATIONS = frozenset(CONTINUATION_SEVERITIES)
_NO_CONTINUATION = (None,) * (FIELD_COUNT - len(LINE_FIELDS))


class LogParser(Protocol):
    """What every parser offers."""

    consumed_bytes: int
    entries: int
    skipped_lines: int

    def feed(self, chunk: bytes) -> list[LogEntry]: ...

    def close(self, partial: bool = False) -> list[LogEntry]: ...


def make_parser(fmt: str, prefix: str | None = None) -> LogParser:
    """A parser for `fmt` ("stderr", "csvlog" or "jsonlog"); stderr needs the log_line_prefix."""
    if fmt == "stderr":
        if prefix is None:
            raise LogFormatError("stderr logs need the server's log_line_prefix (SHOW log_line_prefix)")
        return StderrParser(prefix)
    if fmt == "csvlog":
        return CsvlogParser()
    if fmt == "jsonlog":
        return JsonlogParser()
    raise LogFormatError(f"unknown log format {fmt!r}; use one of {', '.join(FORMATS)}")


class _ChunkedParser:
    """Buffering shared by the formats: split off the complete entries of each chunk."""

    def __init__(self) -> None:
        self._buf = b""
        self.consumed_bytes = 0  # bytes fed whose entries have all been returned
        self.entries = 0
        self.skipped_lines = 0  # lines that fit no entry (wrong prefix, garbage, orphans)

    @property
    def pending_bytes(self) -> int:
        """Bytes held back: the entry in progress and any truncated last line."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[LogEntry]:
        """Add `chunk`; return the entries it completed. Iterate them before the next feed."""
        buf = self._buf + chunk if self._buf else bytes(chunk)
        end = buf.rfind(b"\n") + 1
        cut = self._boundary(buf, end) if end else 0
        if cut == 0 and end > MAX_ENTRY_BYTES:
            cut = end
        if cut == 0:
            self._buf = buf
            return []
        self._buf = buf[cut:]
        return self._take(buf[:cut], cut)

    def close(self, partial: bool = False) -> list[LogEntry]:
        """Return the entries still buffered.

        A last line without its newline may still be being written by the server, so it is
        left unconsumed (the next incremental run reads it whole) unless `partial` is true —
        for a file that will not grow any more (rotated, compressed).
        """
        buf = self._buf
        if partial and buf and not buf.endswith(b"\n"):
            block, size = buf + b"\n", len(buf)
        else:
            size = buf.rfind(b"\n") + 1
            block = buf[:size]
        self._buf = buf[size:]
        return self._take(block, size) if block else []

    def _take(self, block: bytes, size: int) -> list[LogEntry]:
        entries = self._parse(block.decode("utf-8", "replace"))
        self.consumed_bytes += size
        self.entries += len(entries)
        return entries

    def _boundary(self, buf: bytes, end: int) -> int:
        """The offset (at most `end`) where the last entry that may still grow starts."""
        raise NotImplementedError

    def _parse(self, text: str) -> list[LogEntry]:
        raise NotImplementedError


class StderrParser(_ChunkedParser):
    """stderr logs: a log_line_prefix on every line, continuation lines by severity or tab."""

    def __init__(self, prefix: str | CompiledPrefix) -> None:
        super().__init__()
        self.prefix = prefix if isinstance(prefix, CompiledPrefix) else compile_prefix(prefix)
        self._key = LINE_FIELDS.index(self.prefix.process_key)

    def _boundary(self, buf: bytes, end: int) -> int:
        # Walk back to the last line that starts an entry: everything before it is complete.
        match = self.prefix.line_bytes.match
        line_end = end - 1
        while True:
            start = buf.rfind(b"\n", 0, line_end) + 1
            m = match(buf, start)
            if m and m.group("severity").decode() not in _CONTINUATIONS:
                return start
            if start == 0:
                return 0
            line_end = start - 1

    def _parse(self, text: str) -> list[LogEntry]:
        out: list[LogEntry] = []
        append = out.append
        names = LINE_FIELDS
        key = self._key
        continuations = _CONTINUATIONS
        tail = _NO_CONTINUATION
        new = tuple.__new__  # LogEntry(...) without a Python-level call per entry
        cur: tuple | None = None  # the entry being built, as matched
        full: list | None = None  # ... or as a list once a continuation was added
        last_field: int | None = MESSAGE  # where tab-continued lines go
        expected = 0
        for m in self.prefix.line.finditer(text):
            start = m.start()
            if start != expected:
                # Lines between two matches: tab-continued text, or lines we cannot parse.
                if cur is not None and full is None:
                    full = [*cur, *tail]
                self._continue(full, last_field, text[expected:start])
            g = m.group(*names)
            expected = m.end() + 1
            if g[8] in continuations and cur is not None and g[key] == cur[key]:
                if full is None:
                    full = [*cur, *tail]
                index = CONTINUATION_INDEX.get(g[8])  # None for LOCATION: not kept
                if index is not None:
                    full[index] = g[10] if full[index] is None else full[index] + "\n" + g[10]
                last_field = index
                continue
            if cur is not None:
                append(new(LogEntry, full if full is not None else cur + tail))
            cur, full, last_field = g, None, MESSAGE
        if expected < len(text):
            if cur is not None and full is None:
                full = [*cur, *tail]
            self._continue(full, last_field, text[expected:])
        if cur is not None:
            append(new(LogEntry, full if full is not None else cur + tail))
        return out

    def _continue(self, full: list | None, field: int | None, gap: str) -> None:
        for line in gap.split("\n")[:-1]:
            if line[:1] == "\t" and full is not None:
                # PostgreSQL writes a tab after each newline inside a message.
                if field is not None:
                    full[field] = (full[field] or "") + "\n" + line[1:]
            elif line:
                self.skipped_lines += 1


# csvlog columns (PostgreSQL 13+ adds backend_type, 14+ leader_pid and query_id).
_CSV_COLUMNS = {
    "raw_time": 0,
    "raw_pid": 3,
    "session_id": 5,
    "raw_line_no": 6,
    "user": 1,
    "database": 2,
    "client": 4,
    "application": 22,
    "severity": 11,
    "sqlstate": 12,
    "message": 13,
    "detail": 14,
    "hint": 15,
    "context": 18,
    "statement": 19,
    "query": 16,
}
_PORT = re.compile(r":\d+$")


class CsvlogParser(_ChunkedParser):
    """csvlog: one CSV record per entry; quoted fields may span lines."""

    def _boundary(self, buf: bytes, end: int) -> int:
        # A newline ends a record only outside quotes: where the count of quotes before it is even.
        quotes = buf.count(b'"', 0, end)
        while end:
            if quotes % 2 == 0:
                return end
            start = buf.rfind(b"\n", 0, end - 1) + 1
            quotes -= buf.count(b'"', start, end)
            end = start
        return 0

    def _parse(self, text: str) -> list[LogEntry]:
        out: list[LogEntry] = []
        append = out.append
        for row in csv.reader(io.StringIO(text)):
            if len(row) < 23:
                self.skipped_lines += 1
                continue
            client = row[4]
            append(
                make_entry(
                    (
                        row[0],
                        row[3],
                        row[5],
                        row[6],
                        row[1],
                        row[2],
                        _PORT.sub("", client) if client else client,
                        row[22],
                        row[11],
                        row[12],
                        row[13],
                        row[14] or None,
                        row[15] or None,
                        row[18] or None,
                        row[19] or None,
                        row[16] or None,
                    )
                )
            )
        return out


class JsonlogParser(_ChunkedParser):
    """jsonlog (PostgreSQL 15+): one JSON object per line."""

    def _boundary(self, buf: bytes, end: int) -> int:
        return end

    def _parse(self, text: str) -> list[LogEntry]:
        out: list[LogEntry] = []
        append = out.append
        loads = json.loads
        for line in text.split("\n"):
            if not line:
                continue
            try:
                d = loads(line)
            except ValueError:
                self.skipped_lines += 1
                continue
            if not isinstance(d, dict):
                self.skipped_lines += 1
                continue
            get = d.get
            pid, line_no = get("pid"), get("line_num")
            append(
                make_entry(
                    (
                        get("timestamp"),
                        None if pid is None else str(pid),
                        get("session_id"),
                        None if line_no is None else str(line_no),
                        get("user"),
                        get("dbname"),
                        get("remote_host"),
                        get("application_name"),
                        get("error_severity"),
                        get("state_code"),
                        get("message") or "",
                        get("detail"),
                        get("hint"),
                        get("context"),
                        get("statement"),
                        get("internal_query"),
                    )
                )
            )
        return out
