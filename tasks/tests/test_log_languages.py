"""log_analysis reads logs in the server's own language.

Three real clusters — lc_messages C, de_DE.UTF-8 and ru_RU.UTF-8 — go through the same events
(errors, a multi-line statement, slow and timed-out statements, temporary files, failed logins,
a deadlock and lock waits, a lock timeout, refused connections, a checkpoint storm and a backend
killed with SIGKILL), twice: once with %e in log_line_prefix, then, after a rotation, without.
Each writes stderr, csvlog and jsonlog. Every format is analyzed through the `file` source
(the language detected from the log) and the `server` source (lc_messages read from the
server), and each language must give exactly what English gives: the same categories, the same
findings with the same counts, the same totals.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tasks.models import ExecutionStatus, Finding, LogCursor, TaskExecution
from tasks.runner import claim_execution, run_claimed_execution
from tasks.tests.factories import TaskExecutionFactory, TaskFactory
from tasks.tests.logs.generate import deadlock, lock_timeout, refused_connections
from testing.locales import build_locales
from testing.pg_cluster import PgCluster

pytestmark = pytest.mark.django_db

LANGUAGES = {"en": "C", "de": "de_DE.UTF-8", "ru": "ru_RU.UTF-8"}
WITH_STATE = "%m [%p] %q%u@%d %e "
WITHOUT_STATE = "%m [%p] %q%u@%d "
SETTINGS = {
    "logging_collector": "on",
    "log_destination": "'stderr,csvlog,jsonlog'",
    "log_directory": "'log'",
    "log_filename": "'round1'",
    "log_line_prefix": f"'{WITH_STATE}'",
    "log_min_duration_statement": "0",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "log_checkpoints": "on",
    "deadlock_timeout": "'100ms'",
    "max_connections": "6",
    "superuser_reserved_connections": "2",
    "restart_after_crash": "on",
    "autovacuum": "off",  # its runs come when they like: counts would differ between clusters
    "max_wal_size": "'32MB'",
    "min_wal_size": "'32MB'",
}
# What a DBA greps for in each language (the catalogs' own words), to count checkpoints.
TOO_FREQUENT = {
    "en": "checkpoints are occurring too frequently",
    "de": "Checkpoints passieren zu oft",
    "ru": "контрольные точки происходят слишком часто",
}
READY = {
    "en": "database system is ready to accept connections",
    "de": "Datenbanksystem ist bereit, um Verbindungen anzunehmen",
    "ru": "система БД готова принимать подключения",
}
# Each variant of the log: (file glob, format, log_line_prefix).
VARIANTS = {
    "stderr with %e": ("round1", "stderr", WITH_STATE),
    "stderr without %e": ("round2", "stderr", WITHOUT_STATE),
    "csvlog": ("round*.csv", "csvlog", WITH_STATE),
    "jsonlog": ("round*.json", "jsonlog", WITH_STATE),
}


class Logged:
    """A cluster that went through the events, and a copy of its log files as they were then."""

    def __init__(self, language: str, cluster: PgCluster, logs: Path) -> None:
        self.language = language
        self.cluster = cluster
        self.logs = logs


# --- provoking the events --------------------------------------------------------------------


def prepare(cluster: PgCluster) -> None:
    hba = cluster.datadir / "pg_hba.conf"
    hba.write_text("host all wrongpw 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    for sql in (
        "CREATE ROLE wrongpw LOGIN PASSWORD 'right'",
        "CREATE ROLE app LOGIN",
        "CREATE TABLE t (id int PRIMARY KEY, v int)",
        "INSERT INTO t VALUES (1, 0), (2, 0)",
        "CREATE TABLE filler (id int, pad text)",
        "SELECT pg_reload_conf()",
    ):
        cluster.execute(sql)
    time.sleep(0.3)


def provoke(cluster: PgCluster, language: str) -> None:
    with cluster.connect() as conn:
        for sql in ("SELECT 1/0", "SELECT *\n  FROM missing_table\n WHERE id = 1", "SELEC 1"):
            with pytest.raises(psycopg.Error):
                conn.execute(sql)
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SELECT g FROM generate_series(1, 20000) g ORDER BY random()").fetchall()
        conn.execute("SELECT pg_sleep(1.05)")
        conn.execute("SET statement_timeout = '50ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(1)")
    for _ in range(2):
        with pytest.raises(psycopg.OperationalError):
            cluster.connect(user="wrongpw", password="wrong").close()
    deadlock(cluster)
    lock_timeout(cluster)
    refused_connections(cluster)
    time.sleep(1)  # the six sessions it held end in the background: their slots must be free again
    checkpoint_storm(cluster)
    crash(cluster, READY[language])


def checkpoint_storm(cluster: PgCluster) -> None:
    """Over 3 × max_wal_size of WAL: checkpoints requested by WAL volume, seconds apart."""
    with cluster.connect() as conn:
        for _ in range(11):  # short statements: none of them may pass for a slow query
            conn.execute("INSERT INTO filler SELECT g, repeat('x', 900) FROM generate_series(1, 10000) g")
        conn.execute("TRUNCATE filler")


def crash(cluster: PgCluster, ready: str) -> None:
    """SIGKILL a backend: the postmaster restarts every process and recovers. Waits for the
    server to say it is ready in its log rather than by connecting, so no login lands in
    recovery (those refusals would make the counts differ from cluster to cluster)."""

    def times_ready() -> int:
        return sum(path.read_text().count(ready) for path in (cluster.datadir / "log").glob("round?"))

    before = times_ready()
    victim = cluster.connect()
    os.kill(victim.execute("SELECT pg_backend_pid()").fetchone()[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if times_ready() > before:
            break
    else:
        raise AssertionError("the cluster did not recover from the killed backend within 60 s")
    try:
        victim.close()
    except psycopg.Error:
        pass


def drop_state_from_prefix(cluster: PgCluster) -> None:
    """Round 2 writes new files (log_filename round2) without %e in the prefix. The statements
    doing it are not logged: on which side of the rotation they would land is a race."""
    with cluster.connect() as conn:
        conn.execute("SET log_min_duration_statement = -1")
        conn.execute(f"ALTER SYSTEM SET log_line_prefix = '{WITHOUT_STATE}'")
        conn.execute("ALTER SYSTEM SET log_filename = 'round2'")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(1)
        conn.execute("SELECT pg_rotate_logfile()")
    time.sleep(0.5)


def go_through_events(cluster: PgCluster, language: str) -> None:
    prepare(cluster)
    provoke(cluster, language)
    drop_state_from_prefix(cluster)
    provoke(cluster, language)
    time.sleep(1)  # the collector writes what is left


@pytest.fixture(scope="module")
def logged() -> Iterator[dict[str, Logged]]:
    root = Path(tempfile.mkdtemp(prefix="reviewer-languages-"))
    clusters: dict[str, PgCluster] = {}
    try:
        locpath = build_locales(root, [name for name in LANGUAGES.values() if name != "C"])
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LOCPATH", locpath)  # the servers started here inherit it
            for language, lc_messages in LANGUAGES.items():
                clusters[language] = PgCluster(auth="trust", settings={**SETTINGS, "lc_messages": f"'{lc_messages}'"})
                clusters[language].start()
        # The three clusters go through the events at once: most of the time is spent waiting.
        failures: list[BaseException] = []

        def run(language: str, cluster: PgCluster) -> None:
            try:
                go_through_events(cluster, language)
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=run, args=item) for item in clusters.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        if failures:
            raise failures[0]
        logged = {}
        for language, cluster in clusters.items():
            copy = root / "logs" / language
            shutil.copytree(cluster.datadir / "log", copy)
            logged[language] = Logged(language, cluster, copy)
        yield logged
    finally:
        for cluster in clusters.values():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- analyzing ------------------------------------------------------------------------------


def run_now(task) -> TaskExecution:
    """Run the review in this process (the queue is tested elsewhere)."""
    execution = TaskExecutionFactory(task=task)
    assert claim_execution(execution.id)
    run_claimed_execution(execution.id)
    done = TaskExecution.objects.get(pk=execution.id)
    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    return done


def analyze_file(logs: Logged, variant: str, settings, **config) -> TaskExecution:
    pattern, fmt, prefix = VARIANTS[variant]
    settings.LOG_FILE_ROOTS = [str(logs.logs.parent)]
    task = TaskFactory(
        task_type="log_analysis",
        config={
            "source": "file",
            "path": str(logs.logs / pattern),
            "format": fmt,
            "log_line_prefix": prefix,
            "slow_query_ms": 1000,
            **config,
        },
    )
    return run_now(task)


def analyze_server(logs: Logged, fmt: str) -> TaskExecution:
    cluster = logs.cluster
    task = TaskFactory(
        task_type="log_analysis",
        connection__port=cluster.port,
        config={"source": "server", "format": fmt, "slow_query_ms": 1000},
    )
    if fmt == "stderr":
        # The server's prefix is round 2's: start where round 1's stderr file ends.
        size = (cluster.datadir / "log" / "round1").stat().st_size
        LogCursor.objects.create(task=task, source="server", positions={"round1": {"offset": size}})
    return run_now(task)


TOTALS = (
    "queries",
    "slow_queries",
    "errors",
    "errors_by_severity",
    "errors_by_class",
    "warnings",
    "deadlocks",
    "lock_waits",
    "auth_failures",
    "temp_files",
    "connections",
)


def what_was_found(execution: TaskExecution) -> dict:
    """Everything a run reports that must not depend on the language. Checkpoint counts are
    compared with the log itself instead (how many WAL-requested checkpoints run varies)."""
    result = execution.result
    findings = {
        (f.category, f.subject): f.count
        for f in Finding.objects.filter(execution=execution)
        if f.category != "checkpoint_frequency"
    }
    categories = {k: v for k, v in result["categories"].items() if k != "checkpoint_frequency"}
    return {"categories": categories, "findings": findings, "totals": {k: result["totals"][k] for k in TOTALS}}


def assert_same_as_english(found: dict[str, TaskExecution]) -> None:
    english = what_was_found(found["en"])
    # Every kind of event was provoked, and found in English.
    assert set(english["categories"]) >= {
        "error",
        "slow_query",
        "deadlock",
        "lock_wait",
        "temp_file",
        "auth_failure",
        "connection_slots",
        "crash",
        "statement_timeout",
        "lock_timeout",
    }, english["categories"]
    for language in ("de", "ru"):
        translated = what_was_found(found[language])
        for key in english:
            assert translated[key] == english[key], (language, key, _difference(translated[key], english[key]))
        assert "checkpoint_frequency" in found[language].result["categories"], language


def _difference(found: dict, expected: dict) -> dict:
    return {k: (found.get(k), expected.get(k)) for k in set(found) | set(expected) if found.get(k) != expected.get(k)}


def checkpoint_warnings(execution: TaskExecution) -> int:
    finding = Finding.objects.get(execution=execution, category="checkpoint_frequency")
    return finding.details["too_frequent_warnings"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_file_source_finds_in_each_language_what_it_finds_in_english(logged, variant, settings):
    found = {language: analyze_file(logs, variant, settings) for language, logs in logged.items()}

    assert_same_as_english(found)
    for language, execution in found.items():
        assert execution.result["language"] == language  # detected from the log
        assert "warnings" not in execution.result
    if variant == "stderr with %e":
        for language, execution in found.items():
            written = (logged[language].logs / "round1").read_text().count(TOO_FREQUENT[language])
            assert written >= 1
            assert checkpoint_warnings(execution) == written, language


@pytest.mark.parametrize("fmt", ["stderr", "csvlog", "jsonlog"])
def test_the_server_source_finds_in_each_language_what_it_finds_in_english(logged, fmt):
    found = {language: analyze_server(logs, fmt) for language, logs in logged.items()}

    assert_same_as_english(found)
    for language, execution in found.items():
        assert execution.result["lc_messages"] == LANGUAGES[language]  # read from the server
        assert execution.result["format"] == fmt


def test_a_configured_lc_messages_is_used_as_given(logged, settings):
    found = {
        language: analyze_file(logs, "stderr without %e", settings, lc_messages=LANGUAGES[language])
        for language, logs in logged.items()
    }

    assert_same_as_english(found)
    assert found["de"].result["lc_messages"] == "de_DE.UTF-8"


@pytest.mark.parametrize("variant", VARIANTS)
def test_without_a_catalog_errors_are_still_counted_and_the_fix_is_named(logged, variant, settings, tmp_path):
    settings.LOG_LOCALE_DIRS = [str(tmp_path)]  # no catalog there
    found = {language: analyze_file(logs, variant, settings) for language, logs in logged.items()}

    english = found["en"].result["totals"]
    for language in ("de", "ru"):
        result = found[language].result
        settings.LOG_LOCALE_DIRS = ["/usr/share/locale"]
        with_catalog = analyze_file(logged[language], variant, settings).result
        assert result["analyzed_logs"] == with_catalog["analyzed_logs"]  # no entry dropped
        assert result["totals"]["errors_by_severity"] == english["errors_by_severity"]
        if variant != "stderr without %e":  # the SQLSTATE is in the log
            assert result["totals"]["errors_by_class"] == english["errors_by_class"]
        [warning] = result["warnings"]
        assert f"lc_messages is '{language}'" in warning  # detected
        assert "install the PostgreSQL server package" in warning and "LOG_LOCALE_DIRS" in warning
