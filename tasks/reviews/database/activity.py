"""Checks of the activity area: what the sessions of the cluster are doing right now.

All of them are cluster-wide: pg_stat_activity, pg_locks and pg_prepared_xacts show every
database at once. A review sees other roles' sessions (state, query text) only with
pg_read_all_stats, which pg_monitor includes; without it the session checks are skipped
with the GRANT that enables them, instead of reporting nothing as if all were well.

Subjects are "pid N": the same backend still in the same trouble at the next run is the same
finding, a new backend is a new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tasks.reviews.database.check import CLUSTER, MAX_PROBLEMS, Check, CheckContext, MissingPrivilege, Problem, bounded

QUERY_IN_MESSAGE = 300  # characters of query text in the one-line message
QUERY_IN_DETAILS = 2048  # characters of query text kept in details

SEE_ALL_SESSIONS = "GRANT pg_monitor TO {role}"


def duration(seconds: float | None) -> str:
    """Seconds as a DBA reads them: 45 s, 12 min 05 s, 3 h 02 min, 2 d 04 h."""
    if seconds is None:
        return "?"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600:02d} h"


def short(query: str | None, limit: int = QUERY_IN_MESSAGE) -> str:
    """A query on one line, cut at `limit` characters."""
    text = " ".join((query or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def require_all_sessions(ctx: CheckContext) -> None:
    """Without pg_read_all_stats other roles' sessions show no state and no query: a check
    reading them would see nothing wrong where it just cannot look."""
    if not ctx.value(
        "SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')"
        " FROM pg_roles WHERE rolname = current_user"
    ):
        raise MissingPrivilege("cannot see other roles' sessions (needs pg_read_all_stats, part of pg_monitor)")


def _who(row: dict[str, Any]) -> str:
    parts = [
        f"user {row['usename']}" if row.get("usename") else "",
        f"database {row['datname']}" if row.get("datname") else "",
    ]
    if row.get("application_name"):
        parts.append(f"application {row['application_name']}")
    if row.get("client_addr"):
        parts.append(f"from {row['client_addr']}")
    return ", ".join(part for part in parts if part)


def _session_details(row: dict[str, Any]) -> dict[str, Any]:
    query = row.get("query") or ""
    return {
        "pid": row["pid"],
        "user": row.get("usename"),
        "database": row.get("datname"),
        "application_name": row.get("application_name") or "",
        "client_addr": row.get("client_addr"),
        "backend_type": row.get("backend_type"),
        "state": row.get("state"),
        "wait_event_type": row.get("wait_event_type"),
        "wait_event": row.get("wait_event"),
        "backend_start": row.get("backend_start"),
        "xact_start": row.get("xact_start"),
        "query_start": row.get("query_start"),
        "state_change": row.get("state_change"),
        "transaction_seconds": _float(row.get("xact_seconds")),
        "query": query[:QUERY_IN_DETAILS],
        "query_truncated": len(query) > QUERY_IN_DETAILS,
    }


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


# The columns every session check reads, JSON-ready (text timestamps and addresses).
SESSION_COLUMNS = """
    a.pid, a.usename::text AS usename, a.datname::text AS datname, a.application_name,
    host(a.client_addr) AS client_addr, a.backend_type, a.state, a.wait_event_type, a.wait_event,
    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS backend_start,
    to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS xact_start,
    to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS query_start,
    to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS state_change,
    extract(epoch FROM clock_timestamp() - a.xact_start) AS xact_seconds,
    left(a.query, 2049) AS query
"""


def long_running_queries(ctx: CheckContext) -> Iterator[Problem]:
    require_all_sessions(ctx)
    warn = ctx.thresholds["long_running_query_seconds"]
    crit = ctx.thresholds["long_running_query_critical_seconds"]
    rows, truncated = bounded(
        ctx.rows(
            f"""
            SELECT {SESSION_COLUMNS}, extract(epoch FROM clock_timestamp() - a.query_start) AS seconds
            FROM pg_stat_activity a
            WHERE a.state = 'active'
              AND a.backend_type = 'client backend'
              AND a.pid <> pg_backend_pid()
              AND a.wait_event_type IS DISTINCT FROM 'Lock'
              AND a.query_start < clock_timestamp() - make_interval(secs => %(warn)s)
            ORDER BY a.query_start
            LIMIT %(limit)s
            """,
            {"warn": warn, "limit": MAX_PROBLEMS + 1},
        )
    )
    for row in rows:
        seconds = float(row["seconds"])
        pid = row["pid"]
        yield Problem(
            severity="critical" if seconds >= crit else "warning",
            subject=f"pid {pid}",
            message=f"pid {pid} ({_who(row)}) has been running one statement for {duration(seconds)}: "
            f"{short(row['query'])}",
            remedy=f"SELECT pg_cancel_backend({pid});  -- if it does not stop: SELECT pg_terminate_backend({pid});",
            details={"seconds": round(seconds, 3), **_session_details(row), **truncated},
        )


def idle_in_transaction(ctx: CheckContext) -> Iterator[Problem]:
    require_all_sessions(ctx)
    warn = ctx.thresholds["idle_in_transaction_seconds"]
    crit = ctx.thresholds["idle_in_transaction_critical_seconds"]
    rows, truncated = bounded(
        ctx.rows(
            f"""
            SELECT {SESSION_COLUMNS}, extract(epoch FROM clock_timestamp() - a.state_change) AS seconds,
                   format('%%I', a.usename) AS role_ident,
                   age(coalesce(a.backend_xmin, a.backend_xid))::bigint AS xmin_age
            FROM pg_stat_activity a
            WHERE a.state IN ('idle in transaction', 'idle in transaction (aborted)')
              AND a.backend_type = 'client backend'
              AND a.pid <> pg_backend_pid()
              AND a.state_change < clock_timestamp() - make_interval(secs => %(warn)s)
            ORDER BY a.state_change
            LIMIT %(limit)s
            """,
            {"warn": warn, "limit": MAX_PROBLEMS + 1},
        )
    )
    for row in rows:
        seconds = float(row["seconds"])
        pid = row["pid"]
        aborted = " (aborted)" if row["state"].endswith("(aborted)") else ""
        opened = f", transaction open for {duration(row['xact_seconds'])}" if row["xact_seconds"] is not None else ""
        timeout = f"'{max(1, int(warn // 60))}min'" if warn >= 60 else f"'{max(1, int(warn))}s'"
        role = row["role_ident"] or "the_role"
        # An aborted transaction has already released its locks and snapshot; it only waits for ROLLBACK.
        harm = (
            "it holds a connection and fails every statement until the application rolls back"
            if aborted
            else "it holds its locks and keeps VACUUM from removing dead rows"
        )
        yield Problem(
            severity="critical" if seconds >= crit else "warning",
            subject=f"pid {pid}",
            message=f"pid {pid} ({_who(row)}) has been idle in transaction{aborted} for {duration(seconds)}{opened}; "
            f"{harm}. Last statement: {short(row['query'])}",
            remedy=f"SELECT pg_terminate_backend({pid});  -- and fix the application that leaves transactions open; "
            f"to end such sessions automatically: ALTER ROLE {role} SET idle_in_transaction_session_timeout = {timeout};",
            details={
                "seconds": round(seconds, 3),
                "aborted": bool(aborted),
                "xmin_age": row["xmin_age"],
                **_session_details(row),
                **truncated,
            },
        )


def blocked_queries(ctx: CheckContext) -> Iterator[Problem]:
    require_all_sessions(ctx)
    warn = ctx.thresholds["blocked_query_seconds"]
    crit = ctx.thresholds["blocked_query_critical_seconds"]
    # pg_locks.waitstart (PG14+) is when the lock wait began; before it, the statement's start.
    waitstart = (
        "(SELECT pid, min(waitstart) AS waitstart FROM pg_locks WHERE NOT granted GROUP BY pid)"
        if ctx.server_version >= 140000
        else "(SELECT NULL::int AS pid, NULL::timestamptz AS waitstart)"
    )
    # Only backends waiting on a lock are asked for pg_blocking_pids: on a busy server that is
    # a handful of calls, each reading the lock table once.
    rows, truncated = bounded(
        ctx.rows(
            f"""
            WITH waiting AS (
                SELECT {SESSION_COLUMNS}, pg_blocking_pids(a.pid) AS blockers,
                       coalesce(w.waitstart, a.query_start) AS waiting_since
                FROM pg_stat_activity a
                LEFT JOIN {waitstart} w ON w.pid = a.pid
                WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
            )
            SELECT w.*, extract(epoch FROM clock_timestamp() - w.waiting_since) AS seconds,
                   (SELECT coalesce(json_agg(json_build_object(
                        'pid', b.pid, 'user', b.usename, 'database', b.datname,
                        'application_name', b.application_name, 'client_addr', host(b.client_addr),
                        'backend_type', b.backend_type, 'state', b.state,
                        'transaction_seconds', round(extract(epoch FROM clock_timestamp() - b.xact_start)::numeric, 3),
                        'query', left(b.query, {QUERY_IN_DETAILS})) ORDER BY b.xact_start), '[]')
                    FROM pg_stat_activity b WHERE b.pid = ANY (w.blockers)) AS blocking
            FROM waiting w
            WHERE cardinality(w.blockers) > 0
              AND w.waiting_since < clock_timestamp() - make_interval(secs => %(warn)s)
            ORDER BY w.waiting_since
            LIMIT %(limit)s
            """,
            {"warn": warn, "limit": MAX_PROBLEMS + 1},
        )
    )
    for row in rows:
        seconds = float(row["seconds"])
        pid = row["pid"]
        blocking = row["blocking"]
        # pg_blocking_pids names a prepared transaction holding the lock as pid 0.
        prepared = 0 in row["blockers"]
        described = [
            f"pid {b['pid']} ({b['state'] or b['backend_type']}"
            + (
                f", transaction open for {duration(b['transaction_seconds'])}"
                if b["transaction_seconds"] is not None
                else ""
            )
            + f"): {short(b['query'], 120)}"
            for b in blocking
        ]
        if prepared:
            described.append("a prepared transaction (see pg_prepared_xacts)")
        remedies = [
            f"SELECT pg_terminate_backend({b['pid']});"
            if (b["state"] or "").startswith("idle in transaction")
            else f"SELECT pg_cancel_backend({b['pid']});"
            for b in blocking
        ]
        if prepared:
            remedies.append("COMMIT PREPARED or ROLLBACK PREPARED the prepared transaction that holds the lock;")
        yield Problem(
            severity="critical" if seconds >= crit else "warning",
            subject=f"pid {pid}",
            message=f"pid {pid} ({_who(row)}) has waited {duration(seconds)} for a lock held by "
            f"{'; '.join(described)}. Waiting: {short(row['query'])}",
            remedy=" ".join(remedies)
            + "  -- end the blocker (cancel a running statement, terminate a session idle in transaction); "
            "have the application set lock_timeout so that it fails fast instead of queueing",
            details={
                "seconds": round(seconds, 3),
                "blocking_pids": [b for b in row["blockers"] if b],
                "blocked_by_prepared_transaction": prepared,
                "blocking": blocking,
                **_session_details(row),
                **truncated,
            },
        )


def connection_saturation(ctx: CheckContext) -> Iterator[Problem]:
    require_all_sessions(ctx)  # other roles' sessions show no backend_type: clients could not be told apart
    warn = ctx.thresholds["connection_saturation_ratio"]
    crit = ctx.thresholds["connection_saturation_critical_ratio"]
    row = ctx.rows(
        """
        SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS used,
               count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle') AS idle,
               count(*) FILTER (WHERE backend_type = 'client backend'
                                AND state IN ('idle in transaction', 'idle in transaction (aborted)'))
                   AS idle_in_transaction,
               count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active') AS active,
               current_setting('max_connections')::int AS max_connections,
               current_setting('superuser_reserved_connections')::int AS superuser_reserved,
               coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS reserved
        FROM pg_stat_activity
        """
    )[0]
    available = row["max_connections"] - row["superuser_reserved"] - row["reserved"]
    used = row["used"]
    ratio = used / available if available > 0 else 1.0
    if ratio < warn:
        return
    top = ctx.rows(
        """
        SELECT usename::text AS user, datname::text AS database, count(*) AS connections,
               count(*) FILTER (WHERE state = 'idle') AS idle
        FROM pg_stat_activity WHERE backend_type = 'client backend'
        GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10
        """
    )
    reserved = f"{row['superuser_reserved']} reserved for superusers"
    if row["reserved"]:
        reserved += f" and {row['reserved']} for pg_use_reserved_connections"
    yield Problem(
        severity="critical" if ratio >= crit else "warning",
        subject="max_connections",
        message=f"{used} of {available} connections in use ({ratio:.0%}; max_connections {row['max_connections']} "
        f"minus {reserved}): {row['active']} active, {row['idle']} idle, "
        f"{row['idle_in_transaction']} idle in transaction",
        remedy="Put a connection pooler (e.g. PgBouncer, transaction pooling) in front of the server and lower "
        "the applications' pool sizes; end sessions that sit idle: SELECT pg_terminate_backend(pid) FROM "
        "pg_stat_activity WHERE backend_type = 'client backend' AND state = 'idle' AND state_change < now() - "
        "interval '1 hour';  -- raising max_connections needs a restart and memory per connection",
        details={
            "used": used,
            "available": available,
            "ratio": round(ratio, 4),
            "max_connections": row["max_connections"],
            "superuser_reserved_connections": row["superuser_reserved"],
            "reserved_connections": row["reserved"],
            "active": row["active"],
            "idle": row["idle"],
            "idle_in_transaction": row["idle_in_transaction"],
            "by_user_and_database": top,
        },
    )


def orphaned_prepared_transactions(ctx: CheckContext) -> Iterator[Problem]:
    warn = ctx.thresholds["orphaned_prepared_transaction_seconds"]
    crit = ctx.thresholds["orphaned_prepared_transaction_critical_seconds"]
    rows, truncated = bounded(
        ctx.rows(
            """
            -- A prepared transaction's locks have no pid; its virtual transaction is found by its xid.
            WITH orphan_locks AS MATERIALIZED (
                SELECT virtualtransaction, locktype, transactionid FROM pg_locks WHERE pid IS NULL
            )
            SELECT gid, database::text AS database, owner::text AS owner, transaction::text AS xid,
                   age(transaction)::bigint AS xid_age, quote_literal(gid) AS gid_literal,
                   to_char(prepared AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS prepared,
                   extract(epoch FROM clock_timestamp() - prepared) AS seconds,
                   (SELECT count(*) FROM orphan_locks l WHERE l.virtualtransaction IN (
                        SELECT x.virtualtransaction FROM orphan_locks x
                        WHERE x.locktype = 'transactionid' AND x.transactionid = p.transaction)) AS locks
            FROM pg_prepared_xacts p
            WHERE prepared < clock_timestamp() - make_interval(secs => %(warn)s)
            ORDER BY prepared
            LIMIT %(limit)s
            """,
            {"warn": warn, "limit": MAX_PROBLEMS + 1},
        )
    )
    for row in rows:
        seconds = float(row["seconds"])
        yield Problem(
            severity="critical" if seconds >= crit else "warning",
            subject=row["gid"],
            message=f"prepared transaction {row['gid_literal']} (owner {row['owner']}, database {row['database']}) "
            f"has waited {duration(seconds)} for COMMIT PREPARED or ROLLBACK PREPARED; it holds {row['locks']} locks "
            f"and keeps VACUUM from removing dead rows (xid age {row['xid_age']})",
            remedy=f"ROLLBACK PREPARED {row['gid_literal']};  -- in database {row['database']}, as {row['owner']} or a "
            "superuser; COMMIT PREPARED instead if its transaction manager decided to commit it",
            details={
                "seconds": round(seconds, 3),
                "gid": row["gid"],
                "database": row["database"],
                "owner": row["owner"],
                "xid": row["xid"],
                "xid_age": row["xid_age"],
                "prepared": row["prepared"],
                "locks": row["locks"],
                **truncated,
            },
        )


CHECKS: list[Check] = [
    Check(
        name="long_running_query",
        area="activity",
        scope=CLUSTER,
        run=long_running_queries,
        summary="A client session running one statement for longer than long_running_query_seconds "
        "(default: 60 s, as PgHero; critical from 300 s, check_postgres query_time's critical). "
        "Statements waiting on a lock are reported by blocked_query instead.",
        thresholds={"long_running_query_seconds": 60, "long_running_query_critical_seconds": 300},
        grant=SEE_ALL_SESSIONS,
    ),
    Check(
        name="idle_in_transaction",
        area="activity",
        scope=CLUSTER,
        run=idle_in_transaction,
        summary="A client session idle in transaction (or aborted transaction) for longer than "
        "idle_in_transaction_seconds (default: 1800 s, critical from 3600 s, as pganalyze).",
        thresholds={"idle_in_transaction_seconds": 1800, "idle_in_transaction_critical_seconds": 3600},
        grant=SEE_ALL_SESSIONS,
    ),
    Check(
        name="blocked_query",
        area="activity",
        scope=CLUSTER,
        run=blocked_queries,
        summary="A session waiting for a lock longer than blocked_query_seconds, with the sessions that block it "
        "(pg_blocking_pids) (default: 60 s; critical from 600 s, as pganalyze; PgHero lists every blocked query).",
        thresholds={"blocked_query_seconds": 60, "blocked_query_critical_seconds": 600},
        grant=SEE_ALL_SESSIONS,
    ),
    Check(
        name="connection_saturation",
        area="activity",
        scope=CLUSTER,
        run=connection_saturation,
        summary="Client connections use connection_saturation_ratio of max_connections minus the reserved slots "
        "(default: 0.9, critical from 0.95, as check_postgres backends).",
        thresholds={"connection_saturation_ratio": 0.9, "connection_saturation_critical_ratio": 0.95},
        grant=SEE_ALL_SESSIONS,
    ),
    Check(
        name="orphaned_prepared_transaction",
        area="activity",
        scope=CLUSTER,
        run=orphaned_prepared_transactions,
        summary="A prepared transaction (PREPARE TRANSACTION) older than orphaned_prepared_transaction_seconds: "
        "it holds locks and the xmin horizon (default: 300 s, critical from 3600 s; check_postgres prepared_txns "
        "flags any, its author suggests minutes where 2PC is used).",
        thresholds={
            "orphaned_prepared_transaction_seconds": 300,
            "orphaned_prepared_transaction_critical_seconds": 3600,
        },
    ),
]
