"""Every log finding says what to do, and says it in plain words: the remedy of each category,
the tables of a deadlock read from its DETAIL, checkpoints counted from PostgreSQL's own
warnings, SQLSTATEs behind plain words."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.logs import remedies
from tasks.logs.deadlocks import parse_deadlock
from tasks.logs.detectors import LogAnalyzer
from tasks.logs.errcodes import NAMES
from tasks.logs.findings import CATEGORIES
from tasks.logs.parser import make_parser
from tasks.logs.sqlstates import class_label, sqlstate_label, sqlstate_name

LOGS = Path(__file__).parent / "logs"
PREFIX = "%m [%p] %q%u@%d "
RARE_PREFIX = "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "


def analyze(data: bytes, prefix: str = PREFIX, fmt: str = "stderr", config: dict | None = None, server=None):
    parser = make_parser(fmt, prefix if fmt == "stderr" else None)
    analyzer = LogAnalyzer(config)
    if server is not None:
        analyzer.use_server_settings(server)
    analyzer.add_all(parser.feed(data))
    analyzer.add_all(parser.close(partial=True))
    return analyzer.finish()


def by_category(result) -> dict[str, list]:
    found: dict[str, list] = {}
    for f in result.findings:
        found.setdefault(f.category, []).append(f)
    return found


# The deadlock of pg15.log, as PostgreSQL 15 logged it.
DEADLOCK_DETAIL = (
    "Process 25954 waits for ShareLock on transaction 729; blocked by process 25953.\n"
    "Process 25953 waits for ShareLock on transaction 730; blocked by process 25954.\n"
    "Process 25954: UPDATE t SET v = v + 1 WHERE id = 1\n"
    "Process 25953: UPDATE t SET v = v + 1 WHERE id = 2"
)


@pytest.fixture(scope="module")
def every_category():
    """Findings of every category: the two sample logs, and a FATAL of its own SQLSTATE."""
    fatal = b'2026-11-28 17:00:00.000 UTC [4242] app@nope FATAL:  database "nope" does not exist\n'
    found = by_category(analyze((LOGS / "pg15.log").read_bytes() + fatal))
    for category, findings in by_category(analyze((LOGS / "rare_events.log").read_bytes(), RARE_PREFIX)).items():
        found.setdefault(category, []).extend(findings)
    return found


def test_every_category_is_found_and_each_finding_says_what_to_do(every_category):
    assert set(every_category) == set(CATEGORIES)
    for category, findings in every_category.items():
        for finding in findings:
            assert len(finding.remedy) > 60, (category, finding.remedy)
            assert finding.as_dict()["remedy"] == finding.remedy


def test_refused_connections_point_at_a_pooler_and_the_cost_of_more_slots(every_category):
    for finding in every_category["connection_slots"]:
        assert "PgBouncer in transaction mode" in finding.remedy
        assert "max_connections" in finding.remedy and "memory" in finding.remedy
        assert "superuser_reserved_connections" in finding.remedy


def test_a_role_connection_limit_names_the_role_to_alter():
    text = remedies.connection_slots('too many connections for role "app"')
    assert 'ALTER ROLE "app" CONNECTION LIMIT' in text


def test_a_backend_killed_by_signal_9_points_at_the_oom_killer_and_overcommit(every_category):
    killed = next(f for f in every_category["crash"] if "signal 9" in f.message)
    for words in (
        "OOM killer",
        "vm.overcommit_memory = 2",
        "vm.overcommit_ratio",
        "dmesg",
        "work_mem",
        "max_connections",
    ):
        assert words in killed.remedy
    aborted = next(f for f in every_category["crash"] if "signal 6" in f.message)
    assert "OOM killer" not in aborted.message and "SIGABRT" in aborted.remedy


def test_the_deadlock_names_its_table_and_says_how_to_order_locks(every_category):
    (deadlock,) = every_category["deadlock"]
    assert deadlock.subject == "t" and deadlock.message == "1 deadlock(s) on t: transactions were rolled back"
    assert deadlock.details["relations"] == ["t"]
    assert deadlock.details["locks"] == {"ShareLock on transaction": 2}
    assert deadlock.details["statements"] == ["update t set v = v + ? where id = ?"]
    assert "one order" in deadlock.remedy and "FOR UPDATE" in deadlock.remedy and "short" in deadlock.remedy


def test_a_deadlock_detail_yields_its_locks_relations_and_statements():
    found = parse_deadlock(DEADLOCK_DETAIL, 'while updating tuple (0,1) in relation "t"')
    assert found.locks == ["ShareLock on transaction", "ShareLock on transaction"]
    assert found.relations == ["t"] and found.relation_oids == []
    assert found.statements == ["UPDATE t SET v = v + 1 WHERE id = 1", "UPDATE t SET v = v + 1 WHERE id = 2"]


def test_relation_locks_keep_their_oids_and_the_statements_name_the_tables():
    found = parse_deadlock(
        "Process 811 waits for AccessExclusiveLock on relation 16390 of database 5; blocked by process 812.\n"
        "Process 812 waits for ExclusiveLock on tuple (0,1) of relation 16384 of database 5; blocked by process 811.\n"
        "Process 811: LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE\n"
        "Process 812: UPDATE accounts SET balance = balance - 1\n"
        "\t  WHERE id IN (SELECT account_id FROM ledger)"
    )
    assert found.locks == ["AccessExclusiveLock on relation", "ExclusiveLock on tuple"]
    assert found.relation_oids == [("16390", "5"), ("16384", "5")]
    assert found.relations == ["accounts", "ledger"]
    text = remedies.deadlock(found.relations, found.relation_oids)
    assert "SELECT 16390::regclass;" in text and "WHERE oid = 5" in text


def test_a_statement_cut_short_still_names_its_tables():
    # The DETAIL holds at most track_activity_query_size bytes of each statement.
    found = parse_deadlock("Process 1: UPDATE ONLY public.orders SET total = (SELECT sum(x) FROM items WHERE")
    assert found.relations == ["items", "public.orders"]


CHECKPOINTS = (
    b"2024-03-04 10:00:00 UTC [811] LOG:  checkpoint starting: wal\n"
    b"2024-03-04 10:00:01 UTC [811] LOG:  checkpoints are occurring too frequently (1 second apart)\n"
    b'2024-03-04 10:00:01 UTC [811] HINT:  Consider increasing the configuration parameter "max_wal_size".\n'
    b"2024-03-04 10:00:01 UTC [811] LOG:  checkpoint starting: wal\n"
    b"2024-03-04 10:00:04 UTC [811] LOG:  checkpoints are occurring too frequently (3 seconds apart)\n"
    b"2024-03-04 10:00:04 UTC [811] LOG:  checkpoint starting: wal\n"
    b"2024-03-04 10:04:04 UTC [811] LOG:  checkpoint starting: time\n"
)


def test_checkpoint_warnings_are_counted_as_postgresql_wrote_them_one_second_apart_included():
    (finding,) = analyze(CHECKPOINTS, "%t [%p] ").findings
    assert finding.category == "checkpoint_frequency"
    assert finding.count == finding.details["too_frequent_warnings"] == 2
    assert finding.details["mean_seconds_apart"] == 2
    assert finding.message.startswith("PostgreSQL warned 2 time(s) that checkpoints are occurring too frequently")
    assert "max_wal_size" in finding.remedy and "checkpoint_timeout" in finding.remedy


def test_without_warnings_only_wal_checkpoints_closer_than_the_threshold_count():
    quiet = b"".join(line + b"\n" for line in CHECKPOINTS.split(b"\n") if b"too frequently" not in line and line)
    (finding,) = analyze(quiet, "%t [%p] ").findings
    assert finding.count == 2 and finding.details["too_frequent_warnings"] == 0
    assert finding.details["threshold_seconds"] == 30  # PostgreSQL's default checkpoint_warning
    # A timed checkpoint is never "too frequent", whatever the threshold.
    (finding,) = analyze(quiet, "%t [%p] ", config={"checkpoint_warning_seconds": 3600}).findings
    assert finding.count == 2


def test_the_servers_checkpoint_settings_replace_the_default_and_size_max_wal_size():
    quiet = b"".join(line + b"\n" for line in CHECKPOINTS.split(b"\n") if b"too frequently" not in line and line)
    server = {
        "checkpoint_warning": "2s",
        "checkpoint_warning_seconds": 2.0,
        "max_wal_size": "1GB",
        "max_wal_size_mb": 1024.0,
        "checkpoint_timeout": "5min",
        "checkpoint_timeout_seconds": 300.0,
    }
    (finding,) = analyze(quiet, "%t [%p] ", server=server).findings
    assert finding.count == 1  # 1 s apart; 3 s is not under the server's 2 s
    assert finding.details["threshold_seconds"] == 2.0
    assert (finding.details["max_wal_size"], finding.details["checkpoint_timeout"]) == ("1GB", "5min")
    assert "ALTER SYSTEM SET max_wal_size = '512GB';" in finding.remedy  # 1 GB a second for 5 min

    parser, analyzer = make_parser("stderr", "%t [%p] "), LogAnalyzer({"checkpoint_warning_seconds": 30})
    analyzer.use_server_settings(server, threshold_from_config=True)  # the task set its own
    analyzer.add_all(parser.feed(quiet))
    (finding,) = analyzer.finish().findings
    assert finding.count == 2 and finding.details["threshold_seconds"] == 30


def test_the_suggested_max_wal_size_holds_the_wal_of_checkpoint_timeout():
    text = remedies.checkpoints(10, {"max_wal_size": "1GB", "max_wal_size_mb": 1024, "checkpoint_timeout_seconds": 300})
    assert "ALTER SYSTEM SET max_wal_size = '32GB';" in text  # 1 GB every 10 s, for 300 s
    assert "(max_wal_size = 1GB)" in text


def test_errors_are_labelled_in_plain_words_with_their_sqlstate(every_category):
    errors = {f.subject: f for f in every_category["error"]}
    assert errors["22012"].message == "1 ERROR: division by zero (22012): division by zero"
    assert errors["42P01"].message.startswith("1 ERROR: undefined table (42P01): ")
    assert errors["42P01"].details["sqlstate_name"] == "undefined table"
    assert "NULLIF" in errors["22012"].remedy
    (fatal,) = every_category["fatal"]
    assert fatal.message == '1 FATAL: database does not exist (3D000): database "nope" does not exist'
    assert "connection string" in fatal.remedy


def test_the_summary_counts_errors_by_class_and_sqlstate_in_plain_words():
    totals = analyze((LOGS / "pg15.csv").read_bytes(), fmt="csvlog").summary["totals"]
    assert totals["errors_by_sqlstate"]["division by zero (22012)"] == 1
    assert totals["errors_by_sqlstate"]["undefined table (42P01)"] == 1
    assert totals["errors_by_sqlstate"]["too many connections (53300)"] == 2
    assert totals["errors_by_class"]["data exception (22)"] == 1
    assert sum(totals["errors_by_class"].values()) == sum(totals["errors_by_sqlstate"].values()) == totals["errors"]


def test_sqlstates_have_names_for_every_code_postgresql_defines():
    errcodes = sorted(Path("/usr/share/postgresql").glob("*/errcodes.txt"))[-1].read_text()
    codes = {line.split()[0] for line in errcodes.splitlines() if line[:1].isalnum() and not line.startswith("Section")}
    assert codes <= set(NAMES)
    assert sqlstate_label("3D000") == "database does not exist (3D000)"
    assert sqlstate_label("22012") == "division by zero (22012)"
    assert sqlstate_label("42P01") == "undefined table (42P01)"
    assert sqlstate_name("22ZZZ") == "data exception"  # not listed: its class
    assert sqlstate_label(None) == "SQLSTATE not logged"
    assert class_label("3D") == "database does not exist (3D)"


def test_every_remedy_is_redacted_like_the_rest_of_the_finding():
    log = (
        b"2024-05-01 12:00:00.000 UTC [1] u@d ERROR:  deadlock detected\n"
        b"2024-05-01 12:00:00.000 UTC [1] u@d DETAIL:  Process 1 waits for ShareLock on transaction 5; blocked by process 2.\n"
        b"\tProcess 2 waits for ShareLock on transaction 6; blocked by process 1.\n"
        b"\tProcess 1: ALTER ROLE x PASSWORD 'hunter2'\n"
        b"\tProcess 2: UPDATE t SET v = 1\n"
    )
    (finding,) = analyze(log).findings
    assert "hunter2" not in str(finding.as_dict())
    assert finding.details["relations"] == ["t"]
