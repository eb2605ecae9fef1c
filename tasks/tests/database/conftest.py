"""Running one database check against a throwaway cluster, as a review would."""

from __future__ import annotations

from typing import Any

import psycopg

from tasks.reviews.database.catalog import CHECKS, THRESHOLDS
from tasks.reviews.database.check import CheckContext, Problem, Skip, run_check, session_settings
from testing.pg_cluster import PgCluster


def review_session(cluster: PgCluster, dbname: str = "postgres", *, statement_ms=5000, lock_ms=1000, **kwargs):
    """A session set up like the review's own: read-only, with its timeouts."""
    options = " ".join(f"-c {key}={value}" for key, value in session_settings(statement_ms, lock_ms).items())
    return cluster.connect(dbname, options=options, **kwargs)


def check(
    cluster: PgCluster,
    name: str,
    dbname: str = "postgres",
    thresholds: dict[str, float] | None = None,
    previous: Any = None,
    **session_kwargs: Any,
) -> list[Problem] | Skip:
    """What check `name` reports on `dbname`; `.keep` of the last call is in `check.kept`."""
    with review_session(cluster, dbname, **session_kwargs) as conn:
        ctx = CheckContext(
            conn=conn,
            thresholds={**THRESHOLDS, **(thresholds or {})},
            database=dbname,
            server_version=conn.info.server_version,
            role=conn.info.user,
            previous=previous,
        )
        result = run_check(CHECKS[name], ctx)
        check.kept = ctx.keep
        return result


def subjects(result: list[Problem] | Skip) -> set[str]:
    assert not isinstance(result, Skip), f"skipped: {result}"
    return {problem.subject for problem in result}


def admin(cluster: PgCluster, sql: str, dbname: str = "postgres") -> None:
    """Run `sql` as the superuser, autocommit (several statements allowed)."""
    with cluster.connect(dbname) as conn:
        conn.execute(sql)


__all__ = ["admin", "check", "psycopg", "review_session", "subjects"]
