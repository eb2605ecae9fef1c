"""The parsers' bounds: a line is held to MAX_LINE_BYTES and an entry to MAX_ENTRY_BYTES, what
is cut is counted, and the input is still accounted for byte by byte (consumed_bytes)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tasks.logs.parser import MAX_ENTRY_BYTES, MAX_LINE_BYTES, make_parser

PREFIX = "%m [%p] %q%u@%d "
HEAD = b"2024-05-01 12:00:00.000 UTC [7] u@d "


def feed_all(parser, data: bytes, chunk: int):
    entries, most = [], 0
    for at in range(0, len(data), chunk):
        entries += parser.feed(data[at : at + chunk])
        most = max(most, parser.buffered_bytes)
    entries += parser.close(partial=True)
    return entries, most


def error(message: bytes) -> bytes:
    return HEAD + b"ERROR:  " + message + b"\n"


@pytest.mark.parametrize("chunk", [4096, 100_000, 1 << 20, 10 << 20])
def test_a_line_longer_than_the_cap_is_cut_whatever_the_chunks(chunk):
    long_line = error(b"x" * (3 * MAX_LINE_BYTES))
    data = error(b"before") + long_line + error(b"after")
    parser = make_parser("stderr", PREFIX)

    entries, most = feed_all(parser, data, chunk)

    assert [e.message[:6] for e in entries] == ["before", "xxxxxx", "after"]
    assert len(entries[1].message) == MAX_LINE_BYTES - len(HEAD) - len(b"ERROR:  ")
    assert parser.truncated_lines == 1
    assert parser.truncated_bytes == len(long_line) - 1 - MAX_LINE_BYTES  # all but the kept part and "\n"
    assert parser.consumed_bytes == len(data) and parser.pending_bytes == 0
    assert most <= MAX_LINE_BYTES + 3 * len(error(b"before")) + min(chunk, len(data))


def test_a_chunk_without_newline_is_not_buffered_however_much_comes():
    parser = make_parser("stderr", PREFIX)
    garbage = b"\x00" * (1 << 20)
    parser.feed(error(b"first"))
    most = 0
    for _ in range(64):  # 64 MB without a newline, fed like a file read
        assert parser.feed(garbage) == []
        most = max(most, parser.buffered_bytes)
    entries = parser.feed(b"\n" + error(b"next")) + parser.close(partial=True)

    assert most <= MAX_LINE_BYTES + len(error(b"first"))
    assert [e.message for e in entries] == ["first", "next"]
    assert parser.skipped_lines == 1  # the garbage line's first MAX_LINE_BYTES
    assert parser.truncated_lines == 1 and parser.truncated_bytes == 64 * len(garbage) - MAX_LINE_BYTES
    assert parser.consumed_bytes == len(error(b"first")) + 64 * len(garbage) + 1 + len(error(b"next"))


def test_a_cut_line_at_the_end_of_a_read_is_consumed_so_the_next_run_moves_on():
    parser = make_parser("stderr", PREFIX)
    data = error(b"first") + HEAD + b"ERROR:  " + b"y" * (2 * MAX_LINE_BYTES)  # still being written

    entries = parser.feed(data) + parser.close(partial=False)

    assert [e.message[:5] for e in entries] == ["first", "yyyyy"]
    assert parser.consumed_bytes == len(data)  # the next run starts in the rest of the line


def test_a_multi_line_entry_keeps_its_first_mega_byte_and_skips_the_rest():
    statement = b"".join(b"\tSELECT %d\n" % i for i in range(400_000))  # ~5 MB of continuation lines
    data = error(b"big") + HEAD + b"STATEMENT:  SELECT 0\n" + statement + error(b"after")
    parser = make_parser("stderr", PREFIX)

    entries, most = feed_all(parser, data, 64 * 1024)

    assert [e.message for e in entries] == ["big", "after"]
    # The cap is checked as chunks arrive: the entry may keep up to one chunk more.
    assert MAX_ENTRY_BYTES // 2 < len(entries[0].statement) <= MAX_ENTRY_BYTES + 64 * 1024
    assert parser.truncated_lines > 0 and parser.truncated_bytes >= len(statement) - MAX_ENTRY_BYTES - 64 * 1024
    assert parser.consumed_bytes == len(data)
    assert most <= MAX_ENTRY_BYTES + 64 * 1024


def test_a_jsonlog_line_longer_than_the_cap_is_skipped_and_the_next_read():
    def record(message: str) -> bytes:
        return json.dumps({"timestamp": "2024-05-01 12:00:00.000 UTC", "pid": 7, "error_severity": "ERROR",
                           "message": message}).encode() + b"\n"  # fmt: skip

    data = record("before") + record("z" * (2 * MAX_LINE_BYTES)) + record("after")
    parser = make_parser("jsonlog")

    entries, _ = feed_all(parser, data, 100_000)

    assert [e.message for e in entries] == ["before", "after"]
    assert parser.skipped_lines == 1 and parser.truncated_lines == 1
    assert parser.consumed_bytes == len(data)


@pytest.mark.parametrize("quotes_cut", [0, 1, 2, 3])
def test_a_csvlog_line_cut_does_not_shift_the_records_after_it(quotes_cut):
    def record(message: str) -> bytes:
        fields = ["2024-05-01 12:00:00.000 UTC", "u", "d", "7", "", "s.7", "1", "", "", "", "", "ERROR", "22012"]
        fields += [message] + [""] * 12
        return (",".join('"' + f.replace('"', '""') + '"' for f in fields) + "\n").encode()

    message = "a" * (MAX_LINE_BYTES + 10) + '"' * quotes_cut + "b" * 1000  # quotes in the part skipped
    data = record("before") + record(message) + record("multi\nline") + record("after")
    parser = make_parser("csvlog")

    entries, _ = feed_all(parser, data, 50_000)

    assert [e.message for e in entries] == ["before", "multi\nline", "after"]
    assert parser.truncated_lines == 1
    assert parser.consumed_bytes == len(data)


def test_each_line_is_looked_at_a_bounded_number_of_times_however_small_the_chunks():
    parser = make_parser("stderr", PREFIX)
    pattern = parser.prefix.line_bytes
    calls = 0

    class Counting:
        def match(self, *args):
            nonlocal calls
            calls += 1
            return pattern.match(*args)

    parser.prefix = dataclasses.replace(parser.prefix, line_bytes=Counting())
    lines = 20_000
    data = error(b"big") + HEAD + b"STATEMENT:  SELECT 0\n" + b"\tx\n" * lines + error(b"after")

    entries, _ = feed_all(parser, data, 100)

    assert [e.message for e in entries] == ["big", "after"]
    assert calls <= 2 * lines  # the old walk went back to the entry's start on every chunk


@pytest.mark.parametrize("chunk", [1000, 1 << 20])
def test_a_csvlog_field_larger_than_the_csv_modules_default_limit_is_read(chunk):
    fields = ["2024-05-01 12:00:00.000 UTC", "u", "d", "7", "", "s.7", "1", "", "", "", "", "ERROR", "22012"]
    record = (",".join(f'"{f}"' for f in [*fields, "m" * 200_000] + [""] * 12) + "\n").encode()
    parser = make_parser("csvlog")

    entries, _ = feed_all(parser, record + record, chunk)

    assert [len(e.message) for e in entries] == [200_000, 200_000]
    assert parser.consumed_bytes == len(record) * 2
