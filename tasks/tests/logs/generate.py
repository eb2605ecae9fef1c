"""Regenerate the real log samples in this directory from a throwaway PostgreSQL cluster.

    .venv/bin/python tasks/tests/logs/generate.py

Writes the same session (errors, a multi-line statement, a deadlock with a lock wait, failed
logins, temporary files, a slow statement, statement and lock timeouts, refused connections
and a backend killed with SIGKILL) as stderr (postgresql.log), csvlog and jsonlog files.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import psycopg  # noqa: E402

from testing.pg_cluster import PgCluster  # noqa: E402

PREFIX = "%m [%p] %q%u@%d "


def provoke(cluster: PgCluster) -> None:
    hba = cluster.datadir / "pg_hba.conf"
    hba.write_text("host all wrongpw 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    cluster.execute("CREATE ROLE wrongpw LOGIN PASSWORD 'right'")
    cluster.execute("CREATE ROLE app LOGIN")
    cluster.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    cluster.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
    cluster.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)
    with cluster.connect() as conn:
        for sql in ("SELECT 1/0", "SELECT *\n  FROM missing_table\n WHERE id = 1"):
            try:
                conn.execute(sql)
            except psycopg.Error:
                pass
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SELECT g FROM generate_series(1, 20000) g ORDER BY random()").fetchall()
        conn.execute("SELECT pg_sleep(1.05)")
        conn.execute("SET statement_timeout = '50ms'")
        try:
            conn.execute("SELECT pg_sleep(1)")
        except psycopg.Error:
            pass
    for _ in range(2):
        try:
            cluster.connect(user="wrongpw", password="wrong").close()
        except psycopg.OperationalError:
            pass
    deadlock(cluster)
    lock_timeout(cluster)
    refused_connections(cluster)
    kill_backend(cluster)


def deadlock(cluster: PgCluster) -> None:
    a, b = cluster.connect(autocommit=False), cluster.connect(autocommit=False)
    a.execute("UPDATE t SET v = v + 1 WHERE id = 1")
    b.execute("UPDATE t SET v = v + 1 WHERE id = 2")

    def a_waits() -> None:
        try:
            a.execute("UPDATE t SET v = v + 1 WHERE id = 2")
        except psycopg.Error:
            pass

    waiter = threading.Thread(target=a_waits)
    waiter.start()
    time.sleep(0.3)
    try:
        b.execute("UPDATE t SET v = v + 1 WHERE id = 1")
    except psycopg.Error:
        pass
    waiter.join()
    for conn in (a, b):
        conn.rollback()
        conn.close()


def lock_timeout(cluster: PgCluster) -> None:
    holder = cluster.connect(autocommit=False)
    holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    with cluster.connect() as conn:
        conn.execute("SET lock_timeout = '200ms'")
        try:
            conn.execute("SELECT * FROM t")
        except psycopg.Error:
            pass
    holder.rollback()
    holder.close()


def refused_connections(cluster: PgCluster) -> None:
    # max_connections 6, 2 reserved for superusers: the 5th app login and the 7th login fail.
    held = []
    try:
        for _ in range(5):
            try:
                held.append(cluster.connect(user="app"))
            except psycopg.OperationalError:
                pass
        for _ in range(3):
            try:
                held.append(cluster.connect())
            except psycopg.OperationalError:
                pass
    finally:
        for conn in held:
            conn.close()


def kill_backend(cluster: PgCluster) -> None:
    victim = cluster.connect()
    pid = victim.execute("SELECT pg_backend_pid()").fetchone()[0]
    os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    cluster.wait_ready()


def main() -> None:
    settings = {
        "logging_collector": "on",
        "log_destination": "'stderr,csvlog,jsonlog'",
        "log_directory": "'log'",
        "log_filename": "'postgresql'",
        "log_line_prefix": f"'{PREFIX}'",
        "log_min_duration_statement": "1000",
        "log_connections": "on",
        "log_lock_waits": "on",
        "log_temp_files": "0",
        "deadlock_timeout": "'100ms'",
        "lc_messages": "'C'",
        "max_connections": "6",
        "superuser_reserved_connections": "2",
        "restart_after_crash": "on",
    }
    cluster = PgCluster(auth="trust", settings=settings).start()
    try:
        cluster.wait_ready()
        provoke(cluster)
        time.sleep(1)
        logdir = cluster.datadir / "log"
        for name, target in (
            ("postgresql", "pg15.log"),
            ("postgresql.csv", "pg15.csv"),
            ("postgresql.json", "pg15.json"),
        ):
            shutil.copyfile(logdir / name, HERE / target)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
