"""The analyzer finds what a DBA must know in real PostgreSQL 15 logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.parser import make_parser

LOGS = Path(__file__).parent / "logs"
PREFIX = "%m [%p] %q%u@%d "
RARE_PREFIX = "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "


def analyze(name: str, fmt: str = "stderr", prefix: str | None = PREFIX, config: dict | None = None):
    parser = make_parser(fmt, prefix)
    analyzer = LogAnalyzer(config)
    analyzer.add_all(parser.feed((LOGS / name).read_bytes()))
    analyzer.add_all(parser.close(partial=True))
    return analyzer.finish()


def by_category(result) -> dict[str, list]:
    found: dict[str, list] = {}
    for f in result.findings:
        found.setdefault(f.category, []).append(f)
    return found


@pytest.fixture(
    scope="module",
    params=[("stderr", "pg15.log", PREFIX), ("csvlog", "pg15.csv", None), ("jsonlog", "pg15.json", None)],
)
def session(request):
    fmt, name, prefix = request.param
    return analyze(name, fmt, prefix)


def test_it_counts_entries_and_findings(session):
    assert session.summary["analyzed_logs"] > 50
    assert session.summary["issues_found"] == len(session.findings)
    assert session.summary["first_entry_at"] < session.summary["last_entry_at"]


def test_it_reports_errors_by_sqlstate_with_their_messages(session):
    errors = {f.details["sqlstate"]: f for f in by_category(session)["error"]}
    assert errors["22012"].count == 1
    assert errors["22012"].details["class_name"] == "data exception"
    assert errors["22012"].details["top_messages"] == [{"message": "division by zero", "count": 1}]
    assert errors["42P01"].details["top_messages"][0]["message"].startswith('relation "missing_table" does not exist')
    assert "SELECT 1/0" in errors["22012"].sample


def test_it_finds_the_deadlock_and_the_lock_waits(session):
    found = by_category(session)
    assert found["deadlock"][0].count == 1
    assert "Process " in found["deadlock"][0].sample
    waits = found["lock_wait"][0]
    assert waits.count == 2
    assert waits.details["by_lock"] == {"ShareLock on transaction": 1, "AccessShareLock on relation": 1}
    assert waits.details["max_wait_ms"] == pytest.approx(400.954, abs=200)


def test_it_groups_failed_logins_by_user_and_host(session):
    auth = by_category(session)["auth_failure"]
    assert [(f.details["user"], f.details["client"], f.count) for f in auth] == [("wrongpw", "127.0.0.1", 2)]
    assert session.summary["totals"]["auth_failures"] == 2


def test_it_reports_temp_files_with_their_size_and_statement(session):
    temp = by_category(session)["temp_file"][0]
    assert temp.count == 2 and session.summary["totals"]["temp_files"] == 2
    assert temp.details["total_bytes"] == 557056 + 280000
    assert temp.details["top_statements"][0]["query"] == "select g from generate_series(?, ?) g order by random()"


def test_it_groups_slow_statements_by_normalized_query(session):
    slow = by_category(session)["slow_query"][0]
    assert slow.details["query"] == "select pg_sleep(?)"
    assert slow.details["count"] == 1 and slow.details["max_ms"] > 1000
    assert slow.details["mean_ms"] == slow.details["total_ms"] == slow.details["max_ms"]


def test_it_reports_statement_and_lock_timeouts(session):
    found = by_category(session)
    assert found["statement_timeout"][0].details["query"] == "select pg_sleep(?)"
    assert found["lock_timeout"][0].details["query"] == "select * from t"


def test_it_reports_refused_connections_as_critical(session):
    slots = by_category(session)["connection_slots"]
    assert {f.severity for f in slots} == {"critical"}
    assert sorted(f.message.split(": ", 1)[1] for f in slots) == [
        "remaining connection slots are reserved for non-replication superuser connections",
        "sorry, too many clients already",
    ]


def test_it_reports_a_killed_backend_as_a_crash(session):
    crash = by_category(session)["crash"][0]
    assert crash.severity == "critical"
    assert crash.details["causes"] == {"server process: signal 9": 1}
    assert crash.details["recoveries"] == 1


def test_findings_come_critical_first(session):
    order = [f.severity for f in session.findings]
    assert order == sorted(order, key=["critical", "warning", "info"].index)


def test_the_threshold_for_slow_statements_comes_from_the_config():
    result = analyze("pg15.log", config={"slow_query_ms": 5000})
    assert "slow_query" not in by_category(result)
    assert result.summary["totals"]["queries"] == 1


@pytest.fixture(scope="module")
def rare():
    return by_category(analyze("rare_events.log", prefix=RARE_PREFIX))


def test_the_checkpoint_finding_counts_the_warnings_postgresql_wrote(rare):
    checkpoints = rare["checkpoint_frequency"][0]
    assert checkpoints.count == checkpoints.details["too_frequent_warnings"] == 1
    assert checkpoints.details["checkpoints"] == 3
    assert checkpoints.details["mean_seconds_apart"] == 41


def test_it_reports_slow_and_cancelled_autovacuum(rare):
    slow = rare["autovacuum_slow"]
    assert [(f.details["table"], f.details["max_seconds"]) for f in slow] == [("shop.public.orders", 93.5)]
    assert rare["autovacuum_cancelled"][0].details["table"] == "public.orders"


def test_it_reports_out_of_memory_with_the_memory_context(rare):
    oom = rare["out_of_memory"][0]
    assert oom.severity == "critical" and oom.details["memory_contexts"] == {"ExecutorState": 1}
    assert oom.database == "shop" and oom.user == "shop"


def test_it_reports_checksum_failures_and_invalid_pages_as_critical(rare):
    kinds = {f.message.split(" × ")[1].split(":")[0]: f.severity for f in rare["data_corruption"]}
    assert kinds == {"page verification failed": "critical", "invalid page in block": "critical"}


def test_it_reports_wraparound_warnings(rare):
    assert rare["wraparound"][0].severity == "critical"
    assert "shop" in rare["wraparound"][0].message


def test_it_takes_the_host_of_a_rejected_login_from_the_message(rare):
    assert [(f.details["user"], f.details["client"], f.count) for f in rare["auth_failure"]] == [("web", "10.0.0.7", 2)]


def test_it_reports_panics_and_crashed_auxiliary_processes(rare):
    assert rare["panic"][0].severity == "critical"
    assert rare["crash"][0].details["causes"] == {"WAL writer process: signal 6": 1}


def test_the_number_of_query_groups_is_bounded():
    analyzer = LogAnalyzer({"max_query_groups": 3, "slow_query_ms": 0})
    parser = make_parser("stderr", PREFIX)
    lines = b"".join(
        b"2024-05-01 12:00:00.000 UTC [1] u@d LOG:  duration: 5.0 ms  statement: SELECT * FROM t%d\n" % i
        for i in range(100)
    )
    analyzer.add_all(parser.feed(lines))
    analyzer.add_all(parser.close())
    result = analyzer.finish()
    assert len(analyzer.slow.groups) == 4  # three queries and "(other)"
    assert result.summary["totals"]["queries"] == 100
    assert sum(f.count for f in result.findings if f.category == "slow_query") == 100


def test_error_messages_per_sqlstate_are_bounded():
    analyzer = LogAnalyzer({"max_messages_per_group": 2})
    parser = make_parser("stderr", PREFIX)
    lines = b"".join(
        b'2024-05-01 12:00:00.000 UTC [1] u@d ERROR:  relation "t%d" does not exist\n' % i for i in range(50)
    )
    analyzer.add_all(parser.feed(lines))
    analyzer.add_all(parser.close())
    (finding,) = analyzer.finish().findings
    assert finding.count == 50 and len(finding.details["top_messages"]) == 3


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="slow_query_ms"):
        LogAnalyzer({"slow_query_ms": "fast"})


def test_an_execute_with_parameters_is_a_query_and_bind_is_not():
    parser = make_parser("stderr", PREFIX)
    analyzer = LogAnalyzer({"slow_query_ms": 10})
    analyzer.add_all(
        parser.feed(
            b"2024-05-01 12:00:00.000 UTC [1] u@d LOG:  duration: 0.5 ms  bind S_1: SELECT $1\n"
            b"2024-05-01 12:00:00.001 UTC [1] u@d LOG:  duration: 20.5 ms  execute S_1: SELECT * FROM t WHERE id = $1\n"
            b"2024-05-01 12:00:00.001 UTC [1] u@d DETAIL:  parameters: $1 = '5'\n"
        )
    )
    analyzer.add_all(parser.close())
    result = analyzer.finish()
    assert result.summary["totals"]["queries"] == 1
    (slow,) = result.findings
    assert slow.details["query"] == "select * from t where id = ?"
    assert "parameters: $1 = '5'" in slow.sample
