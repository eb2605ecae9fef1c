"""log_line_prefix compilation: every escape, padding, %q, and a clear error when unusable."""

from __future__ import annotations

import time

import pytest

from tasks.logs.parser import make_parser
from tasks.logs.prefix import LogFormatError, compile_prefix


def fields(prefix: str, line: str) -> dict[str, str | None]:
    m = compile_prefix(prefix).line.match(line)
    assert m, f"{line!r} does not match {prefix!r}"
    return m.groupdict()


def test_it_reads_the_debian_default_prefix():
    f = fields("%m [%p] %q%u@%d ", "2024-05-01 12:00:00.123 UTC [42] app@shop LOG:  hello")
    assert (f["time"], f["pid"], f["user"], f["database"]) == ("2024-05-01 12:00:00.123 UTC", "42", "app", "shop")
    assert (f["severity"], f["message"]) == ("LOG", "hello")


def test_it_skips_the_part_after_q_for_background_processes():
    f = fields("%m [%p] %q%u@%d ", "2024-05-01 12:00:00.123 UTC [42] LOG:  checkpoint starting: time")
    assert f["user"] is None and f["database"] is None
    assert f["message"] == "checkpoint starting: time"


def test_it_reads_the_pgbadger_documented_prefix():
    prefix = "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
    line = "2024-05-01 12:00:00 CEST [42]: [7-1] user=bob,db=shop,app=psql,client=10.1.2.3 ERROR:  oops"
    f = fields(prefix, line)
    assert (f["line_no"], f["user"], f["application"], f["client"]) == ("7", "bob", "psql", "10.1.2.3")


def test_it_supports_every_escape():
    prefix = "%a|%u|%d|%r|%b|%p|%P|%t|%m|%n|%i|%e|%c|%l|%s|%v|%x|%Q|%%|"
    line = (
        "psql|bob|shop|10.0.0.1(5432)|client backend|42||2024-05-01 12:00:00 UTC|2024-05-01 12:00:00.123 UTC|"
        "1714564800.123|SELECT|22012|6632a1b0.2a|3|2024-05-01 11:59:00 UTC|3/14|0|-123456|%|ERROR:  division by zero"
    )
    f = fields(prefix, line)
    assert f["client"] == "10.0.0.1"
    assert f["sqlstate"] == "22012"
    assert f["session_id"] == "6632a1b0.2a"
    assert f["message"] == "division by zero"


def test_it_accepts_padding():
    f = fields("%m [%-6p] %10u ", "2024-05-01 12:00:00.123 UTC [42    ]        bob LOG:  hi")
    assert (f["pid"], f["user"]) == ("42", "bob")


def test_it_accepts_a_session_id_instead_of_a_pid():
    assert compile_prefix("%t %c ").process_key == "session_id"


def test_it_reads_local_connections_in_r():
    assert fields("%m %r [%p] ", "2024-05-01 12:00:00.123 UTC [local] [42] LOG:  x")["client"] == "[local]"


@pytest.mark.parametrize(
    ("prefix", "missing"),
    [("%u@%d ", "no time (%t or %m) and no process id (%p)"), ("%m ", "no process id"), ("[%p] ", "no time")],
)
def test_it_refuses_a_prefix_without_time_or_pid_and_says_what_to_set(prefix, missing):
    with pytest.raises(LogFormatError) as err:
        compile_prefix(prefix)
    assert missing in str(err.value)
    assert "log_line_prefix = '%m [%p] %q%u@%d '" in str(err.value)


def test_the_last_text_escape_may_hold_spaces_and_separators():
    prefix = "%m [%p] %q%u@%d/%a "
    line = "2024-05-01 12:00:00.123 UTC [42] bob@my db/pgAdmin 4 - DB:my db LOG:  hi"
    f = fields(prefix, line)
    assert (f["user"], f["database"], f["application"]) == ("bob", "my db", "pgAdmin 4 - DB:my db")
    assert fields("%m [%p] %q%u@%d ", "2024-05-01 12:00:00.123 UTC [42] bob@my db LOG:  hi")["database"] == "my db"


def test_a_text_escape_runs_up_to_the_first_whole_literal_after_it():
    prefix = "%t [%p]: user=%u,db=%d,app=%a "
    line = "2024-05-01 12:00:00 UTC [42]: user=b,o,db,b,db=sh,op,app=psql LOG x LOG:  hi"
    f = fields(prefix, line)
    assert (f["user"], f["database"], f["application"]) == ("b,o,db,b", "sh,op", "psql LOG x")
    assert compile_prefix(prefix).line_bytes.match(line.encode()).group("database") == b"sh,op"


def test_a_text_escape_before_a_time_or_pid_runs_up_to_it():
    f = fields("%a %m [%p] ", "2024-05-01 12:00:00.123 UTC x 2024-05-01 12:00:00.123 UTC [42] LOG:  hi")
    assert (f["application"], f["pid"]) == ("2024-05-01 12:00:00.123 UTC x", "42")


def test_adjacent_text_escapes_give_their_text_to_the_last_one():
    f = fields("%u%u%d%m [%p] ", "bobshop2024-05-01 12:00:00.123 UTC [42] LOG:  hi")
    assert (f["user"], f["database"], f["pid"]) == ("", "bobshop", "42")


# Prefixes that made the old regex backtrack over every way to split a line (%u%u%u%u%m: n^4).
WORST_PREFIXES = [
    "%u%u%u%u%m [%p] ",
    "%a%u%d%h%r%b%i%m [%p] ",
    "%u@%d@%a@%h@%m [%p] ",
    "%u%m%u%m%u%m%u%m [%p] ",
    "%u@%m%u@%m [%p] ",
    "%-50u%-50d%-50a%m [%p] ",
    "%50u%50d%50a%m [%p] ",
    "%-1000u %-1000d %1000a %m [%-1000p] ",
    "%x%x%x%x%v%Q%P%p%m ",
    "%q%u %d %a %h %b %i %t %p ",
    "%c%l%n%e%s%u%d ",
]
NON_MATCHING_LINES = [
    "a@" * 2000,
    "1" * 4000,
    "x " * 2000,
    " " * 4000,
    "0123456789abcdef." * 250,
    "2024-05-01 12:00:00.123 UTC [1] " * 120 + "LOG: ",
]


@pytest.mark.parametrize("prefix", WORST_PREFIXES)
def test_no_prefix_makes_a_line_that_does_not_match_hang(prefix):
    lines = [NON_MATCHING_LINES[i % len(NON_MATCHING_LINES)] for i in range(50)]
    parser = make_parser("stderr", prefix)

    started = time.monotonic()
    entries = parser.feed("".join(line + "\n" for line in lines).encode()) + parser.close(partial=True)
    elapsed = time.monotonic() - started

    assert elapsed < 5, f"{prefix!r}: 50 lines took {elapsed:.1f} s"  # a bound on a hang, not a speed target
    assert entries == [] and parser.skipped_lines == 50


@pytest.mark.parametrize(
    ("prefix", "line"),
    [
        ("%u%u%u%u%m [%p] ", "bob2024-05-01 12:00:00.123 UTC [42] "),
        ("%a%u%d%h%r%b%i%m [%p] ", "psqlbob2024-05-01 12:00:00.123 UTC [42] "),
        ("%u@%d@%a@%h@%m [%p] ", "bob@shop@psql@10.0.0.1@2024-05-01 12:00:00.123 UTC [42] "),
        ("%u@%m%u@%m [%p] ", "bob@2024-05-01 12:00:00.123 UTC bob@2024-05-01 12:00:00.123 UTC [42] "),
        ("%x %v %Q %P %p %m ", "0 3/14 -12345  42 2024-05-01 12:00:00.123 UTC "),
        ("%c %l %n %e %s %u%d ", "6632a1b0.2a 7 1714564800.123 22012 2024-05-01 11:00:00 UTC bobshop "),
        ("%5u|%-8d|%m [%p] ", "  bob|shop    |2024-05-01 12:00:00.123 UTC [42] "),
        ("%-10u %-4d %m [%p] ", "bob        database 2024-05-01 12:00:00.123 UTC [42] "),
        (
            "%-50u%-50d%-50a%m [%p] ",
            "bob".ljust(50) + "shop".ljust(50) + "psql".ljust(50) + "2024-05-01 12:00:00.123 UTC [42] ",
        ),
        ("%q%u %d %a %h %b %i %t %p ", "bob shop psql 10.0.0.1 client backend SELECT 2024-05-01 12:00:00 UTC 42 "),
    ],
)
def test_the_worst_prefixes_still_read_the_lines_they_describe(prefix, line):
    parser = make_parser("stderr", prefix)
    entries = parser.feed(f"{line}ERROR:  division by zero\n".encode()) + parser.close(partial=True)

    assert [(e.severity, e.message) for e in entries] == [("ERROR", "division by zero")]
    assert entries[0].pid in (42, 0x2A)
