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
from tasks.logs.language import Language
from tasks.logs.prefix import (
    ANY_WORD,
    CONTINUATION_SEVERITIES,
    LINE_FIELDS,
    CompiledPrefix,
    LogFormatError,
    compile_prefix,
)

FORMATS = ("stderr", "csvlog", "jsonlog")
# A line longer than this is cut: its first MAX_LINE_BYTES are kept and the rest, up to the
# next newline, is skipped without being buffered (and counted: truncated_lines/_bytes).
MAX_LINE_BYTES = 256 * 1024
# An entry of many lines stops growing here (checked as chunks arrive, so it may keep up to a
# chunk more): a stderr entry keeps its first lines, its later lines are skipped and counted; a
# csvlog record is emitted in pieces.
MAX_ENTRY_BYTES = 1024 * 1024
# A line longer than MAX_LINE_BYTES covers a whole window of this size: a chunk with a newline
# in each window (nearly every chunk) needs no line-by-line look.
_WINDOW = MAX_LINE_BYTES // 2

_CONTINUATIONS = frozenset(CONTINUATION_SEVERITIES)
_CONTINUATION_BYTES = frozenset(severity.encode() for severity in CONTINUATION_SEVERITIES)
_NO_CONTINUATION = (None,) * (FIELD_COUNT - len(LINE_FIELDS))


class LogParser(Protocol):
    """What every parser offers."""

    consumed_bytes: int
    entries: int
    skipped_lines: int

    @property
    def pending_bytes(self) -> int: ...

    def feed(self, chunk: bytes) -> list[LogEntry]: ...

    def close(self, partial: bool = False) -> list[LogEntry]: ...


def make_parser(fmt: str, prefix: str | None = None, language: Language | None = None) -> LogParser:
    """A parser for `fmt` ("stderr", "csvlog" or "jsonlog"); stderr needs the log_line_prefix.
    With a translated `language` (tasks.logs.language), entries come out in English."""
    if fmt == "stderr":
        if prefix is None:
            raise LogFormatError("stderr logs need the server's log_line_prefix (SHOW log_line_prefix)")
        return StderrParser(prefix, language)
    if fmt == "csvlog":
        return CsvlogParser(language)
    if fmt == "jsonlog":
        return JsonlogParser(language)
    raise LogFormatError(f"unknown log format {fmt!r}; use one of {', '.join(FORMATS)}")


def finish_read(parser: LogParser, *, complete: bool, cut: bool, moved_on: bool = False) -> list[LogEntry]:
    """The entries left in `parser` at the end of one read of a file.

    complete: the file will not grow (rotated, compressed), so a last line without its newline
    is whole. cut: the read stopped before the end of the file (max_bytes): the last entry may
    go on in the bytes not read, so it is left for the next read — unless the run would then
    consume nothing at all (moved_on false and an entry or a line larger than the budget):
    what was read is then taken as it is, so runs move on.
    """
    if not cut:
        return parser.close(partial=complete)
    if moved_on or parser.consumed_bytes or not parser.pending_bytes:
        return []
    entries = parser.close()
    return entries if parser.consumed_bytes else entries + parser.close(partial=True)


class _ChunkedParser:
    """Buffering shared by the formats: split off the complete entries of each chunk.

    Work and memory are linear in the input: chunks are appended to one bytearray (no copy of
    what is already buffered), `_boundary` only looks at the lines added since its last call,
    a line is held to MAX_LINE_BYTES and an entry to MAX_ENTRY_BYTES. Bytes skipped by those
    caps are remembered by position, so `consumed_bytes` still counts input bytes.
    """

    # csvlog: a cut line must not change the parity of the quotes that follow it.
    _QUOTE: bytes | None = None

    def __init__(self, language: Language | None = None) -> None:
        # A translated log: entries are rewritten to English as they are parsed.
        self._translate = language.translate if language is not None and not language.english else None
        self._buf = bytearray()
        self._scanned = 0  # _boundary has looked at every complete line before this offset
        self._line = 0  # bytes of the unterminated last line of _buf
        self._skipping = False  # that line was cut: drop what comes up to the next newline
        self._skipped_quotes = 0  # quotes among the bytes dropped from that line
        self._dropped: list[tuple[int, int]] = []  # (offset in _buf, input bytes skipped there)
        self.consumed_bytes = 0  # bytes fed whose entries have all been returned
        self.entries = 0
        self.skipped_lines = 0  # lines that fit no entry (wrong prefix, garbage, orphans)
        self.truncated_lines = 0  # lines cut at MAX_LINE_BYTES or dropped beyond MAX_ENTRY_BYTES
        self.truncated_bytes = 0  # input bytes skipped by those cuts

    @property
    def pending_bytes(self) -> int:
        """Input bytes held back: the entry in progress and any truncated last line."""
        return len(self._buf) + sum(n for _, n in self._dropped)

    @property
    def buffered_bytes(self) -> int:
        """Bytes held in memory (at most MAX_ENTRY_BYTES plus a chunk and a line)."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[LogEntry]:
        """Add `chunk`; return the entries it completed. Iterate them before the next feed."""
        if self._skipping:
            at = chunk.find(b"\n")
            if at < 0:
                self._drop_tail(chunk)
                return []
            self._drop_tail(chunk[:at])
            self._end_cut_line()
            chunk = chunk[at:]
        if self._has_long_line(chunk):
            chunk = self._cut_long_lines(chunk)
        buf = self._buf
        base = len(buf)
        buf += chunk
        last = chunk.rfind(b"\n")
        if last < 0:
            self._line += len(chunk)
            return []
        self._line = len(chunk) - last - 1
        end = base + last + 1
        cut = self._boundary(buf, end)
        if cut == 0 and end > MAX_ENTRY_BYTES:
            cut, end = self._oversized(buf, end)
        self._scanned = end - cut
        return self._take(cut) if cut else []

    def close(self, partial: bool = False) -> list[LogEntry]:
        """Return the entries still buffered.

        A last line without its newline may still be being written by the server, so it is
        left unconsumed (the next incremental run reads it whole) unless `partial` is true —
        for a file that will not grow any more (rotated, compressed) — or the line was cut
        (its rest is skipped anyway: the next run starts after what was read).
        """
        buf = self._buf
        if buf and not buf.endswith(b"\n") and (partial or self._skipping):
            if self._skipping:
                self._end_cut_line()
            buf += b"\n"
            self._dropped.append((len(buf), -1))  # the newline added here was not read
            size = len(buf)
        else:
            size = buf.rfind(b"\n") + 1
        self._skipping = False
        self._scanned = 0
        return self._take(size) if size else []

    def _take(self, cut: int) -> list[LogEntry]:
        buf = self._buf
        text = buf[:cut].decode("utf-8", "replace")
        del buf[:cut]
        skipped = 0
        if self._dropped:
            kept = []
            for at, size in self._dropped:
                if at <= cut:
                    skipped += size
                else:
                    kept.append((at - cut, size))
            self._dropped = kept
        entries = self._parse(text)
        if self._translate is not None:
            entries = self._translate(entries)
        self.consumed_bytes += cut + skipped
        self.entries += len(entries)
        return entries

    # --- caps ---------------------------------------------------------------------------------

    def _has_long_line(self, chunk: bytes) -> bool:
        """Whether a line of `chunk` (or the one it continues) may be longer than MAX_LINE_BYTES."""
        size = len(chunk)
        first = chunk.find(b"\n", 0, MAX_LINE_BYTES + 1)
        if first < 0:
            first = min(size, MAX_LINE_BYTES + 1)
        if self._line + first > MAX_LINE_BYTES:
            return True
        find = chunk.find
        for at in range(first + 1, size - _WINDOW + 1, _WINDOW):
            if find(b"\n", at, at + _WINDOW) < 0:
                return True
        return size - 1 - chunk.rfind(b"\n") > MAX_LINE_BYTES

    def _cut_long_lines(self, chunk: bytes) -> bytes:
        """`chunk` with each line held to MAX_LINE_BYTES (the slow path: rare chunks only)."""
        out = bytearray()
        base = len(self._buf)
        line = self._line
        pos, size = 0, len(chunk)
        while pos < size:
            newline = chunk.find(b"\n", pos)
            stop = size if newline < 0 else newline
            room = max(MAX_LINE_BYTES - line, 0)
            if stop - pos > room:
                out += chunk[pos : pos + room]
                self.truncated_lines += 1
                self._skipping = True
                self._skipped_quotes = 0
                self._dropped.append((base + len(out), 0))
                self._drop_tail(chunk[pos + room : stop])
                if newline < 0:
                    return bytes(out)
                self._end_cut_line(out)
            else:
                out += chunk[pos:stop]
            if newline < 0:
                break
            out += b"\n"
            pos, line = newline + 1, 0
        return bytes(out)

    def _drop_tail(self, data: bytes) -> None:
        """Skip `data`, the continuation of the line being cut (it ends the buffer)."""
        at, size = self._dropped[-1]
        self._dropped[-1] = (at, size + len(data))
        self.truncated_bytes += len(data)
        if self._QUOTE:
            self._skipped_quotes += data.count(self._QUOTE)

    def _end_cut_line(self, out: bytearray | None = None) -> None:
        """The newline after a cut line arrived. For csvlog, an odd number of quotes skipped
        is made up for by one added quote, so the records after it still split right."""
        self._skipping = False
        if self._QUOTE and self._skipped_quotes % 2:
            target = self._buf if out is None else out
            at = len(self._buf) + (0 if out is None else len(out))
            target += self._QUOTE
            self._dropped.append((at + 1, -1))  # the added quote was not read
        self._skipped_quotes = 0

    def _oversized(self, buf: bytearray, end: int) -> tuple[int, int]:
        """The entry in progress passed MAX_ENTRY_BYTES: (cut, end) to go on with."""
        return end, end

    def _boundary(self, buf: bytearray, end: int) -> int:
        """The offset (at most `end`) where the last entry that may still grow starts; only
        the lines after self._scanned are new."""
        raise NotImplementedError

    def _parse(self, text: str) -> list[LogEntry]:
        raise NotImplementedError


class StderrParser(_ChunkedParser):
    """stderr logs: a log_line_prefix on every line, continuation lines by severity or tab."""

    def __init__(self, prefix: str | CompiledPrefix, language: Language | None = None) -> None:
        super().__init__(language)
        translated = language is not None and not language.english
        # Severities and labels as written -> English (None: English, nothing to map).
        self._tokens = dict(language.tokens or {}) if translated else None
        tokens = (language.tokens or ANY_WORD) if translated else None
        if isinstance(prefix, CompiledPrefix):
            self.prefix = prefix
        else:
            self.prefix = compile_prefix(prefix, tokens)
        self._key = LINE_FIELDS.index(self.prefix.process_key)
        self._continuation_bytes = _CONTINUATION_BYTES
        if self._tokens is not None:
            self._continuation_bytes = frozenset(
                token.encode() for token, english in self._tokens.items() if english in _CONTINUATIONS
            )
        # The groups of LINE_FIELDS by number: a match reads them faster than by name.
        self._groups = tuple(self.prefix.line.groupindex[name] for name in LINE_FIELDS)

    def _boundary(self, buf: bytearray, end: int) -> int:
        # Walk back over the lines added since the last call to the last one that starts an
        # entry: everything before it is complete.
        match = self.prefix.line_bytes.match
        continuations = self._continuation_bytes
        floor = self._scanned
        line_end = end - 1
        while True:
            start = buf.rfind(b"\n", 0, line_end) + 1
            if start < floor:
                return 0
            m = match(buf, start)
            if m and m.group("severity") not in continuations:
                return start
            if start == 0:
                return 0
            line_end = start - 1

    def _oversized(self, buf: bytearray, end: int) -> tuple[int, int]:
        # Keep the entry's first MAX_ENTRY_BYTES; its later lines (those added since the last
        # call, or past the cap) are skipped. Its next entry still starts it afresh.
        start = max(self._scanned, buf.rfind(b"\n", 0, MAX_ENTRY_BYTES) + 1)
        if start >= end:
            return 0, end
        size = end - start
        self.truncated_lines += buf.count(b"\n", start, end)
        self.truncated_bytes += size
        del buf[start:end]
        moved = []
        for at, skipped in self._dropped:
            if at > end:
                at -= size
            elif at > start:
                at = start
            moved.append((at, skipped))
        moved.append((start, size))
        self._dropped = moved
        return 0, start

    def _parse(self, text: str) -> list[LogEntry]:
        out: list[LogEntry] = []
        append = out.append
        names = self._groups
        key = self._key
        continuations = _CONTINUATIONS
        tail = _NO_CONTINUATION
        new = tuple.__new__  # LogEntry(...) without a Python-level call per entry
        tokens = self._tokens  # a translated log: severity words -> English
        cur: tuple | None = None  # the entry being built, as matched
        full: list | None = None  # ... or as a list once a continuation was added
        last_field: int | None = MESSAGE  # where tab-continued lines go
        expected = 0
        for m in self.prefix.line.finditer(text):
            start, end = m.span()
            if start != expected:
                # Lines between two matches: tab-continued text, or lines we cannot parse.
                if cur is not None and full is None:
                    full = [*cur, *tail]
                self._continue(full, last_field, text[expected:start])
            g = m.group(*names)
            expected = end + 1
            # A translated log keeps its words here (Language.translate makes them English).
            severity = g[8] if tokens is None else tokens.get(g[8], "")
            if severity in continuations and cur is not None and g[key] == cur[key]:
                if full is None:
                    full = [*cur, *tail]
                index = CONTINUATION_INDEX.get(severity)  # None for LOCATION: not kept
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
# The csv module refuses fields over 128 KB by default; a field is bounded by the line and
# entry caps here.
csv.field_size_limit(max(csv.field_size_limit(), 2 * MAX_ENTRY_BYTES))


class CsvlogParser(_ChunkedParser):
    """csvlog: one CSV record per entry; quoted fields may span lines."""

    _QUOTE = b'"'

    def __init__(self, language: Language | None = None) -> None:
        super().__init__(language)
        self._quotes = 0  # quotes in _buf[:_scanned]

    def _boundary(self, buf: bytearray, end: int) -> int:
        # A newline ends a record only outside quotes: where the count of quotes before it is
        # even. Only the line ends added since the last call are new.
        floor = self._scanned
        total = self._quotes + buf.count(b'"', floor, end)
        quotes, at = total, end
        while at > floor:
            if quotes % 2 == 0:
                self._quotes = total - quotes
                return at
            start = buf.rfind(b"\n", 0, at - 1) + 1
            quotes -= buf.count(b'"', start, at)
            at = start
        self._quotes = total
        return 0

    def _oversized(self, buf: bytearray, end: int) -> tuple[int, int]:
        # A record this large is emitted in pieces; the next piece starts inside a quoted field.
        self._quotes = 1
        return end, end

    def _parse(self, text: str) -> list[LogEntry]:
        out: list[LogEntry] = []
        append = out.append
        rows = csv.reader(io.StringIO(text))
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error:  # a malformed record: the reader goes on at the next line
                self.skipped_lines += 1
                continue
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

    def _boundary(self, buf: bytearray, end: int) -> int:
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
