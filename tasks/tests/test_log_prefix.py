"""log_line_prefix compilation: every escape, padding, %q, and a clear error when unusable."""

from __future__ import annotations

import pytest

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
