"""The workload report: pgBadger's figures from the entries the analyzer reads.

Pure logic on small logs written the way PostgreSQL 15 writes them (the comparison with
pgBadger on a real cluster's log is tasks/tests/test_log_workload_pgbadger.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasks.logs import hourly, query_groups
from tasks.logs.detectors import LogAnalyzer
from tasks.logs.parser import make_parser

LOGS = Path(__file__).parent / "logs"
PREFIX = "%m [%p] %q%u@%d "


def line(time: str, pid: int, message: str, severity: str = "LOG", who: str = "app@shop") -> str:
    who = f"{who} " if who else ""  # %q: processes without a session stop the prefix there
    return f"2026-11-28 {time}.000 UTC [{pid}] {who}{severity}:  {message}\n"


def report(text: str, prefix: str = PREFIX, **config) -> dict:
    parser = make_parser("stderr", prefix)
    analyzer = LogAnalyzer(config)
    analyzer.add_all(parser.feed(text.encode()))
    analyzer.add_all(parser.close(partial=True))
    return analyzer.finish().workload


def top(rows: list[dict]) -> list[tuple[str, int]]:
    return [(row["query"], row["count"]) for row in rows]


def test_statements_that_differ_in_their_values_are_one_query():
    log = "".join(
        [
            line("10:00:00", 1, "duration: 1.000 ms  statement: SELECT * FROM orders WHERE id IN (1, 2, 3)"),
            line("10:00:01", 1, "duration: 3.000 ms  statement: select * from orders where id in (4,5)"),
            line("10:00:02", 2, "duration: 2.000 ms  statement: SELECT * FROM orders WHERE id = ANY(ARRAY[1, 2])"),
            line("10:00:03", 2, "duration: 4.000 ms  statement: SELECT * FROM orders WHERE id = ANY(ARRAY[7])"),
            line("10:00:04", 3, "duration: 5.000 ms  statement: UPDATE t SET name = 'Ann' WHERE id = 7"),
            line("10:00:05", 3, "duration: 7.000 ms  statement: UPDATE t SET name = 'Bob ''the'' 2nd' WHERE id = 9"),
            line("10:00:06", 3, "duration: 1.000 ms  statement: SELECT c1 FROM t1 WHERE a = 5"),
            line("10:00:07", 3, "duration: 1.000 ms  statement: SELECT c1 FROM t2 WHERE a = 5"),
        ]
    )

    queries = report(log)["queries"]

    assert sorted(top(queries["top_by_count"])) == [
        ("select * from orders where id = any(array[?, ?])", 2),  # pglast's fingerprint
        ("select * from orders where id in (?)", 2),
        ("select c1 from t1 where a = ?", 1),  # a digit in a name is part of the name
        ("select c1 from t2 where a = ?", 1),
        ("update t set name = ? where id = ?", 2),
    ]
    update = next(row for row in queries["top_by_total_time"] if row["kind"] == "update")
    assert (update["total_ms"], update["mean_ms"], update["min_ms"], update["max_ms"]) == (12.0, 6.0, 5.0, 7.0)
    assert queries["top_by_total_time"][0]["query"] == "update t set name = ? where id = ?"
    assert queries["top_by_mean"][0]["query"] == "update t set name = ? where id = ?"
    assert (queries["count"], queries["timed"], queries["total_ms"]) == (8, 8, 24.0)


def test_a_statement_holding_a_nul_character_still_counts_in_its_group():
    log = "".join(
        [
            line("10:00:00", 1, "duration: 1.000 ms  statement: SELECT 1"),
            line("10:00:01", 1, "duration: 2.000 ms  statement: SELECT 'a\x00b'"),
            line("10:00:02", 1, "duration: 3.000 ms  statement: SELECT 2"),
        ]
    )

    queries = report(log)["queries"]

    assert top(queries["top_by_count"]) == [("select ?", 3)]
    assert queries["total_ms"] == 6.0


def test_the_text_shown_never_carries_a_literal():
    secret = "s3cr3t-Value"
    log = "".join(
        [
            line("10:00:00", 1, f"duration: 1.000 ms  statement: CREATE ROLE app LOGIN PASSWORD '{secret}'"),
            line("10:00:01", 1, f"duration: 1.000 ms  statement: SELECT * FROM users WHERE token = '{secret}'"),
            line(
                "10:00:02", 1, f'duration: 1.000 ms  statement: SELECT "id" FROM "users" WHERE "token" = \'{secret}\''
            ),
            line("10:00:03", 1, f"duration: 1.000 ms  statement: SELECT * FROM users WHERE token = E'{secret}\\n'"),
            line("10:00:04", 1, f"duration: 1.000 ms  statement: SELECT * FROM users WHERE token = '{secret}"),  # cut
            line("10:00:05", 1, f"duration: 1.000 ms  statement: SELECT * FROM users WHERE token = $${secret}$$"),
        ]
    )

    workload = report(log)

    assert secret not in json.dumps(workload)
    assert "select * from users where token = ?" in [q for q, _ in top(workload["queries"]["top_by_count"])]


def test_log_statement_lines_pair_with_the_duration_their_process_logs_next():
    # log_statement = 'all' with log_duration = on: the statement, then a bare duration.
    log = "".join(
        [
            line("10:00:00", 1, "statement: SELECT * FROM t WHERE id = 1"),
            line("10:00:00", 2, "statement: UPDATE t SET v = 2 WHERE id = 2"),
            line("10:00:01", 1, "duration: 2.500 ms"),
            line("10:00:01", 2, "duration: 10.000 ms"),
            line("10:00:02", 1, "execute S_1: SELECT * FROM t WHERE id = $1"),
            line("10:00:02", 1, "duration: 1.500 ms"),
            # Logged, and finished before log_min_duration_statement: no duration follows.
            line("10:00:03", 3, "statement: DELETE FROM t WHERE id = 3"),
            line("10:00:04", 3, "statement: DELETE FROM t WHERE id = 4"),
            line("10:00:05", 3, "disconnection: session time: 0:00:05.000 user=app database=shop host=10.0.0.1 port=1"),
        ]
    )

    queries = report(log)["queries"]

    rows = {row["query"]: row for row in queries["top_by_count"]}
    assert (rows["select * from t where id = ?"]["count"], rows["select * from t where id = ?"]["total_ms"]) == (2, 4.0)
    assert rows["update t set v = ? where id = ?"]["total_ms"] == 10.0
    assert (rows["delete from t where id = ?"]["count"], rows["delete from t where id = ?"]["untimed"]) == (2, 2)
    assert rows["delete from t where id = ?"]["mean_ms"] is None
    assert (queries["count"], queries["timed"], queries["untimed"]) == (5, 3, 2)


def test_the_query_mix_counts_with_explain_ddl_and_transactions_by_what_they_run():
    statements = [
        "WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "EXPLAIN ANALYZE UPDATE t SET v = 1",
        "EXPLAIN SELECT 1",
        "CREATE INDEX CONCURRENTLY i ON t (v)",
        "ALTER TABLE t ADD COLUMN w int",
        "TRUNCATE t",
        "BEGIN",
        "COMMIT",
        "COPY t FROM STDIN",
        "VACUUM t",
        "(SELECT 1) UNION (SELECT 2)",
        "DECLARE c CURSOR FOR SELECT 1",
    ]
    log = "".join(line("10:00:00", 1, f"duration: 1.000 ms  statement: {sql}") for sql in statements)

    by_kind = {kind: figures["count"] for kind, figures in report(log)["queries"]["by_kind"].items()}

    assert by_kind == {
        "select": 2,
        "insert": 1,
        "update": 1,
        "delete": 0,
        "copy": 1,
        "ddl": 3,
        "tcl": 2,
        "cursor": 1,
        "other": 2,
    }


def test_sessions_and_connections_by_user_database_host_and_application():
    log = "".join(
        [
            line("10:00:00", 1, "connection received: host=10.0.0.1 port=5000", who="[unknown]@[unknown]"),
            line("10:00:00", 1, "connection authorized: user=app database=shop application_name=web 1"),
            line("10:00:01", 2, "connection received: host=10.0.0.2 port=5001", who="[unknown]@[unknown]"),
            line(
                "10:00:01",
                2,
                "connection authorized: user=report database=dw SSL enabled (protocol=TLSv1.3, cipher=X, bits=256)",
            ),
            line("10:00:02", 3, "connection received: host=10.0.0.2 port=5002", who="[unknown]@[unknown]"),
            line("10:00:02", 3, 'password authentication failed for user "app"', "FATAL"),
            line("10:00:09", 1, "disconnection: session time: 0:00:09.000 user=app database=shop host=10.0.0.1"),
            line("11:30:01", 2, "disconnection: session time: 1:30:00.500 user=report database=dw host=10.0.0.2"),
        ]
    )

    workload = report(log)

    connections = workload["connections"]
    assert (connections["attempts"], connections["authorized"]) == (3, 2)
    assert connections["by_user"] == [{"user": "app", "count": 1}, {"user": "report", "count": 1}]
    assert connections["by_database"] == [{"database": "dw", "count": 1}, {"database": "shop", "count": 1}]
    assert connections["by_host"] == [{"host": "10.0.0.1", "count": 1}, {"host": "10.0.0.2", "count": 1}]
    assert connections["by_application"] == [
        {"application": "(none)", "count": 1},
        {"application": "web 1", "count": 1},
    ]
    assert workload["sessions"] == {"count": 2, "total_seconds": 5409.5, "mean_seconds": 2704.75, "max_seconds": 5400.5}
    hours = workload["hours"]
    assert hours["start"] == ["2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z"]
    assert (hours["connections"], hours["sessions"], hours["fatals"]) == ([2, 0], [1, 1], [1, 0])


def test_checkpoints_autovacuum_and_temp_files():
    log = "".join(
        [
            line("10:00:00", 9, "checkpoint starting: wal", who=""),
            line(
                "10:00:03",
                9,
                "checkpoint complete: wrote 3769 buffers (23.0%); 1 WAL file(s) added, 2 removed, 3 recycled; "
                "write=2.711 s, sync=0.010 s, total=2.726 s; sync files=11, longest=0.001 s, average=0.001 s; "
                "distance=65518 kB, estimate=65547 kB",
                who="",
            ),
            line("10:05:00", 9, "checkpoint starting: immediate force wait", who=""),
            line(
                "10:05:01",
                9,
                "checkpoint complete: wrote 31 buffers (0.2%); 0 WAL file(s) added, 0 removed, 1 recycled; "
                "write=0.001 s, sync=0.002 s, total=0.004 s; sync files=3, longest=0.001 s, average=0.001 s; "
                "distance=100 kB, estimate=59000 kB",
                who="",
            ),
            line(
                "10:06:00",
                7,
                'automatic vacuum of table "shop.public.orders": index scans: 1\n'
                "\tpages: 4 removed, 120 remain, 120 scanned (100.00% of total)\n"
                "\ttuples: 5000 removed, 20000 remain, 0 are dead but not yet removable\n"
                "\tsystem usage: CPU: user: 0.20 s, system: 0.01 s, elapsed: 1.50 s",
                who="",
            ),
            line(
                "10:07:00",
                7,
                'automatic analyze of table "shop.public.orders"\n'
                "\tsystem usage: CPU: user: 0.10 s, system: 0.00 s, elapsed: 0.25 s",
                who="",
            ),
            line("10:08:00", 5, 'temporary file: path "base/pgsql_tmp/pgsql_tmp5.0", size 1000'),
            line("10:08:00", 5, "SELECT * FROM big ORDER BY 1", "STATEMENT"),
            line("10:08:01", 5, 'temporary file: path "base/pgsql_tmp/pgsql_tmp5.1", size 3000'),
            line("10:08:01", 5, "duration: 50.000 ms  statement: SELECT * FROM big ORDER BY 2"),
        ]
    )

    workload = report(log)

    checkpoints = workload["checkpoints"]
    assert {key: checkpoints[key] for key in ("started", "completed", "buffers_written")} == {
        "started": 2,
        "completed": 2,
        "buffers_written": 3800,
    }
    assert (checkpoints["wal_added"], checkpoints["wal_removed"], checkpoints["wal_recycled"]) == (1, 2, 4)
    assert (checkpoints["write_seconds"], checkpoints["sync_seconds"], checkpoints["total_seconds"]) == (
        2.712,
        0.012,
        2.73,
    )
    assert (checkpoints["distance_kb"], checkpoints["distance_max_kb"], checkpoints["estimate_kb"]) == (
        65618,
        65518,
        59000,
    )
    assert checkpoints["by_reason"] == [
        {"reason": "immediate force wait", "count": 1},
        {"reason": "wal", "count": 1},
    ]
    autovacuum = workload["autovacuum"]
    assert (autovacuum["vacuums"], autovacuum["analyzes"]) == (1, 1)
    assert autovacuum["by_table"] == [
        {
            "table": "shop.public.orders",
            "vacuums": 1,
            "analyzes": 1,
            "pages_removed": 4,
            "tuples_removed": 5000,
            "vacuum_seconds": 1.5,
            "analyze_seconds": 0.25,
            "max_seconds": 1.5,
        }
    ]
    # The first file came with its STATEMENT; the second is the next statement's.
    assert workload["temp_files"] == {
        "count": 2,
        "bytes": 4000,
        "by_query": [{"query": "select * from big order by ?", "count": 2, "bytes": 4000, "max_bytes": 3000}],
    }
    assert workload["hours"]["checkpoint_buffers"] == [3800]


def test_errors_by_severity_sqlstate_and_message_are_redacted():
    log = "".join(
        [
            line("10:00:00", 1, "division by zero", "ERROR"),
            line("10:00:01", 1, "division by zero", "ERROR"),
            line("10:00:02", 1, "syntax error at or near \"'hunter2'\" at character 30", "ERROR"),
            line("10:00:03", 1, "database system is shutting down", "FATAL"),
            line("10:00:04", 1, "some warning", "WARNING"),
        ]
    )

    errors = report(log)["errors"]

    assert errors["by_severity"] == {"ERROR": 3, "FATAL": 1, "WARNING": 1}
    assert errors["by_sqlstate"][0] == {"sqlstate": "22012", "count": 2}
    assert errors["top_messages"][0] == {"message": "ERROR:  division by zero", "count": 2}
    assert "hunter2" not in json.dumps(errors)


def test_hours_past_a_month_coarsen_and_nothing_is_dropped():
    # One statement a day for 40 days: more hours than MAX_BUCKETS.
    log = "".join(
        f"2026-10-{day:02d} 12:00:00.000 UTC [1] app@shop LOG:  duration: 1.000 ms  statement: SELECT 1\n"
        if day <= 31
        else f"2026-11-{day - 31:02d} 12:00:00.000 UTC [1] app@shop LOG:  duration: 1.000 ms  statement: SELECT 1\n"
        for day in range(1, 41)
    )

    hours = report(log)["hours"]

    assert hours["bucket_hours"] == 2
    assert len(hours["start"]) <= hourly.MAX_BUCKETS
    assert sum(hours["queries"]) == 40
    assert hours["start"][0] == "2026-10-01T12:00:00Z"


def test_hours_follow_the_logs_zone():
    log = "".join(
        [
            "2024-03-04 10:59:59 CET [1] app@shop LOG:  duration: 1.000 ms  statement: SELECT 1\n",
            "2024-03-04 11:00:00 CET [1] app@shop LOG:  duration: 2.000 ms  statement: SELECT 1\n",
        ]
    )

    hours = report(log, prefix="%t [%p] %q%u@%d ")["hours"]

    assert hours["start"] == ["2024-03-04T09:00:00Z", "2024-03-04T10:00:00Z"]
    assert hours["query_ms"] == [1.0, 2.0]


def test_memory_stays_bounded_with_endless_distinct_statements(monkeypatch):
    monkeypatch.setattr(query_groups, "MAX_GROUPS", 50)
    monkeypatch.setattr(query_groups, "MAX_KEYS", 80)
    monkeypatch.setattr(query_groups, "MAX_CHEAP", 80)
    heavy = line("09:00:00", 1, "duration: 9000.000 ms  statement: SELECT * FROM the_heavy_one")
    log = heavy + "".join(
        line("10:00:00", 1, f"duration: 1.000 ms  statement: SELECT col_{n} FROM table_{n} WHERE x = {n}")
        for n in range(1000)
    )
    parser = make_parser("stderr", PREFIX)
    analyzer = LogAnalyzer()
    analyzer.add_all(parser.feed(log.encode()))
    analyzer.add_all(parser.close(partial=True))
    groups = analyzer.workload.queries

    assert len(groups.groups) <= 50 and len(groups.keys) <= 80 and len(groups._by_cheap) <= 80
    workload = analyzer.finish().workload
    assert workload["queries"]["count"] == 1001  # folded groups still count
    assert workload["queries"]["folded"] > 900
    assert workload["queries"]["by_kind"]["select"]["count"] == 1001
    assert workload["queries"]["top_by_total_time"][0]["query"] == "select * from the_heavy_one"
    assert len(json.dumps(workload)) < 20_000


def test_the_report_is_small_whatever_the_log_holds():
    long_names = "".join(
        line("10:00:00", n, f"connection authorized: user=user_{n} database=db_{n} application_name={'a' * 200}{n}")
        for n in range(2000)
    ) + "".join(
        line("10:00:00", 1, f"duration: 1.000 ms  statement: SELECT {', '.join(f'c{n}_{i}' for i in range(400))}")
        for n in range(200)
    )

    workload = report(long_names)

    size = len(json.dumps(workload))
    assert size < 80_000, size
    assert len(workload["connections"]["by_user"]) == 21  # the top 20 and the rest
    assert workload["connections"]["by_user"][-1] == {"user": "(other)", "count": 1980}
    assert all(len(row["query"]) <= 500 for row in workload["queries"]["top_by_count"])


def test_a_month_of_everything_is_still_a_bounded_report():
    # Every hour of 31 days with queries, errors, connections, sessions, checkpoints, temp
    # files and autovacuum: the hourly part at its largest.
    start = datetime(2026, 10, 1, tzinfo=UTC)
    lines = []
    for hour in range(24 * 31):
        stamp = (start + timedelta(hours=hour)).strftime("%Y-%m-%d %H:%M:%S.000 UTC")
        for message in (
            f"duration: {hour * 1000.123:.3f} ms  statement: SELECT * FROM t{hour % 40} WHERE id = {hour}",
            f"connection authorized: user=u{hour % 30} database=d{hour % 30} application_name=app{hour % 30}",
            "disconnection: session time: 1:02:03.456 user=u database=d host=h port=1",
            "checkpoint starting: time",
            "checkpoint complete: wrote 123456 buffers (99.0%); 1 WAL file(s) added, 2 removed, 3 recycled; "
            "write=269.000 s, sync=1.000 s, total=270.000 s; sync files=9, longest=0.1 s, average=0.1 s; "
            "distance=1234567 kB, estimate=1234567 kB",
            f'temporary file: path "base/pgsql_tmp/x", size {hour * 1_000_000_007}',
            f'automatic analyze of table "db.public.t{hour % 40}" system usage: CPU: user: 0.1 s, elapsed: 1.0 s',
        ):
            lines.append(f"{stamp} [{hour}] u@d LOG:  {message}\n")
        lines.append(f'{stamp} [{hour}] u@d ERROR:  relation "t{hour % 40}_missing" does not exist\n')

    workload = report("".join(lines))

    assert len(workload["hours"]["start"]) == 24 * 31 and workload["hours"]["bucket_hours"] == 1
    size = len(json.dumps(workload))
    assert size < 120_000, size


def test_the_report_can_be_turned_off():
    assert report(line("10:00:00", 1, "duration: 1.000 ms  statement: SELECT 1"), workload_report=False) is None
    with pytest.raises(ValueError, match="workload_report"):
        LogAnalyzer({"workload_report": "yes"})


@pytest.mark.parametrize(("fmt", "name"), [("stderr", "pg15.log"), ("csvlog", "pg15.csv"), ("jsonlog", "pg15.json")])
def test_every_format_gives_the_same_report(fmt, name):
    parser = make_parser(fmt, PREFIX if fmt == "stderr" else None)
    analyzer = LogAnalyzer()
    analyzer.add_all(parser.feed((LOGS / name).read_bytes()))
    analyzer.add_all(parser.close(partial=True))
    workload = analyzer.finish().workload

    assert workload["connections"]["authorized"] == 20
    assert workload["connections"]["by_host"] == [{"host": "127.0.0.1", "count": 20}]
    assert workload["errors"]["by_severity"] == {"ERROR": 5, "FATAL": 4}
    assert workload["temp_files"]["by_query"][0]["query"] == "select g from generate_series(?, ?) g order by random()"
    assert sum(workload["hours"]["connections"]) == 20
