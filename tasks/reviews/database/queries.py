"""Checks of the queries area: the statements that cost the most time since the previous
review (pg_stat_statements, by deltas between snapshots), whether pg_stat_statements can be
read at all, and the shared-buffer cache hit ratio of tables and indexes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tasks.reviews.database.check import (
    CLUSTER,
    DATABASE,
    Check,
    CheckContext,
    MissingPrivilege,
    Problem,
    quote_ident,
)
from tasks.timestamps import same_instant, utc_iso, utc_text

MAX_SNAPSHOT = 20_000  # rows of pg_stat_statements kept between runs (pg_stat_statements.max defaults to 5000)
MAX_QUERY_TEXT = 2048  # characters of a statement's normalized text put into a finding
EXTENSION = "pg_stat_statements"


@dataclass
class StatementsExtension:
    """What this database has of pg_stat_statements."""

    available: bool  # the contrib files are installed (pg_available_extensions)
    schema: str | None  # where CREATE EXTENSION put it in this database; None: not created here
    version: tuple[int, ...]  # extversion, e.g. (1, 9)
    loaded: bool | None  # in shared_preload_libraries; None: this role cannot tell
    preload: str | None  # the current shared_preload_libraries, when readable

    @property
    def usable(self) -> bool:
        return self.schema is not None and bool(self.loaded)


def statements_extension(ctx: CheckContext) -> StatementsExtension:
    ext = ctx.rows(
        "SELECT n.nspname, e.extversion FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = %s",
        (EXTENSION,),
    )
    available = bool(ctx.value("SELECT count(*) FROM pg_available_extensions WHERE name = %s", (EXTENSION,)))
    # Superuser-only setting: pg_settings hides the row from roles without pg_read_all_settings.
    preload = ctx.value("SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'")
    loaded = None if preload is None else EXTENSION in _libraries(preload)
    schema, version = None, ()
    if ext:
        schema = ext[0]["nspname"]
        version = tuple(int(part) for part in ext[0]["extversion"].split(".") if part.isdigit())
        # The view itself tells best whether the library is loaded, whatever this role may read.
        try:
            with ctx.conn.transaction():
                ctx.value(sql.SQL("SELECT 1 FROM {}.pg_stat_statements(false) LIMIT 1").format(sql.Identifier(schema)))
            loaded = True
        except psycopg.errors.ObjectNotInPrerequisiteState:  # "must be loaded via shared_preload_libraries"
            loaded = False
    return StatementsExtension(available, schema, version, loaded, preload)


def _libraries(setting: str) -> list[str]:
    return [part.strip().strip('"') for part in setting.split(",") if part.strip()]


def query_stats_unavailable(ctx: CheckContext) -> Iterator[Problem]:
    ext = statements_extension(ctx)
    if ext.usable:
        return
    missing, steps = [], []
    if not ext.available:
        missing.append("its files are not installed on the server")
        steps.append("-- install the server's contrib package (e.g. postgresql-contrib), then:")
    if not ext.loaded:
        libraries = _libraries(ext.preload or "")
        value = ",".join([*libraries, EXTENSION])
        if ext.loaded is False:
            missing.append("it is not in shared_preload_libraries")
        steps.append(
            f"ALTER SYSTEM SET shared_preload_libraries = '{value}';  -- then restart the server"
            + ("" if ext.preload is not None else " (keep the libraries already listed there)")
        )
    if ext.schema is None:
        missing.append(f"the extension is not created in database {ctx.database}")
        steps.append(f"CREATE EXTENSION {EXTENSION};  -- in database {ctx.database}, as a superuser")
    yield Problem(
        severity="info",
        subject=EXTENSION,
        message=f"pg_stat_statements is not usable ({'; '.join(missing) or 'cannot tell why'}): "
        "the review cannot report the statements that take the most time",
        remedy="\n".join(steps),
        details={
            "installed": ext.available,
            "preloaded": ext.loaded,
            "created_in_database": ext.schema is not None,
            "database": ctx.database,
            "shared_preload_libraries": ext.preload,
        },
    )


def expensive_queries(ctx: CheckContext) -> Iterator[Problem]:
    ext = statements_extension(ctx)
    if not ext.usable:
        return  # query_stats_unavailable says why
    if not ctx.value("SELECT pg_has_role('pg_read_all_stats', 'USAGE')"):
        # Without it, other roles' statements have no queryid and no text: the ranking would lie.
        raise MissingPrivilege("reading every role's statements in pg_stat_statements needs pg_read_all_stats")
    schema = sql.Identifier(ext.schema)
    total = sql.SQL("total_exec_time" if ext.version >= (1, 8) else "total_time")
    toplevel = sql.SQL("toplevel" if ext.version >= (1, 9) else "true")
    # showtext => false: numbers only, without reading the query-text file of every statement.
    rows = ctx.rows(
        sql.SQL(
            "SELECT queryid, dbid, userid, {toplevel} AS toplevel, calls, {total} AS total_ms"
            " FROM {schema}.pg_stat_statements(false) WHERE queryid IS NOT NULL"
            " ORDER BY {total} DESC LIMIT {limit}"
        ).format(toplevel=toplevel, total=total, schema=schema, limit=sql.Literal(MAX_SNAPSHOT))
    )
    now = utc_iso(ctx.value("SELECT now()"))
    stats_reset, dealloc = None, None
    if ext.version >= (1, 9):
        info = ctx.rows(sql.SQL("SELECT stats_reset, dealloc FROM {}.pg_stat_statements_info").format(schema))[0]
        stats_reset = utc_iso(info["stats_reset"])
        dealloc = int(info["dealloc"])

    current = {_key(row): [int(row["calls"]), round(float(row["total_ms"]), 3)] for row in rows}
    ctx.keep = {"stats_reset": stats_reset, "taken_at": now, "dealloc": dealloc, "entries": current}

    previous = ctx.previous if isinstance(ctx.previous, dict) else None
    if previous and same_instant(previous.get("stats_reset"), stats_reset) and "entries" in previous:
        baseline = previous["entries"]
        window = f"since previous review at {previous.get('taken_at')}"
        window_start = previous.get("taken_at")
    else:
        baseline = {}
        window = f"since reset at {stats_reset}" if stats_reset else "since pg_stat_statements was last reset"
        window_start = stats_reset

    groups: dict[int, dict[str, Any]] = {}
    window_total = 0.0
    for row in rows:
        calls, total_ms = current[_key(row)]
        before = baseline.get(_key(row))
        # An entry absent from the last snapshot is new; one whose counters went down was
        # evicted and came back, or was reset alone: either way its counters started from 0.
        if before and calls >= before[0] and total_ms >= before[1]:
            calls, total_ms = calls - before[0], total_ms - before[1]
        if row["toplevel"]:
            window_total += total_ms  # nested statements' time is inside their caller's already
        group = groups.setdefault(int(row["queryid"]), {"calls": 0, "total_ms": 0.0, "nested": False})
        group["calls"] += calls
        group["total_ms"] += total_ms
        group["nested"] |= not row["toplevel"]

    min_ms = ctx.thresholds["expensive_query_min_ms"]
    min_share = ctx.thresholds["expensive_query_min_share"]
    warning_share = ctx.thresholds["expensive_query_warning_share"]
    top = int(ctx.thresholds["expensive_query_top"])
    ranked = sorted(groups.items(), key=lambda item: item[1]["total_ms"], reverse=True)
    chosen = [
        (queryid, group)
        for queryid, group in ranked
        if group["total_ms"] >= min_ms and group["total_ms"] >= min_share * window_total
    ][:top]
    if not chosen:
        return

    texts: dict[int, dict[str, Any]] = {}
    for row in ctx.rows(
        sql.SQL(
            "SELECT s.queryid, left(s.query, {limit}) AS query, length(s.query) AS length,"
            " d.datname, r.rolname"
            " FROM {schema}.pg_stat_statements(true) s"
            " LEFT JOIN pg_database d ON d.oid = s.dbid LEFT JOIN pg_roles r ON r.oid = s.userid"
            " WHERE s.queryid = ANY(%s) ORDER BY s.{total} DESC"
        ).format(limit=sql.Literal(MAX_QUERY_TEXT), schema=schema, total=total),
        ([queryid for queryid, _ in chosen],),
    ):
        seen = texts.setdefault(int(row["queryid"]), {"query": row["query"], "length": row["length"]})
        seen.setdefault("databases", set()).add(row["datname"] or "?")
        seen.setdefault("users", set()).add(row["rolname"] or "?")

    view = f"{quote_ident(ctx.conn, ext.schema)}.pg_stat_statements"
    for queryid, group in chosen:
        text = texts.get(queryid, {})
        calls, total_ms = group["calls"], group["total_ms"]
        share = total_ms / window_total if window_total else 1.0
        mean_ms = total_ms / calls if calls else 0.0
        query = text.get("query") or ""
        databases = sorted(text.get("databases", ()))
        yield Problem(
            severity="warning" if share >= warning_share else "info",
            subject=f"query {queryid}",
            message=f"query {queryid} took {total_ms / 1000:.1f} s in {calls} calls (mean {mean_ms:.1f} ms), "
            f"{share:.0%} of all statement time {window}, in {', '.join(databases) or '?'}: {_oneline(query, 80)}",
            remedy=f"-- run the statement with typical parameters under EXPLAIN (ANALYZE, BUFFERS), then index or rewrite it\n"
            f"SELECT * FROM {view} WHERE queryid = {queryid};",
            details={
                "queryid": str(queryid),  # a bigint: as text, so that JSON readers keep every digit
                "databases": databases,
                "users": sorted(text.get("users", ()))[:10],
                "calls": calls,
                "total_ms": round(total_ms, 3),
                "mean_ms": round(mean_ms, 3),
                "share": round(share, 4),
                "window": window,
                "window_start": window_start,
                "window_end": now,
                "window_total_ms": round(window_total, 3),
                "nested": group["nested"],
                "query": query,
                "query_truncated": (text.get("length") or 0) > MAX_QUERY_TEXT,
                **({"entries_evicted_since_reset": dealloc} if dealloc else {}),
            },
        )


def _key(row: dict[str, Any]) -> str:
    return f"{row['queryid']}/{row['dbid']}/{row['userid']}" + ("" if row["toplevel"] else "/nested")


def _oneline(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cache_hit_ratios(ctx: CheckContext) -> Iterator[Problem]:
    rows = ctx.rows(
        """
        SELECT 'tables' AS subject, coalesce(sum(heap_blks_hit), 0)::float8 AS hit,
               coalesce(sum(heap_blks_read), 0)::float8 AS read
        FROM pg_statio_user_tables
        UNION ALL
        SELECT 'indexes', coalesce(sum(idx_blks_hit), 0)::float8, coalesce(sum(idx_blks_read), 0)::float8
        FROM pg_statio_user_indexes
        """
    )
    minimum = ctx.thresholds["cache_hit_ratio_min"]
    min_blocks = ctx.thresholds["cache_hit_ratio_min_blocks"]
    context = None
    for row in rows:
        hit, read = row["hit"], row["read"]
        if hit + read < min_blocks or hit / (hit + read) >= minimum:
            continue
        if context is None:
            context = ctx.rows(
                "SELECT current_setting('shared_buffers') AS shared_buffers, stats_reset"
                " FROM pg_stat_database WHERE datname = current_database()"
            )[0]
        ratio = hit / (hit + read)
        subject = row["subject"]
        since = f" since {utc_text(context['stats_reset'])}" if context["stats_reset"] else ""
        top = (
            "SELECT format('%I.%I', schemaname, relname), heap_blks_read FROM pg_statio_user_tables"
            " ORDER BY heap_blks_read DESC NULLS LAST LIMIT 10;"
            if subject == "tables"
            else "SELECT format('%I.%I', schemaname, indexrelname), idx_blks_read FROM pg_statio_user_indexes"
            " ORDER BY idx_blks_read DESC NULLS LAST LIMIT 10;"
        )
        yield Problem(
            severity="warning",
            subject=subject,
            message=f"{subject} cache hit ratio is {ratio:.2%}{since} ({int(read)} blocks read from disk or the OS cache, "
            f"{int(hit)} found in shared buffers), below {minimum:.0%}",
            remedy=f"-- which {subject} read the most:\n{top}\n"
            f"-- then give the cache more memory (shared_buffers is {context['shared_buffers']}; often ~25% of RAM):\n"
            "ALTER SYSTEM SET shared_buffers = '<size>';  -- then restart the server",
            details={
                "ratio": round(ratio, 6),
                "blocks_hit": int(hit),
                "blocks_read": int(read),
                "shared_buffers": context["shared_buffers"],
                "stats_reset": utc_iso(context["stats_reset"]),
            },
        )


CHECKS: list[Check] = [
    Check(
        name="expensive_query",
        area="queries",
        scope=CLUSTER,
        run=expensive_queries,
        summary="The statements that took the most time since the previous review (pg_stat_statements deltas; "
        "since its last reset on the first run): the top 10 with at least 2 s and 5% of all statement time "
        "(PgHero's slow query: 20 ms × 100 calls); warning at 50% of all time, else info.",
        thresholds={
            "expensive_query_top": 10,
            "expensive_query_min_ms": 2000,
            "expensive_query_min_share": 0.05,
            "expensive_query_warning_share": 0.5,
        },
        grant="GRANT pg_read_all_stats TO {role}",
    ),
    Check(
        name="query_stats_unavailable",
        area="queries",
        scope=CLUSTER,
        run=query_stats_unavailable,
        summary="pg_stat_statements is not in shared_preload_libraries or not created in the review's database, "
        "so the statements that take the most time cannot be reported.",
    ),
    Check(
        name="cache_hit_ratio",
        area="queries",
        scope=DATABASE,
        run=cache_hit_ratios,
        summary="The shared-buffer hit ratio of all tables, or of all indexes, is below 99% (PgHero's threshold), "
        "counted once at least 10,000 blocks were accessed since the statistics reset.",
        thresholds={"cache_hit_ratio_min": 0.99, "cache_hit_ratio_min_blocks": 10_000},
    ),
]
