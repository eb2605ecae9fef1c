"""Streaming parsers: stderr with any prefix, csvlog and jsonlog, fed in chunks of any size."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasks.logs.parser import make_parser
from tasks.logs.prefix import LogFormatError

LOGS = Path(__file__).parent / "logs"
PREFIX = "%m [%p] %q%u@%d "
FIXTURES = [("stderr", "pg15.log", PREFIX), ("csvlog", "pg15.csv", None), ("jsonlog", "pg15.json", None)]


def parse(fmt: str, data: bytes, prefix: str | None = PREFIX, chunk: int | None = None, partial: bool = True):
    parser = make_parser(fmt, prefix)
    entries = []
    step = chunk or len(data) or 1
    for at in range(0, len(data), step):
        entries += parser.feed(data[at : at + step])
    entries += parser.close(partial=partial)
    return entries, parser


def primary(entries):
    # stderr writes " at character N" into the message; csv and json keep it in a column.
    return [(e.severity, re.sub(r" at character \d+$", "", e.message)) for e in entries]


@pytest.mark.parametrize(("fmt", "name", "prefix"), FIXTURES)
def test_it_gives_the_same_entries_whatever_the_chunk_size(fmt, name, prefix):
    data = (LOGS / name).read_bytes()
    whole, _ = parse(fmt, data, prefix)
    for size in (1, 2, 3, 7, 64, 333, 4096):
        assert parse(fmt, data, prefix, chunk=size)[0] == whole, f"chunks of {size} bytes"


def test_the_three_formats_of_one_session_agree():
    stderr = parse("stderr", (LOGS / "pg15.log").read_bytes())[0]
    csv = parse("csvlog", (LOGS / "pg15.csv").read_bytes(), None)[0]
    json = parse("jsonlog", (LOGS / "pg15.json").read_bytes(), None)[0]
    assert primary(stderr) == primary(csv) == primary(json)
    assert len(stderr) > 50


@pytest.mark.parametrize(("fmt", "name", "prefix"), FIXTURES)
def test_multi_line_entries_keep_their_detail_and_statement(fmt, name, prefix):
    entries = parse(fmt, (LOGS / name).read_bytes(), prefix)[0]
    missing = next(e for e in entries if e.message.startswith('relation "missing_table"'))
    assert missing.statement == "SELECT *\n  FROM missing_table\n WHERE id = 1"
    deadlock = next(e for e in entries if e.message == "deadlock detected")
    assert deadlock.detail.count("\n") == 3 and deadlock.detail.startswith("Process ")
    assert deadlock.hint == "See server log for query details."
    assert deadlock.context == 'while updating tuple (0,1) in relation "t"'
    assert deadlock.statement == "UPDATE t SET v = v + 1 WHERE id = 1"
    assert deadlock.user == "postgres" and deadlock.database == "postgres"
    assert deadlock.timestamp.tzinfo is not None and deadlock.pid > 0


def test_csv_and_json_carry_the_sqlstate_and_client():
    for fmt, name in (("csvlog", "pg15.csv"), ("jsonlog", "pg15.json")):
        entries = parse(fmt, (LOGS / name).read_bytes(), None)[0]
        div = next(e for e in entries if e.message == "division by zero")
        assert div.sqlstate == "22012"
        assert div.client == "127.0.0.1"


def test_tab_continued_message_lines_belong_to_the_message():
    log = (LOGS / "rare_events.log").read_bytes()
    entries = parse("stderr", log, "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ")[0]
    vacuum = next(e for e in entries if e.message.startswith("automatic vacuum"))
    assert vacuum.message.endswith("elapsed: 93.50 s")
    assert vacuum.message.count("\n") == 6
    assert vacuum.timestamp == datetime(2024, 3, 4, 10, 2, tzinfo=UTC) + timedelta(hours=-1)
    cancel = next(e for e in entries if e.message == "canceling autovacuum task")
    assert cancel.context.endswith('automatic vacuum of table "shop.public.orders"')


def test_a_truncated_last_line_is_left_for_the_next_run():
    complete = b"2024-05-01 12:00:00.100 UTC [7] LOG:  first\n"
    data = complete + b"2024-05-01 12:00:00.200 UTC [7] LOG:  second, still being writ"
    entries, parser = parse("stderr", data, partial=False)
    assert [e.message for e in entries] == ["first"]
    assert parser.consumed_bytes == len(complete)
    assert parser.pending_bytes == len(data) - len(complete)


def test_a_truncated_last_line_of_a_finished_file_is_read():
    data = b"2024-05-01 12:00:00.100 UTC [7] LOG:  first\n2024-05-01 12:00:00.200 UTC [7] LOG:  last"
    entries, parser = parse("stderr", data, partial=True)
    assert [e.message for e in entries] == ["first", "last"]
    assert parser.consumed_bytes == len(data)


def test_non_utf8_bytes_are_replaced_not_fatal():
    data = b"2024-05-01 12:00:00.100 UTC [7] LOG:  caf\xe9 \xff\n2024-05-01 12:00:00.200 UTC [7] LOG:  ok\n"
    for chunk in (1, None):
        entries = parse("stderr", data, chunk=chunk)[0]
        assert [e.message for e in entries] == ["caf\ufffd \ufffd", "ok"]


def test_consumed_bytes_lets_a_second_run_start_where_the_first_stopped():
    data = (LOGS / "pg15.log").read_bytes()
    whole = parse("stderr", data)[0]
    first = make_parser("stderr", PREFIX)
    head = first.feed(data[: len(data) // 2])
    resumed = parse("stderr", data[first.consumed_bytes :])[0]
    assert head + resumed == whole


def test_continuation_lines_of_another_process_do_not_join_the_entry():
    data = (
        b"2024-05-01 12:00:00.100 UTC [7] u@d ERROR:  boom\n"
        b"2024-05-01 12:00:00.100 UTC [8] u@d STATEMENT:  select 8\n"
        b"2024-05-01 12:00:00.100 UTC [7] u@d STATEMENT:  select 7\n"
    )
    entries = parse("stderr", data)[0]
    assert entries[0].statement is None
    assert [e.severity for e in entries] == ["ERROR", "STATEMENT", "STATEMENT"]


def test_lines_that_match_no_prefix_are_counted_as_skipped():
    entries, parser = parse("stderr", b"this is not a log line\n2024-05-01 12:00:00.1 nope\n")
    assert entries == [] and parser.skipped_lines == 2


def test_a_pid_comes_from_the_session_id_when_the_prefix_has_no_p():
    entries = parse("stderr", b"2024-05-01 12:00:00 UTC 6632a1b0.2a LOG:  hi\n", "%t %c ")[0]
    assert entries[0].pid == 42


def test_epoch_timestamps_are_utc():
    entries = parse("stderr", b"1714564800.500 [9] LOG:  hi\n", "%n [%p] ")[0]
    assert entries[0].timestamp == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)


def test_stderr_needs_a_prefix_and_formats_are_checked():
    with pytest.raises(LogFormatError):
        make_parser("stderr", None)
    with pytest.raises(LogFormatError, match="unknown log format"):
        make_parser("syslog")
