"""What a database check is, what it reports, and how one is run without hurting the server.

A check is a function of a `CheckContext` that yields `Problem`s. It reads catalogs and
statistics views only, through `ctx.rows()`, in a read-only transaction bounded by the
session's `statement_timeout` and `lock_timeout` (database/session.py). It never scans a
table, never runs ANALYZE and never takes more than an ACCESS SHARE lock.

`run_check` turns what may go wrong into a skip with a reason: a missing privilege (with the
GRANT that enables the check), a timeout, a lock that did not come, or a catalog the server
version lacks. Only a lost session is an error of the whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

# A check reports at most this many problems per database, the most important first: a database
# with 5,000 unused indexes needs the worst ones named, not a 5,000-row page.
MAX_PROBLEMS = 100

AREAS = ("indexes", "maintenance", "activity", "replication", "queries", "settings", "security")
DATABASE, CLUSTER = "database", "cluster"
T = TypeVar("T")


@dataclass
class Problem:
    """One problem a check found on one subject."""

    severity: str  # info | warning | critical
    subject: str  # schema-qualified object, role, slot, setting or query id
    message: str  # one line for a human
    remedy: str = ""  # what to do, often SQL to copy; never run by the service
    details: dict[str, Any] = field(default_factory=dict)


class MissingPrivilege(Exception):
    """Raised by a check that can see its role lacks what it needs (the message says what)."""


@dataclass
class Skip:
    """Why a check did not run; `grant` is the statement that would let it run."""

    reason: str
    grant: str = ""


@dataclass
class CheckContext:
    """What a check reads with: the session (inside a read-only transaction), the thresholds
    with defaults filled in, and the server it is on."""

    conn: psycopg.Connection
    thresholds: Mapping[str, float]
    database: str  # the database the session is on
    server_version: int  # server_version_num, e.g. 150004
    role: str  # the role the review logs in as
    # Kept between runs of one task, per check and database (e.g. the pg_stat_statements
    # snapshot that the next run subtracts). A check reads `previous` and sets `keep`.
    previous: Any = None
    keep: Any = None

    def rows(self, sql: str, params: Mapping[str, Any] | tuple | None = None) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def value(self, sql: str, params: Mapping[str, Any] | tuple | None = None) -> Any:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
            return row[0] if row else None

    def setting(self, name: str) -> str | None:
        return self.value("SELECT current_setting(%s, true)", (name,))


@dataclass(frozen=True)
class Check:
    """A named check; its name is also the category of its findings."""

    name: str
    area: str  # one of AREAS
    scope: str  # DATABASE: once per reviewed database; CLUSTER: once per run
    run: Callable[[CheckContext], Iterable[Problem]]
    summary: str  # one line: what it reports, with its default thresholds (README table)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # The statement that gives a pg_monitor role what this check needs beyond pg_monitor;
    # "{role}" is replaced by the role the review logs in as.
    grant: str = ""


def bounded(rows: list[T]) -> tuple[list[T], dict[str, str]]:
    """The first MAX_PROBLEMS of `rows` (ordered most important first), and what to add to each
    problem's details when some were left out ({} when none were)."""
    if len(rows) > MAX_PROBLEMS:
        return rows[:MAX_PROBLEMS], {"truncated": f"only the first {MAX_PROBLEMS}, by importance, are reported"}
    return rows, {}


def run_check(check: Check, ctx: CheckContext) -> list[Problem] | Skip:
    """The check's problems, or why it was skipped. A lost session raises psycopg.OperationalError."""
    try:
        with ctx.conn.transaction():
            return list(check.run(ctx))
    except MissingPrivilege as exc:
        return Skip(str(exc), _grant(check, ctx))
    except psycopg.errors.InsufficientPrivilege as exc:
        return Skip(f"permission denied: {first_line(exc)}", _grant(check, ctx))
    except psycopg.errors.LockNotAvailable:
        return Skip(f"a lock it needs was held longer than lock_timeout ({ctx.setting('lock_timeout')})")
    except psycopg.errors.QueryCanceled:
        return Skip(f"timed out after statement_timeout ({ctx.setting('statement_timeout')})")
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        # An extension or view this server lacks, an older version's catalog, ...
        return Skip(first_line(exc))


def _grant(check: Check, ctx: CheckContext) -> str:
    return check.grant.format(role=quote_ident(ctx.conn, ctx.role)) if check.grant else ""


def quote_ident(conn: psycopg.Connection, name: str) -> str:
    """`name` as a DBA would type it: quoted only where the server says it must be."""
    with conn.cursor() as cur:
        cur.execute("SELECT quote_ident(%s)", (name,))
        return cur.fetchone()[0]


def first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def size(n: float | int | None) -> str:
    """Bytes as a DBA reads them: 512 kB, 3.4 GB."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def session_settings(statement_timeout_ms: int, lock_timeout_ms: int) -> dict[str, str]:
    """The server settings of every review session: read-only, and bounded so that a review
    never waits long behind a lock or holds a slow statement on the database under review."""
    return {
        "default_transaction_read_only": "on",
        "statement_timeout": str(statement_timeout_ms),
        "lock_timeout": str(lock_timeout_ms),
        # A review that dies mid-transaction must not leave its session holding snapshots.
        "idle_in_transaction_session_timeout": str(max(statement_timeout_ms, 10_000)),
    }
