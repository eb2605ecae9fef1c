"""The application database restarts under a running web process (scripts/serve.sh, granian).

Each web thread keeps its database connection between requests (DATABASE_CONN_MAX_AGE).
After a restart every kept connection is closed on the server's side; the check before a
kept connection's first use in a request finds that out and connects again, so no request
fails. The check asks the server nothing while the connection's socket is quiet
(reviewer/postgresql/base.py), instead of a `SELECT 1` per request.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connections

from testing.pg_cluster import PgCluster
from testing.production import ProductionServer
from testing.wait import wait_for
from testing.web import ROOT

PATH = "/api/v1/monitoring/tasks/executions?limit=1"  # reads the database on every request


@pytest.fixture(scope="module")
def app_database():
    """A private server holding the application database, migrated; its URL."""
    cluster = PgCluster(auth="trust").start()
    cluster.execute("CREATE DATABASE reviewer")
    url = f"postgres://postgres@127.0.0.1:{cluster.port}/reviewer"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, timeout=300)
    yield cluster, url
    cluster.stop()


def statuses(server: ProductionServer, count: int) -> list[int]:
    """The status of `count` requests, eight at a time (more than the worker's threads)."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: server.request(PATH)[0], range(count)))


def kept_connections(cluster: PgCluster) -> set[int]:
    with cluster.connect("reviewer") as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'postgresql-reviewer-app'"
        ).fetchall()
    return {row[0] for row in rows}


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_no_request_fails_after_the_application_database_restarts(app_database, tmp_path, mode):
    cluster, url = app_database
    env = {**os.environ, "DATABASE_URL": url, "REVIEWER_PUBLIC_READ": "true"}
    server = ProductionServer(env, tmp_path).start()
    try:
        assert statuses(server, 40) == [200] * 40
        before = kept_connections(cluster)
        assert before  # the threads kept their connections

        cluster.restart(mode)

        assert statuses(server, 40) == [200] * 40
        assert not kept_connections(cluster) & before
    finally:
        server.stop()


def other_backend(pid: int, sql: str) -> object:
    """Run `sql` (with the pid as its parameter) from a separate session of the test server."""
    params = connections["default"].get_connection_params()
    with psycopg.connect(
        host=params.get("host"),
        port=params.get("port"),
        user=params.get("user"),
        dbname=params["dbname"],
        autocommit=True,
    ) as conn:
        return conn.execute(sql, [pid]).fetchone()


def test_checking_a_kept_connection_asks_the_server_nothing(db):
    kept = connections.create_connection("default")
    try:
        with kept.cursor() as cursor:
            cursor.execute("SELECT 'the last statement'")
        pid = kept.connection.info.backend_pid

        assert kept.is_usable()
        assert kept.is_usable()

        last = other_backend(pid, "SELECT query FROM pg_stat_activity WHERE pid = %s")[0]
        assert last == "SELECT 'the last statement'"
    finally:
        kept.close()


def test_a_connection_the_server_closed_is_not_usable(db):
    kept = connections.create_connection("default")
    try:
        kept.ensure_connection()
        pid = kept.connection.info.backend_pid
        other_backend(pid, "SELECT pg_terminate_backend(%s)")  # signals it; it exits soon after
        wait_for(lambda: other_backend(pid, "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = %s")[0], timeout=30)

        assert not kept.is_usable()
    finally:
        kept.close()
