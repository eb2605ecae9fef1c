"""Checks of indexes: duplicates, unused, invalid, foreign keys and tables without them, bloat.

Every query here reads catalogs and statistics views only, set-based (one or two statements
per check whatever the number of tables), and leaves out the system schemas (pg_catalog,
information_schema, pg_toast) and other sessions' temporary tables: what a DBA cannot or need
not act on. Indexes that are partitions of a partitioned index are left to their parent (they
cannot be dropped on their own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tasks.reviews.database.check import (
    DATABASE,
    MAX_PROBLEMS,
    Check,
    CheckContext,
    MissingPrivilege,
    Problem,
    bounded,
    size,
)
from tasks.timestamps import utc_iso, utc_text

# Objects of these schemas are not the DBA's to change.
USER_SCHEMA = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'"


def invalid_indexes(ctx: CheckContext) -> Iterator[Problem]:
    rows = ctx.rows(
        """
        SELECT format('%I.%I', n.nspname, c.relname) AS index, format('%I.%I', n.nspname, t.relname) AS table
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT i.indisvalid
        ORDER BY 1
        """
    )
    for row in rows:
        yield Problem(
            severity="warning",
            subject=row["index"],
            message=f"index {row['index']} on {row['table']} is invalid (a failed CREATE INDEX CONCURRENTLY?): "
            "it is maintained on every write but never used",
            remedy=f"DROP INDEX CONCURRENTLY {row['index']};  -- then create it again, CONCURRENTLY",
            details={"table": row["table"]},
        )


# ---------------------------------------------------------------------------------------------
# duplicate_index


def duplicate_indexes(ctx: CheckContext) -> Iterator[Problem]:
    # `a` is redundant when another index `b` of the same table, same access method, same
    # predicate and same expressions has a's key columns (with their opclasses, collations and
    # ASC/DESC NULLS options) as its leading key columns, and every INCLUDE column of `a` among
    # its columns. Only a btree serves a query on a prefix of its keys; for the other methods
    # the key columns must be the same. An index that enforces something (primary key, unique,
    # exclusion constraint) is never the redundant one. Two indexes that cover each other:
    # the one with the larger name is reported.
    rows = ctx.rows(
        f"""
        WITH idx AS (
            SELECT i.indexrelid AS oid, i.indrelid, c.relname AS name, c.relam, c.relkind,
                   am.amname,
                   format('%I.%I', n.nspname, c.relname) AS index,
                   format('%I.%I', n.nspname, t.relname) AS table,
                   i.indisunique OR i.indisprimary OR EXISTS (
                       SELECT 1 FROM pg_constraint k
                       WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
                   ) AS enforces,
                   i.indnkeyatts AS nkeys,
                   string_to_array(i.indkey::text, ' ')::int2[] AS cols,
                   string_to_array(i.indclass::text, ' ')::oid[] AS classes,
                   string_to_array(i.indcollation::text, ' ')::oid[] AS collations,
                   string_to_array(i.indoption::text, ' ')::int2[] AS options,
                   CASE WHEN i.indexprs IS NOT NULL THEN pg_get_expr(i.indexprs, i.indrelid) END AS exprs,
                   CASE WHEN i.indpred IS NOT NULL THEN pg_get_expr(i.indpred, i.indrelid) END AS pred
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_am am ON am.oid = c.relam
            WHERE i.indisvalid AND i.indisready AND i.indislive
              AND t.relpersistence <> 't' AND {USER_SCHEMA}
              AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
        ),
        redundant AS (
            SELECT DISTINCT ON (a.oid)
                   a.oid, a.index, a.table, a.relkind, b.oid AS covering_oid, b.index AS covering,
                   a.nkeys = b.nkeys AS same_keys
            FROM idx a
            JOIN idx b ON b.indrelid = a.indrelid AND b.oid <> a.oid AND b.relam = a.relam
                      AND b.exprs IS NOT DISTINCT FROM a.exprs AND b.pred IS NOT DISTINCT FROM a.pred
            WHERE NOT a.enforces
              AND b.nkeys >= a.nkeys
              AND (b.nkeys = a.nkeys OR a.amname = 'btree')
              AND b.cols[1:a.nkeys] = a.cols[1:a.nkeys]
              AND b.classes[1:a.nkeys] = a.classes[1:a.nkeys]
              AND b.collations[1:a.nkeys] = a.collations[1:a.nkeys]
              AND b.options[1:a.nkeys] = a.options[1:a.nkeys]
              AND coalesce(a.cols[a.nkeys + 1:], '{{}}') <@ b.cols
              AND (
                  b.nkeys > a.nkeys
                  OR b.enforces
                  OR NOT coalesce(b.cols[b.nkeys + 1:], '{{}}') <@ a.cols
                  OR a.name > b.name
              )
            ORDER BY a.oid, b.enforces DESC, b.nkeys, b.name
        )
        SELECT r.index, r.table, r.relkind, r.covering, r.same_keys,
               pg_get_indexdef(r.oid) AS definition, pg_get_indexdef(r.covering_oid) AS covering_definition,
               CASE WHEN r.relkind = 'I'  -- a partitioned index has no storage of its own
                    THEN (SELECT coalesce(sum(pg_relation_size(p.relid)), 0) FROM pg_partition_tree(r.oid) p)
                    ELSE pg_relation_size(r.oid) END AS bytes
        FROM redundant r
        ORDER BY bytes DESC, r.index
        LIMIT {MAX_PROBLEMS + 1}
        """
    )
    rows, truncated = bounded(rows)
    for row in rows:
        kind = "a duplicate of" if row["same_keys"] else "covered by"
        yield Problem(
            severity="warning",
            subject=row["index"],
            message=f"index {row['index']} on {row['table']} ({size(row['bytes'])}) is {kind} {row['covering']}: "
            "it costs writes and space and serves no query the other cannot",
            remedy=f"{_drop(row['index'], row['relkind'])}",
            details={
                "table": row["table"],
                "covering_index": row["covering"],
                "definition": row["definition"],
                "covering_definition": row["covering_definition"],
                "size_bytes": int(row["bytes"]),
                **truncated,
            },
        )


# ---------------------------------------------------------------------------------------------
# unused_index


def unused_indexes(ctx: CheckContext) -> Iterator[Problem]:
    since = _stats_since(ctx)
    rows = ctx.rows(
        f"""
        SELECT format('%%I.%%I', n.nspname, c.relname) AS index, format('%%I.%%I', n.nspname, t.relname) AS table,
               s.idx_scan, pg_relation_size(c.oid) AS bytes, pg_get_indexdef(c.oid) AS definition
        FROM pg_stat_user_indexes s
        JOIN pg_index i ON i.indexrelid = s.indexrelid
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE s.idx_scan <= %(max_scans)s
          AND i.indisvalid AND NOT i.indisunique AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
          AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
          AND t.relpersistence <> 't' AND {USER_SCHEMA}
          AND pg_relation_size(c.oid) >= %(min_bytes)s
        ORDER BY bytes DESC, 1
        LIMIT {MAX_PROBLEMS + 1}
        """,
        {
            "max_scans": int(ctx.thresholds["unused_index_max_scans"]),
            "min_bytes": int(ctx.thresholds["unused_index_min_bytes"]),
        },
    )
    rows, truncated = bounded(rows)
    for row in rows:
        scans = int(row["idx_scan"])
        used = "never been scanned" if scans == 0 else f"been scanned only {scans} times"
        yield Problem(
            severity="warning",
            subject=row["index"],
            message=f"index {row['index']} on {row['table']} ({size(row['bytes'])}) has {used} {since['text']}",
            remedy=f"DROP INDEX CONCURRENTLY {row['index']};  -- after checking the standbys: their scans are not counted here",
            details={
                "table": row["table"],
                "definition": row["definition"],
                "size_bytes": int(row["bytes"]),
                "index_scans": scans,
                "statistics_since": since["since"],
                "statistics_age_days": since["age_days"],
                "note": "idx_scan counts the scans on this server only; a standby that uses the index counts them there",
                **truncated,
            },
        )


def _stats_since(ctx: CheckContext) -> dict[str, Any]:
    """Since when the counters of this database run, in words and as an ISO date."""
    row = ctx.rows(
        """
        SELECT stats_reset, extract(epoch FROM now() - stats_reset) / 86400 AS age_days
        FROM pg_stat_database WHERE datname = current_database()
        """
    )
    reset = row[0]["stats_reset"] if row else None
    if reset is None:
        return {
            "since": None,
            "age_days": None,
            "text": "since its statistics began (they were never reset: they count from the database's creation, "
            "or from the last crash recovery, immediate shutdown or pg_upgrade, which discard them)",
        }
    age = float(row[0]["age_days"])
    return {
        "since": utc_iso(reset),
        "age_days": round(age, 1),
        "text": f"since the statistics were reset on {utc_text(reset)} ({age:.1f} days ago)",
    }


# ---------------------------------------------------------------------------------------------
# missing_fk_index


def missing_fk_indexes(ctx: CheckContext) -> Iterator[Problem]:
    # A foreign key is served by a valid, non-partial btree (or, for one column, hash) index of
    # the referencing table whose first N key columns are the N columns of the key, in any order:
    # the lookup `WHERE fk_a = $1 AND fk_b = $2` that a DELETE or key UPDATE of the referenced
    # table runs can use it. Constraints cloned onto partitions are judged on their parent.
    rows = ctx.rows(
        f"""
        SELECT format('%I.%I.%I', n.nspname, t.relname, k.conname) AS constraint_name,
               format('%I.%I', n.nspname, t.relname) AS table, t.relkind,
               format('%I.%I', fn.nspname, f.relname) AS referenced,
               (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord)
                FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns,
               CASE WHEN t.relkind = 'p'  -- a partitioned table has no rows of its own: its partitions have
                    THEN (SELECT coalesce(sum(greatest(l.reltuples, 0)), 0) FROM pg_partition_tree(t.oid) p
                          JOIN pg_class l ON l.oid = p.relid WHERE p.isleaf)
                    ELSE greatest(t.reltuples, 0) END::float8 AS rows,
               CASE WHEN t.relkind = 'p'
                    THEN (SELECT coalesce(sum(pg_relation_size(p.relid)), 0) FROM pg_partition_tree(t.oid) p WHERE p.isleaf)
                    ELSE pg_relation_size(t.oid) END AS bytes
        FROM pg_constraint k
        JOIN pg_class t ON t.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_class f ON f.oid = k.confrelid
        JOIN pg_namespace fn ON fn.oid = f.relnamespace
        WHERE k.contype = 'f' AND k.conparentid = 0
          AND t.relpersistence <> 't' AND {USER_SCHEMA}
          AND NOT EXISTS (
              SELECT 1
              FROM pg_index i
              JOIN pg_class ic ON ic.oid = i.indexrelid
              JOIN pg_am am ON am.oid = ic.relam
              WHERE i.indrelid = k.conrelid AND i.indisvalid AND i.indpred IS NULL
                AND (am.amname = 'btree' OR (am.amname = 'hash' AND cardinality(k.conkey) = 1))
                AND i.indnkeyatts >= cardinality(k.conkey)
                AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey
          )
        ORDER BY rows DESC, 1
        LIMIT {MAX_PROBLEMS + 1}
        """
    )
    rows, truncated = bounded(rows)
    for row in rows:
        concurrently = "" if row["relkind"] == "p" else "CONCURRENTLY "
        remedy = f"CREATE INDEX {concurrently}ON {row['table']} ({row['columns']});"
        if row["relkind"] == "p":
            remedy += (
                "  -- a partitioned table refuses CONCURRENTLY and this locks every partition; to avoid that, "
                "CREATE INDEX ON ONLY the table, build one CONCURRENTLY on each partition and ATTACH it"
            )
        yield Problem(
            severity="warning",
            subject=row["constraint_name"],
            message=f"foreign key {row['constraint_name']} ({row['columns']}) → {row['referenced']} has no index "
            f"leading with its columns: every DELETE or key UPDATE in {row['referenced']} scans {row['table']} "
            f"(~{int(row['rows'])} rows)",
            remedy=remedy,
            details={
                "table": row["table"],
                "columns": row["columns"],
                "referenced_table": row["referenced"],
                "table_rows_estimate": int(row["rows"]),
                "table_bytes": int(row["bytes"]),
                "rule": "an index is enough when its first key columns are the key's columns, in any order",
                **truncated,
            },
        )


# ---------------------------------------------------------------------------------------------
# missing_index


def missing_indexes(ctx: CheckContext) -> Iterator[Problem]:
    since = _stats_since(ctx)
    rows = ctx.rows(
        f"""
        SELECT format('%%I.%%I', s.schemaname, s.relname) AS table,
               s.seq_scan, coalesce(s.idx_scan, 0) AS idx_scan, s.seq_tup_read,
               greatest(s.n_live_tup, c.reltuples)::float8 AS rows,
               s.seq_scan::float8 / nullif(s.seq_scan + coalesce(s.idx_scan, 0), 0) AS seq_share,
               EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = s.relid) AS has_index,
               pg_relation_size(s.relid) AS bytes
        FROM pg_stat_user_tables s
        JOIN pg_class c ON c.oid = s.relid
        WHERE c.relpersistence <> 't'
          AND greatest(s.n_live_tup, c.reltuples) >= %(min_rows)s
          AND s.seq_tup_read >= %(min_read)s
          AND s.seq_scan::float8 / nullif(s.seq_scan + coalesce(s.idx_scan, 0), 0) > %(ratio)s
        ORDER BY s.seq_tup_read DESC, 1
        LIMIT {MAX_PROBLEMS + 1}
        """,
        {
            "min_rows": float(ctx.thresholds["missing_index_min_rows"]),
            "min_read": float(ctx.thresholds["missing_index_min_seq_tup_read"]),
            "ratio": float(ctx.thresholds["missing_index_seq_scan_ratio"]),
        },
    )
    rows, truncated = bounded(rows)
    for row in rows:
        share = float(row["seq_share"])
        yield Problem(
            severity="warning",
            subject=row["table"],
            message=f"table {row['table']} (~{int(row['rows'])} rows, {size(row['bytes'])}) was read by "
            f"{row['seq_scan']} sequential scans ({share:.0%} of its scans, {row['seq_tup_read']} rows read) "
            f"{since['text']}",
            remedy=f"Find the queries that read {row['table']} (pg_stat_statements, the slow query log) and EXPLAIN "
            "them: an index on the columns of their WHERE and JOIN clauses may serve them. A table that is meant "
            "to be read whole (a report, a small lookup) needs none.",
            details={
                "seq_scan": int(row["seq_scan"]),
                "idx_scan": int(row["idx_scan"]),
                "seq_scan_share": round(share, 4),
                "seq_tup_read": int(row["seq_tup_read"]),
                "rows_estimate": int(row["rows"]),
                "table_bytes": int(row["bytes"]),
                "has_any_index": bool(row["has_index"]),
                "statistics_since": since["since"],
                **truncated,
            },
        )


# ---------------------------------------------------------------------------------------------
# index_bloat

# The size a btree needs for its tuples, from the average width of the indexed columns in
# pg_stats, the index's reltuples and its fillfactor, against its relpages: the estimate of
# check_postgres and of ioguix's "btree bloat estimation". Per leaf tuple: a line pointer
# (4 bytes) and an IndexTupleData header (8 bytes, 12 with the null bitmap when a column has
# NULLs), the header and the data each padded to MAXALIGN. Per page: the page header (24) and
# the btree special space (16). Plus the metapage; inner pages are not counted (~1%).
# Deduplication (PostgreSQL 13+) packs repeated keys, and the null bitmap is counted on every
# tuple of a nullable index: both make the expected size too large, so that such indexes are
# under-reported. Stale statistics (reltuples, avg_width) can push the estimate either way.
BLOAT_SQL = f"""
WITH idx AS (
    SELECT i.indexrelid, i.indrelid, i.indnatts, c.relpages, c.reltuples, n.nspname,
           format('%I.%I', n.nspname, c.relname) AS index, format('%I.%I', n.nspname, t.relname) AS table,
           coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int
                     FROM unnest(c.reloptions) AS o WHERE o LIKE 'fillfactor=%' LIMIT 1), 90) AS fillfactor,
           string_to_array(i.indkey::text, ' ')::int2[] AS keys
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_am am ON am.oid = c.relam
    WHERE am.amname = 'btree' AND c.relkind = 'i' AND i.indisvalid AND c.relpages > 0
      AND t.relpersistence <> 't' AND {USER_SCHEMA}
),
col AS (
    -- a column of the table, or for an expression the index's own column (ANALYZE keeps
    -- statistics of index expressions under the index's name)
    SELECT x.indexrelid, p.pos,
           CASE WHEN x.keys[p.pos] = 0 THEN x.indexrelid ELSE x.indrelid END AS statrel,
           (CASE WHEN x.keys[p.pos] = 0 THEN p.pos ELSE x.keys[p.pos] END)::int2 AS attnum
    FROM idx x, generate_series(1, x.indnatts) AS p(pos)
),
width AS (
    SELECT col.indexrelid,
           count(*) AS columns,
           count(s.avg_width) AS with_stats,
           bool_and(has_column_privilege(col.statrel, col.attnum, 'SELECT')) AS readable,
           max(coalesce(s.null_frac, 0)) > 0 AS nullable,
           sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)) AS data_width
    FROM col
    JOIN pg_class r ON r.oid = col.statrel
    JOIN pg_namespace rn ON rn.oid = r.relnamespace
    JOIN pg_attribute a ON a.attrelid = col.statrel AND a.attnum = col.attnum
    LEFT JOIN pg_stats s ON s.schemaname = rn.nspname AND s.tablename = r.relname AND s.attname = a.attname
                        AND NOT s.inherited
    GROUP BY col.indexrelid
),
sized AS (
    SELECT x.*, w.readable, w.columns = w.with_stats AND x.reltuples >= 0 AS estimable,
           current_setting('block_size')::int AS bs,
           CASE WHEN version() ~ '64-bit|x86_64|aarch64|amd64|ppc64|s390x' THEN 8 ELSE 4 END AS maxalign,
           CASE WHEN w.nullable THEN 12 ELSE 8 END AS tuple_header,
           w.data_width
    FROM idx x JOIN width w ON w.indexrelid = x.indexrelid
),
estimate AS (
    SELECT s.*,
           4 + ceil(s.tuple_header::numeric / s.maxalign) * s.maxalign
             + ceil(s.data_width / s.maxalign) * s.maxalign AS tuple_bytes
    FROM sized s
),
expected AS (
    SELECT e.*,
           1 + ceil(e.reltuples / greatest(floor((e.bs - 24 - 16) * e.fillfactor / 100.0 / e.tuple_bytes), 1))
             AS expected_pages
    FROM estimate e
)
SELECT index, "table", indexrelid, readable, estimable, fillfactor, reltuples, relpages,
       expected_pages, bs,
       (relpages - expected_pages) * bs AS wasted, (relpages::bigint * bs) AS bytes
FROM expected
"""


def index_bloat(ctx: CheckContext) -> Iterator[Problem]:
    rows = ctx.rows(BLOAT_SQL)
    unreadable = sum(1 for row in rows if not row["readable"])
    estimated = [row for row in rows if row["readable"] and row["estimable"]]
    if unreadable and not estimated:
        raise MissingPrivilege(
            f"the estimate needs the column statistics of pg_stats, which show only the columns this role may "
            f"SELECT; it may read the table of none of the {unreadable} btree indexes"
        )
    min_bytes = float(ctx.thresholds["index_bloat_min_bytes"])
    ratio = float(ctx.thresholds["index_bloat_ratio"])
    bloated = []
    for row in estimated:
        wasted, total = float(row["wasted"]), float(row["bytes"])
        if wasted >= min_bytes and total > 0 and wasted / total >= ratio:
            bloated.append(row)
    bloated.sort(key=lambda row: (-float(row["wasted"]), row["index"]))
    without_access = {"indexes_without_statistics_access": unreadable} if unreadable else {}
    bloated, truncated = bounded(bloated)
    for row in bloated:
        wasted, total = int(row["wasted"]), int(row["bytes"])
        yield Problem(
            severity="warning",
            subject=row["index"],
            message=f"index {row['index']} on {row['table']} is {size(total)}, of which an estimated {size(wasted)} "
            f"({wasted / total:.0%}) is bloat (ESTIMATE from pg_stats, not measured)",
            remedy=f"REINDEX INDEX CONCURRENTLY {row['index']};",
            details={
                "table": row["table"],
                "estimate": True,
                "method": "btree size expected from pg_stats average key width, reltuples and fillfactor "
                "(check_postgres / ioguix estimate); pgstattuple measures it exactly",
                "size_bytes": total,
                "estimated_wasted_bytes": wasted,
                "estimated_wasted_ratio": round(wasted / total, 4),
                "pages": int(row["relpages"]),
                "expected_pages": int(row["expected_pages"]),
                "index_tuples_estimate": int(row["reltuples"]),
                "fillfactor": int(row["fillfactor"]),
                **without_access,
                **truncated,
            },
        )


# ---------------------------------------------------------------------------------------------


def _drop(index: str, relkind: str) -> str:
    if relkind == "I":  # a partitioned index: CONCURRENTLY is refused
        return f"DROP INDEX {index};  -- a partitioned index: DROP INDEX CONCURRENTLY is refused; this locks the table"
    return f"DROP INDEX CONCURRENTLY {index};"


CHECKS: list[Check] = [
    Check(
        name="invalid_index",
        area="indexes",
        scope=DATABASE,
        run=invalid_indexes,
        summary="An index with indisvalid = false, e.g. left by a failed CREATE INDEX CONCURRENTLY.",
    ),
    Check(
        name="duplicate_index",
        area="indexes",
        scope=DATABASE,
        run=duplicate_indexes,
        summary="An index whose key columns lead another valid index of the same table (same method, "
        "predicate, expressions, opclasses); never a primary key, unique or exclusion index (as PgHero).",
    ),
    Check(
        name="unused_index",
        area="indexes",
        scope=DATABASE,
        run=unused_indexes,
        summary="A non-unique index scanned at most unused_index_max_scans times since the statistics were reset "
        "(default: 0, as PgHero's dashboard) and at least unused_index_min_bytes big (default: 1 MB).",
        thresholds={"unused_index_max_scans": 0, "unused_index_min_bytes": 1024 * 1024},
    ),
    Check(
        name="missing_fk_index",
        area="indexes",
        scope=DATABASE,
        run=missing_fk_indexes,
        summary="A foreign key whose columns lead no valid index of the referencing table (in any order), "
        "so that deletes in the referenced table scan it.",
    ),
    Check(
        name="missing_index",
        area="indexes",
        scope=DATABASE,
        run=missing_indexes,
        summary="A table of at least missing_index_min_rows rows (default: 10,000, as PgHero) whose scans are "
        "sequential more than missing_index_seq_scan_ratio of the time (default: 5%, PgHero's 'index used "
        "< 95%') and that sequential scans read at least missing_index_min_seq_tup_read rows (default: 1,000,000).",
        thresholds={
            "missing_index_min_rows": 10_000,
            "missing_index_seq_scan_ratio": 0.05,
            "missing_index_min_seq_tup_read": 1_000_000,
        },
    ),
    Check(
        name="index_bloat",
        area="indexes",
        scope=DATABASE,
        run=index_bloat,
        summary="A btree index with an ESTIMATED (from pg_stats) index_bloat_min_bytes wasted (default: 100 MB, "
        "as PgHero) that is at least index_bloat_ratio of its size (default: 30%).",
        thresholds={"index_bloat_min_bytes": 100 * 1024 * 1024, "index_bloat_ratio": 0.3},
        grant="GRANT pg_read_all_data TO {role}",
    ),
]
