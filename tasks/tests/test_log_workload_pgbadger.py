"""The workload report against pgBadger's, on the same real PostgreSQL 15 log.

A throwaway cluster logs two phases of the same work into one stderr log: pgbench
(`-M simple`, and `-M prepared`: "execute <name>:" lines) as two users in two databases with
application names, a CTE, temp files, a division by zero, autovacuum and two CHECKPOINTs:

1. every statement with its duration (log_min_duration_statement = 0);
2. log_statement = 'all' with log_duration = on: each statement on its own line, its
   duration on the next line of its process.

pgBadger 12 (`-x json`, the Debian package) reads each phase's log, and so does the analyzer.
Every figure that agrees is asserted equal; every figure that differs is asserted to differ
exactly as the README's "Log analysis" section explains (differences 1 to 5 below).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.files import analyze_files
from testing.pg_cluster import PgCluster, pg_bin
from testing.wait import wait_for

PREFIX = "%m [%p] %q%u@%d "
SETTINGS = {
    "logging_collector": "on",
    "log_destination": "'stderr'",
    "log_directory": "'log'",
    "log_filename": "'postgresql.log'",
    "log_line_prefix": f"'{PREFIX}'",
    "log_min_duration_statement": "0",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_checkpoints": "on",
    "log_temp_files": "0",
    "log_autovacuum_min_duration": "0",
    "autovacuum_naptime": "1",
    "lc_messages": "'C'",
}

if shutil.which("pgbadger") is None:
    raise RuntimeError("pgbadger is missing: run scripts/ensure-system.sh (make test does)")


def pgbench(cluster: PgCluster, user: str, database: str, application: str, *args: str) -> None:
    subprocess.run(
        [pg_bin("pgbench"), "-h", cluster.host, "-p", str(cluster.port), "-U", user, *args, database],
        env={**os.environ, "PGAPPNAME": application, "PGPASSWORD": cluster.superuser_password},
        check=True,
        capture_output=True,
        timeout=300,
    )


def work(cluster: PgCluster, transactions: int) -> None:
    """The same work in each phase."""
    pgbench(cluster, "postgres", "postgres", "bench-simple", "-n", "-c", "2", "-j", "1", "-t", str(transactions))
    pgbench(cluster, "app", "shop", "bench-prepared", "-n", "-c", "2", "-j", "1", "-t", "50", "-M", "prepared")
    with cluster.connect("shop", user="app") as conn:
        conn.execute("SET work_mem = '64kB'")
        for _ in range(3):
            conn.execute("SELECT g FROM generate_series(1, 20000) g ORDER BY random()").fetchall()
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        conn.execute("WITH x AS (SELECT 1 AS a) SELECT a FROM x")


@pytest.fixture(scope="module")
def phases(tmp_path_factory) -> dict[str, Path]:
    """{"durations": log, "statements": log} from one cluster."""
    out = tmp_path_factory.mktemp("pgbadger")
    cluster = PgCluster(auth="trust", settings=SETTINGS).start()
    try:
        cluster.wait_ready()
        log = cluster.datadir / "log" / "postgresql.log"
        cluster.execute("CREATE ROLE app LOGIN")
        cluster.execute("CREATE DATABASE shop OWNER app")
        pgbench(cluster, "postgres", "postgres", "bench-init", "-i", "-q", "-s", "1")
        pgbench(cluster, "app", "shop", "bench-init", "-i", "-q", "-s", "1")
        cluster.execute("CREATE TABLE av (id int, v text)", dbname="shop")
        cluster.execute("INSERT INTO av SELECT g, 'x' FROM generate_series(1, 20000) g", dbname="shop")
        cluster.execute("CHECKPOINT")
        work(cluster, 100)
        cluster.execute("DELETE FROM av WHERE id % 2 = 0", dbname="shop")
        # Autovacuum may have run once after the INSERT already: wait for the run that
        # removes the deleted rows.
        vacuumed = re.compile(r'automatic vacuum of table "shop\.public\.av":.*\n(?:\t.*\n)*?\ttuples: 10000 removed')
        assert wait_for(lambda: vacuumed.search(log.read_text()), timeout=120)
        cluster.execute("CHECKPOINT")
        time.sleep(0.5)  # the collector writes what the server sent
        middle = log.stat().st_size

        with cluster.connect() as conn:
            conn.execute("ALTER SYSTEM SET log_min_duration_statement = -1")
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("ALTER SYSTEM SET log_duration = on")
            conn.execute("SELECT pg_reload_conf()")
        assert wait_for(lambda: 'parameter "log_duration" changed to "on"' in log.read_text(), timeout=30)
        work(cluster, 60)
        time.sleep(0.5)
        data = log.read_bytes()
    finally:
        cluster.stop()
    paths = {"durations": out / "durations.log", "statements": out / "statements.log"}
    paths["durations"].write_bytes(data[:middle])
    paths["statements"].write_bytes(data[middle:])
    return paths


def pgbadger(log: Path) -> dict:
    """pgBadger's JSON report of `log` (its own pid directory: others may run pgBadger too)."""
    report = log.with_suffix(".json")
    subprocess.run(
        ["pgbadger", "-f", "stderr", "-p", PREFIX, "-q", "--no-process-info", "--pid-dir", str(log.parent)]
        + ["-o", str(report), "-x", "json", str(log)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads(report.read_text())


def ours(log: Path) -> dict:
    analyzer = LogAnalyzer()
    analyze_files(str(log), "stderr", PREFIX, analyzer)
    result = analyzer.finish()
    return {"totals": result.summary["totals"], **result.workload}


@pytest.fixture(scope="module")
def durations(phases):
    return pgbadger(phases["durations"]), ours(phases["durations"]), phases["durations"].read_text()


@pytest.fixture(scope="module")
def statements(phases):
    return pgbadger(phases["statements"]), ours(phases["statements"]), phases["statements"].read_text()


def only(section: dict) -> dict:
    """pgBadger keys its sections by log source ("postgres" for a whole log): the one source."""
    [value] = [v for v in section.values() if isinstance(v, dict)]
    return value


KINDS = ("select", "insert", "update", "delete", "ddl", "tcl")


def pgbadger_mix(report: dict) -> dict[str, int]:
    overall = report["overall_stat"]["postgres"]
    mix = {kind: int(overall.get(kind, 0)) for kind in (*KINDS, "cte", "copy from", "copy to", "cursor")}
    # pgBadger keeps no count of "others": what the kinds above leave of queries_number.
    mix["others"] = int(report["overall_stat"]["queries_number"]) - sum(mix.values())
    return mix


def comparable(text: str) -> str:
    """A query text as both tools normalize it: pgBadger keeps the final ";" and the lists of
    values, which the analyzer folds into "(?)"."""
    text = text.strip().rstrip(";").lower()
    return re.sub(r"\(\?(?:\s*,\s*\?)*\)", "(?)", text)


def test_query_count_and_mix_agree_when_every_duration_is_logged(durations):
    report, workload, _ = durations

    assert workload["queries"]["count"] == workload["totals"]["queries"] == report["overall_stat"]["queries_number"]
    mix = pgbadger_mix(report)
    ours_mix = {kind: figures["count"] for kind, figures in workload["queries"]["by_kind"].items()}
    for kind in ("insert", "update", "delete", "ddl", "tcl"):
        assert ours_mix[kind] == mix[kind] > 0, kind
    # Difference 1: pgBadger counts a WITH query as "cte"; the analyzer as its main statement.
    assert mix["cte"] == 1
    assert ours_mix["select"] == mix["select"] + mix["cte"]
    assert ours_mix["copy"] == mix["copy from"] + mix["copy to"] == 2  # pgbench -i, in each database
    assert ours_mix["other"] == mix["others"] > 0  # SET, VACUUM, CHECKPOINT, ...


def test_top_queries_by_count_agree(durations):
    report, workload, _ = durations
    theirs = {comparable(query): figures for query, figures in only(report["normalyzed_info"]).items()}
    top = workload["queries"]["top_by_count"]

    checked = 0
    for row in top:
        text = comparable(row["query"])
        if text in ("commit", "end"):
            # Difference 2: PostgreSQL's parser reads END as COMMIT, so pglast's fingerprint
            # groups them; pgBadger keeps the two spellings apart.
            assert row["count"] == theirs["end"]["count"] + theirs["commit"]["count"]
            continue
        assert row["count"] == theirs[text]["count"], text
        assert row["total_ms"] == pytest.approx(float(theirs[text]["duration"]), abs=0.01), text
        checked += 1
    assert checked >= 15
    # pgbench's statements, simple and prepared ("execute P_n:"), are the top seven: BEGIN,
    # END (with pgbench -i's two COMMITs) and five statements, 300 times each.
    assert [row["count"] for row in top[:7]] == [302, 302, 300, 300, 300, 300, 300]


def test_sessions_and_connections_agree(durations, statements):
    for report, workload, _ in (durations, statements):
        sessions = only(report["session_info"])
        assert workload["sessions"]["count"] == sessions["count"] > 0
        assert workload["sessions"]["total_seconds"] == pytest.approx(sessions["duration"] / 1000, abs=0.001)
        connections = only(report["connection_info"])
        assert workload["connections"]["authorized"] == connections["count"]
        for ours_key, theirs_key in (("by_user", "user"), ("by_database", "database"), ("by_host", "host")):
            label = ours_key.removeprefix("by_")
            assert {row[label]: row["count"] for row in workload["connections"][ours_key]} == connections[theirs_key]
        assert {row["user"] for row in workload["connections"]["by_user"]} == {"postgres", "app"}
        # Difference 5: pgBadger's table by application counts queries; the analyzer's,
        # connections (pgbench names itself, psql and psycopg here do not).
        by_application = {row["application"]: row["count"] for row in workload["connections"]["by_application"]}
        assert sum(by_application.values()) == connections["count"]
        assert {"bench-simple", "bench-prepared"} <= set(by_application)
        theirs = only(report["application_info"])
        assert sum(figures["count"] for figures in theirs.values()) == report["overall_stat"]["queries_number"]


def test_errors_by_severity_agree(durations, statements):
    for report, workload, _ in (durations, statements):
        levels = only(report["logs_type"])
        assert workload["errors"]["by_severity"] == {level: levels[level] for level in ("ERROR",)} == {"ERROR": 1}
        assert workload["errors"]["top_messages"] == [{"message": "ERROR:  division by zero", "count": 1}]


def test_checkpoints_agree_but_the_estimate(durations):
    report, workload, log = durations
    theirs, ours_ = report["checkpoint_info"], workload["checkpoints"]

    assert {row["reason"]: row["count"] for row in ours_["by_reason"]} == theirs["starting"]
    assert ours_["started"] == ours_["completed"] == sum(theirs["starting"].values()) >= 2
    assert ours_["buffers_written"] == theirs["wbuffer"]
    assert (ours_["wal_added"], ours_["wal_removed"], ours_["wal_recycled"]) == (
        theirs["file_added"],
        theirs["file_removed"],
        theirs["file_recycled"],
    )
    for name in ("write", "sync", "total"):
        assert ours_[f"{name}_seconds"] == pytest.approx(theirs[name], abs=0.001)
    assert ours_["distance_kb"] == theirs["distance"]
    # Difference 3: pgBadger adds up every checkpoint's estimate; the analyzer reports the
    # server's latest estimate (a running average of the distance: a sum of them means nothing).
    estimates = [int(m) for m in re.findall(r"estimate=(\d+) kB", log)]
    assert theirs["estimate"] == sum(estimates)
    assert ours_["estimate_kb"] == estimates[-1]


def test_temp_files_agree(durations):
    report, workload, _ = durations
    theirs = only(report["tempfile_info"])

    assert (workload["temp_files"]["count"], workload["temp_files"]["bytes"]) == (theirs["count"], theirs["size"])
    by_query = {comparable(q): f["tempfiles"] for q, f in only(report["normalyzed_info"]).items() if "tempfiles" in f}
    assert {comparable(row["query"]): (row["count"], row["bytes"]) for row in workload["temp_files"]["by_query"]} == {
        query: (figures["count"], figures["size"]) for query, figures in by_query.items()
    }
    assert comparable("select g from generate_series(?, ?) g order by random()") in by_query


def test_autovacuum_agrees(durations):
    report, workload, _ = durations
    vacuums, analyzes = only(report["autovacuum_info"])["tables"], only(report["autoanalyze_info"])["tables"]

    assert workload["autovacuum"]["vacuums"] == sum(t.get("vacuums", 0) for t in vacuums.values()) > 0
    assert workload["autovacuum"]["analyzes"] == sum(t.get("analyzes", 0) for t in analyzes.values()) > 0
    rows = {row["table"]: row for row in workload["autovacuum"]["by_table"]}
    assert rows["shop.public.av"]["tuples_removed"] >= 10000  # the DELETE
    for table, row in rows.items():
        if table in vacuums:
            assert row["vacuums"] == vacuums[table]["vacuums"], table
            assert row["tuples_removed"] == vacuums[table]["tuples"]["removed"], table
        if table in analyzes:
            assert row["analyzes"] == analyzes[table]["analyzes"], table


def test_statements_pair_with_their_durations_where_pgbadger_counts_both(statements):
    report, workload, log = statements
    statement_lines = len(re.findall(r" LOG:  (?:statement|execute [^:]+): ", log))
    duration_lines = len(re.findall(r" LOG:  duration: [\d.]+ ms$", log, re.MULTILINE))
    # The statements that set phase 2 up were still logged the phase 1 way.
    both = len(re.findall(r" LOG:  duration: [\d.]+ ms  (?:statement|execute [^:]+): ", log))
    assert statement_lines > 1000 and duration_lines > statement_lines and both == 4

    # Difference 4: pgBadger counts a statement line and its duration line as two queries,
    # and shows the statements without their durations.
    assert report["overall_stat"]["queries_number"] == statement_lines + duration_lines + both
    theirs = {comparable(q): f for q, f in only(report["normalyzed_info"]).items()}
    assert float(theirs["update pgbench_accounts set abalance = abalance + ? where aid = ?"].get("duration", 0)) == 0
    # The analyzer pairs each statement with the duration its process logs next: a duration
    # per statement, and the rest (parse and bind steps of the prepared statements) apart.
    assert workload["totals"]["queries"] == duration_lines + both
    rows = {comparable(row["query"]): row for row in workload["queries"]["top_by_count"]}
    update = rows["update pgbench_accounts set abalance = abalance + ? where aid = ?"]
    assert update["count"] == theirs["update pgbench_accounts set abalance = abalance + ? where aid = ?"]["count"]
    assert update["untimed"] == 0 and update["total_ms"] > 0
    unpaired = rows["(duration without its statement)"]
    assert workload["queries"]["timed"] == duration_lines + both
    assert workload["queries"]["count"] == statement_lines + both + unpaired["count"]
    # The mix of what was logged is pgBadger's, the WITH query aside (difference 1).
    mix = pgbadger_mix(report)
    ours_mix = {kind: figures["count"] for kind, figures in workload["queries"]["by_kind"].items()}
    for kind in ("insert", "update", "tcl"):
        assert ours_mix[kind] == mix[kind] > 0, kind
    assert ours_mix["select"] == mix["select"] + mix["cte"]
