"""The settings area on one real cluster taken through three states: as initdb leaves it
(PgCluster's fsync = off), made careless with ALTER SYSTEM, and then configured like a DBA's by
running the remedies the checks give (restart included); last, checksums enabled with the
pg_checksums remedy on the stopped cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tasks.reviews.database.check import Skip
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster, pg_bin

ROLES = ("postgres", "watcher")  # the superuser and a pg_monitor-only role see the same


def make_german_locale(root: Path) -> str | None:
    """A non-English locale in a private LOCPATH, or None where the locale sources are missing
    (they come with Debian's `locales` package, which the postgresql package depends on)."""
    if not Path("/usr/share/i18n/locales/de_DE").exists():
        return None
    target = root / "locales"
    target.mkdir()
    done = subprocess.run(
        ["localedef", "-i", "de_DE", "-f", "UTF-8", str(target / "de_DE.UTF-8")], capture_output=True, timeout=60
    )
    if not (target / "de_DE.UTF-8").exists():
        return None
    os.chmod(target, 0o755)
    assert done.returncode in (0, 1), done.stderr  # 1: warnings only
    return str(target)


@pytest.fixture(scope="module")
def german():
    root = Path(tempfile.mkdtemp(prefix="reviewer-locale-"))
    os.chmod(root, 0o755)  # the server runs as postgres
    try:
        with pytest.MonkeyPatch.context() as patch:
            locpath = make_german_locale(root)
            if locpath:
                patch.setenv("LOCPATH", locpath)  # the server started below inherits it
            yield "de_DE.UTF-8" if locpath else None
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(german):
    cluster = PgCluster().start()
    admin(cluster, f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
    admin(cluster, f"CREATE ROLE outsider LOGIN PASSWORD '{cluster.superuser_password}'")
    yield cluster
    cluster.stop()


def as_postgres(*argv: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)


def pg_ctl(cluster: PgCluster, action: str) -> None:
    as_postgres(pg_bin("pg_ctl"), "-D", str(cluster.datadir), "-l", str(cluster.logfile), "-m", "fast", "-w", action)


def found(cluster: PgCluster, name: str, user: str) -> dict:
    result = check(cluster, name, user=user)
    assert not isinstance(result, Skip), f"skipped: {result}"
    return {problem.subject: problem for problem in result}


def apply(cluster: PgCluster, remedy: str) -> None:
    """A remedy's SQL, one statement at a time (ALTER SYSTEM refuses a multi-statement query)."""
    with cluster.connect() as conn:
        for line in remedy.splitlines():
            statement = line.split("  --")[0].strip()
            if statement:
                conn.execute(statement)


def test_as_initdb_leaves_it(cluster):
    for user in ROLES:
        risky = found(cluster, "risky_setting", user)
        assert set(risky) == {"fsync"}  # PgCluster's default, for speed
        assert risky["fsync"].severity == "critical"
        assert risky["fsync"].remedy == "ALTER SYSTEM SET fsync = on;\nSELECT pg_reload_conf();"

        # PostgreSQL 15's defaults log checkpoints, autovacuum runs over 10 min, and '%m [%p] '.
        logging = found(cluster, "logging_settings", user)
        assert set(logging) == {"logging_collector", "log_min_duration_statement", "log_lock_waits", "log_temp_files"}
        assert {problem.severity for problem in logging.values()} == {"info"}
        assert logging["log_temp_files"].remedy == "ALTER SYSTEM SET log_temp_files = 0;\nSELECT pg_reload_conf();"
        assert logging["logging_collector"].remedy.endswith("-- then restart the server")

        checksums = found(cluster, "checksums_disabled", user)
        assert set(checksums) == {"data_checksums"}
        assert checksums["data_checksums"].details["data_directory"] == str(cluster.datadir)
        assert f"pg_checksums --enable --progress -D {cluster.datadir}" in checksums["data_checksums"].remedy

    # Without pg_monitor: the same settings are readable, only data_directory is hidden.
    assert subjects(check(cluster, "risky_setting", user="outsider")) == {"fsync"}
    outsider = check(cluster, "checksums_disabled", user="outsider")
    assert outsider[0].details["data_directory"] == "$PGDATA"


def test_careless_settings(cluster, german, settings, tmp_path):
    careless = {
        "full_page_writes": "off",
        "synchronous_commit": "off",
        "log_line_prefix": "'%u@%d '",
        "log_checkpoints": "off",
        "log_autovacuum_min_duration": "-1",
    }
    if german:
        careless["lc_messages"] = f"'{german}'"
    for name, value in careless.items():
        admin(cluster, f"ALTER SYSTEM SET {name} = {value}")
    admin(cluster, "SELECT pg_reload_conf()")

    for user in ROLES:
        risky = found(cluster, "risky_setting", user)
        assert {name: problem.severity for name, problem in risky.items()} == {
            "fsync": "critical",
            "full_page_writes": "critical",
            "synchronous_commit": "info",
        }
        logging = found(cluster, "logging_settings", user)
        expected = {
            "logging_collector",
            "log_line_prefix",
            "log_min_duration_statement",
            "log_lock_waits",
            "log_temp_files",
            "log_checkpoints",
            "log_autovacuum_min_duration",
        }
        # German is fine: the worker has PostgreSQL's German catalog (log analysis reads it).
        assert set(logging) == expected
        prefix = logging["log_line_prefix"]
        assert "has no time (%m) and no process id (%p)" in prefix.message
        assert prefix.remedy.startswith("ALTER SYSTEM SET log_line_prefix = '%m [%p] %u@%d ';")
    if german:
        settings.LOG_LOCALE_DIRS = [str(tmp_path)]  # a worker without the catalog
        for user in ROLES:
            problem = found(cluster, "logging_settings", user)["lc_messages"]
            assert problem.severity == "info"
            assert "install the PostgreSQL 15 server package" in problem.message
            assert "LOG_LOCALE_DIRS" in problem.message
            assert problem.remedy.startswith("ALTER SYSTEM SET lc_messages = 'C';")
    if not german:
        pytest.skip("lc_messages: no non-English locale can be built here (Debian's locales package is missing)")


def test_configured_like_a_dbas(cluster):
    """Running every remedy given (and restarting for logging_collector) leaves nothing to report."""
    remedies = [problem.remedy for name in ("risky_setting", "logging_settings") for problem in check(cluster, name)]
    assert len(remedies) >= 10
    for remedy in remedies:
        apply(cluster, remedy)
    pg_ctl(cluster, "restart")
    for user in ROLES:
        assert subjects(check(cluster, "risky_setting", user=user)) == set()
        assert subjects(check(cluster, "logging_settings", user=user)) == set()
    assert (cluster.datadir / "log").is_dir()  # the collector writes its files now


def test_checksums_enabled_with_the_remedy(cluster):
    pg_ctl(cluster, "stop")
    as_postgres(pg_bin("pg_checksums"), "--enable", "-D", str(cluster.datadir))
    pg_ctl(cluster, "start")
    for user in ROLES:
        assert subjects(check(cluster, "checksums_disabled", user=user)) == set()
