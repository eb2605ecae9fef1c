"""Checks of indexes: invalid, duplicate, unused, missing for a foreign key, missing for a
table read by sequential scans, and estimated btree bloat.

Sizes come from pg_class.relpages (as of the last VACUUM, ANALYZE or CREATE INDEX), never from
pg_relation_size(), which takes a lock on the index and would wait behind a migration.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from tasks.reviews.database.check import DATABASE, Check, CheckContext, MissingPrivilege, Problem, size

MAX_PROBLEMS = 100

# Schemas that hold no user indexes worth a DBA's time.
USER_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'"


def _limited(problems: list[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS, the first ones saying the list was cut."""
    if len(problems) > MAX_PROBLEMS:
        for problem in problems[:MAX_PROBLEMS]:
            problem.details["truncated"] = f"{len(problems)} found, the first {MAX_PROBLEMS} are reported"
    return problems[:MAX_PROBLEMS]


# --- invalid_index ----------------------------------------------------------------------------


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


# --- duplicate_index --------------------------------------------------------------------------

# Each valid user index with its key columns, operator classes and collations as arrays
# (indkey and friends are 0-based vectors; their text form gives 1-based arrays).
_INDEXES = f"""
    SELECT i.indexrelid, i.indrelid, i.indisunique, i.indisprimary, i.indisexclusion, i.indnkeyatts,
           i.indnatts, c.relam, c.relpages::bigint AS relpages,
           (string_to_array(i.indkey::text, ' ')::int2[])[1:i.indnkeyatts] AS keys,
           (string_to_array(i.indclass::text, ' ')::oid[])[1:i.indnkeyatts] AS classes,
           (string_to_array(i.indcollation::text, ' ')::oid[])[1:i.indnkeyatts] AS collations,
           coalesce(string_to_array(i.indoption::text, ' ')::int2[], '{{}}') AS options,
           pg_get_expr(i.indpred, i.indrelid) AS predicate, pg_get_expr(i.indexprs, i.indrelid) AS expressions,
           format('%%I.%%I', n.nspname, c.relname) AS name, format('%%I.%%I', n.nspname, t.relname) AS table_name
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE i.indisvalid AND i.indislive AND {USER_SCHEMAS}
"""


def duplicate_indexes(ctx: CheckContext) -> Iterator[Problem]:
    """An index is redundant when another valid index of the same table, method, predicate and
    expressions starts with its key columns (same operator classes, collations and orderings):
    for btree any longer index does, for other methods only an identical one. A unique,
    primary key or exclusion index is never the one reported: it enforces something."""
    rows = ctx.rows(
        f"""
        WITH idx AS ({_INDEXES})
        SELECT DISTINCT ON (a.indexrelid)
               a.name, a.table_name, a.relpages, b.name AS covered_by, b.indisunique AS covered_by_unique,
               a.indnkeyatts = b.indnkeyatts AS identical,
               pg_get_indexdef(a.indexrelid) AS definition, pg_get_indexdef(b.indexrelid) AS covering_definition
        FROM idx a
        JOIN idx b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid AND b.relam = a.relam
        WHERE NOT a.indisunique AND NOT a.indisexclusion
          AND a.indnatts = a.indnkeyatts  -- an index with INCLUDE columns carries more than its keys
          AND a.predicate IS NOT DISTINCT FROM b.predicate
          AND a.expressions IS NOT DISTINCT FROM b.expressions
          AND a.keys = b.keys[1:a.indnkeyatts]
          AND a.classes = b.classes[1:a.indnkeyatts]
          AND a.collations = b.collations[1:a.indnkeyatts]
          AND a.options[1:a.indnkeyatts] = b.options[1:a.indnkeyatts]
          AND (a.indnkeyatts < b.indnkeyatts AND a.relam = (SELECT oid FROM pg_am WHERE amname = %(btree)s)
               OR a.indnkeyatts = b.indnkeyatts AND (b.indisunique OR a.indexrelid > b.indexrelid))
        ORDER BY a.indexrelid, b.indisprimary DESC, b.indisunique DESC, b.indnkeyatts, b.indexrelid
        """,
        {"btree": "btree"},
    )
    block = int(ctx.setting("block_size"))
    problems = []
    for row in sorted(rows, key=lambda r: (-r["relpages"], r["name"])):
        nbytes = row["relpages"] * block
        how = "duplicates" if row["identical"] else "is a prefix of"
        problems.append(
            Problem(
                severity="warning",
                subject=row["name"],
                message=f"{row['name']} ({size(nbytes)}) {how} {row['covered_by']} on {row['table_name']}: "
                "every write maintains both, and queries can use the other",
                remedy=f"DROP INDEX CONCURRENTLY {row['name']};",
                details={
                    "table": row["table_name"],
                    "covered_by": row["covered_by"],
                    "definition": row["definition"],
                    "covering_definition": row["covering_definition"],
                    "index_bytes": nbytes,
                    "identical": row["identical"],
                },
            )
        )
    yield from _limited(problems)


# --- unused_index -----------------------------------------------------------------------------


def unused_indexes(ctx: CheckContext) -> Iterator[Problem]:
    block = int(ctx.setting("block_size"))
    since = ctx.value("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
    standby = ctx.value("SELECT pg_is_in_recovery()")
    rows = ctx.rows(
        f"""
        SELECT format('%%I.%%I', s.schemaname, s.indexrelname) AS name,
               format('%%I.%%I', s.schemaname, s.relname) AS table_name,
               s.idx_scan, c.relpages::bigint AS relpages, pg_get_indexdef(s.indexrelid) AS definition
        FROM pg_stat_user_indexes s
        JOIN pg_index i ON i.indexrelid = s.indexrelid
        JOIN pg_class c ON c.oid = s.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE s.idx_scan <= %(max_scans)s AND NOT i.indisunique AND NOT i.indisexclusion AND i.indisvalid
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid AND k.contype IN ('p', 'u', 'x'))
          AND c.relpages::bigint * %(block)s >= %(min_bytes)s AND {USER_SCHEMAS}
        ORDER BY c.relpages DESC, 1
        """,
        {
            "max_scans": ctx.thresholds["unused_index_max_scans"],
            "min_bytes": ctx.thresholds["unused_index_min_bytes"],
            "block": block,
        },
    )
    window = f"since statistics were reset at {since.isoformat()}" if since else "since statistics began (never reset)"
    warning_bytes = ctx.thresholds["unused_index_warning_bytes"]
    problems = []
    for row in rows:
        nbytes = row["relpages"] * block
        scans = "no scans" if row["idx_scan"] == 0 else f"only {row['idx_scan']} scan(s)"
        problems.append(
            Problem(
                severity="warning" if nbytes >= warning_bytes else "info",
                subject=row["name"],
                message=f"{row['name']} on {row['table_name']} ({size(nbytes)}) has had {scans} {window}",
                remedy=f"DROP INDEX CONCURRENTLY {row['name']};  -- check first that no replica or monthly job uses it",
                details={
                    "table": row["table_name"],
                    "index_scans": row["idx_scan"],
                    "index_bytes": nbytes,
                    "statistics_since": since.isoformat() if since else None,
                    "definition": row["definition"],
                    # Each server counts its own scans: a replica's readers are not seen here.
                    "counted_on": "standby" if standby else "primary",
                },
            )
        )
    yield from _limited(problems)


# --- missing_fk_index -------------------------------------------------------------------------


def missing_fk_indexes(ctx: CheckContext) -> Iterator[Problem]:
    """A foreign key whose referencing columns lead no valid, non-partial index (in any order):
    every DELETE or key UPDATE of the referenced table scans the referencing one."""
    rows = ctx.rows(
        f"""
        SELECT format('%%I.%%I', n.nspname, t.relname) AS table_name, k.conname,
               format('%%I.%%I', rn.nspname, r.relname) AS referenced,
               array_agg(quote_ident(a.attname) ORDER BY col.ord) AS columns, t.reltuples::bigint AS rows
        FROM pg_constraint k
        JOIN pg_class t ON t.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_class r ON r.oid = k.confrelid
        JOIN pg_namespace rn ON rn.oid = r.relnamespace
        CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS col(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = col.attnum
        WHERE k.contype = %(foreign_key)s AND {USER_SCHEMAS}
          AND NOT EXISTS (
              SELECT 1 FROM pg_index i
              WHERE i.indrelid = k.conrelid AND i.indisvalid AND i.indpred IS NULL
                AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey
                AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] <@ k.conkey)
        GROUP BY n.nspname, t.relname, k.conname, rn.nspname, r.relname, t.reltuples
        ORDER BY t.reltuples DESC, 1, 2
        """,
        {"foreign_key": "f"},
    )
    warning_rows = ctx.thresholds["missing_fk_index_warning_rows"]
    problems = []
    for row in rows:
        columns = ", ".join(row["columns"])
        subject = f"{row['table_name']} ({columns})"
        problems.append(
            Problem(
                severity="warning" if row["rows"] >= warning_rows else "info",
                subject=subject,
                message=f"foreign key {row['conname']} of {subject} → {row['referenced']} has no index: each "
                f"DELETE or key UPDATE on {row['referenced']} scans {row['table_name']} (~{max(row['rows'], 0):,} rows)",
                remedy=f"CREATE INDEX CONCURRENTLY ON {row['table_name']} ({columns});",
                details={
                    "constraint": row["conname"],
                    "table": row["table_name"],
                    "columns": row["columns"],
                    "referenced_table": row["referenced"],
                    "estimated_rows": row["rows"],
                },
            )
        )
    yield from _limited(problems)


# --- missing_index ----------------------------------------------------------------------------


def missing_indexes(ctx: CheckContext) -> Iterator[Problem]:
    """PgHero's "low index usage": a table of many rows whose reads are mostly sequential scans."""
    rows = ctx.rows(
        """
        SELECT format('%%I.%%I', schemaname, relname) AS table_name, seq_scan, seq_tup_read,
               coalesce(idx_scan, 0) AS idx_scan, n_live_tup
        FROM pg_stat_user_tables
        WHERE n_live_tup >= %(min_rows)s AND seq_scan >= %(min_scans)s
          AND seq_scan::float8 / (seq_scan + coalesce(idx_scan, 0)) >= %(ratio)s
        ORDER BY seq_tup_read DESC, 1
        """,
        {
            "min_rows": ctx.thresholds["missing_index_min_rows"],
            "min_scans": ctx.thresholds["missing_index_min_seq_scans"],
            "ratio": ctx.thresholds["missing_index_seq_scan_ratio"],
        },
    )
    problems = []
    for row in rows:
        share = row["seq_scan"] / (row["seq_scan"] + row["idx_scan"])
        table = row["table_name"]
        problems.append(
            Problem(
                severity="warning",
                subject=table,
                message=f"{table} (~{row['n_live_tup']:,} rows) was read by {row['seq_scan']:,} sequential scans "
                f"({100 * share:.0f}% of its scans), {row['seq_tup_read']:,} rows read in all",
                remedy=f"Find its queries (pg_stat_statements: SELECT query, calls, mean_exec_time FROM "
                f"pg_stat_statements WHERE query ILIKE '%{table.split('.')[-1]}%' ORDER BY total_exec_time DESC;), "
                "EXPLAIN them, and index the columns they filter on: CREATE INDEX CONCURRENTLY ...",
                details={
                    "table": table,
                    "seq_scans": row["seq_scan"],
                    "index_scans": row["idx_scan"],
                    "seq_scan_share": round(share, 4),
                    "rows_read_by_seq_scans": row["seq_tup_read"],
                    "live_rows": row["n_live_tup"],
                },
            )
        )
    yield from _limited(problems)


# --- index_bloat ------------------------------------------------------------------------------

INDEX_TUPLE_HEADER = 8  # IndexTupleData
INDEX_NULL_BITMAP = 4  # added to a tuple that has a null (INDEX_MAX_KEYS bits)
PAGE_HEADER = 24  # PageHeaderData
BTREE_SPECIAL = 16  # BTPageOpaqueData
LINE_POINTER = 4  # ItemIdData
MAXALIGN = 8


def _align(n: float) -> int:
    return int(math.ceil(n / MAXALIGN) * MAXALIGN)


def index_bloat(ctx: CheckContext) -> Iterator[Problem]:
    """The usual btree estimate (as ioguix's query makes it): from pg_stats' average width and
    null fraction of the key columns, the size of an index tuple; from the index's reltuples and
    fillfactor, the leaf pages it needs; what relpages has beyond that is bloat. Expression
    indexes are left out (pg_stats has no width for an expression of a table)."""
    block = int(ctx.setting("block_size"))
    min_bytes = ctx.thresholds["index_bloat_min_bytes"]
    rows = ctx.rows(
        f"""
        SELECT format('%%I.%%I', n.nspname, c.relname) AS name, format('%%I.%%I', n.nspname, t.relname) AS table_name,
               n.nspname AS schema, c.relpages::bigint AS relpages, c.reltuples,
               coalesce((SELECT option_value FROM pg_options_to_table(c.reloptions)
                         WHERE option_name = 'fillfactor')::int, 90) AS fillfactor,
               bool_and(has_column_privilege(t.oid, a.attnum, 'SELECT')) AND NOT row_security_active(t.oid) AS readable,
               count(*) AS columns, count(s.attname) AS columns_with_stats,
               coalesce(max(s.null_frac), 0) > 0 AS has_nulls,
               coalesce(sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)), 0)::float8 AS data_width
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_am am ON am.oid = c.relam AND am.amname = 'btree'
        CROSS JOIN LATERAL unnest(string_to_array(i.indkey::text, ' ')::int2[]) AS k(attnum)
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
                             AND NOT s.inherited
        WHERE i.indexprs IS NULL AND i.indisvalid AND c.reltuples >= 0 AND {USER_SCHEMAS}
          AND c.relpages::bigint * %(block)s >= %(min_bytes)s
        GROUP BY c.oid, n.nspname, c.relname, t.relname, t.oid, c.relpages, c.reltuples, c.reloptions
        """,
        {"block": block, "min_bytes": min_bytes},
    )
    if not rows:
        return
    unreadable = Counter(row["schema"] for row in rows if not row["readable"])
    if sum(unreadable.values()) == len(rows):
        raise MissingPrivilege(
            f"pg_stats shows the role no column statistics of the {len(rows)} indexed tables big enough for "
            "index_bloat_min_bytes: it shows only columns the role may SELECT"
        )
    found = []
    for row in rows:
        if not row["readable"] or row["columns_with_stats"] < row["columns"]:
            continue  # not readable, or never analyzed (analyze_overdue reports it)
        header = INDEX_TUPLE_HEADER + (INDEX_NULL_BITMAP if row["has_nulls"] else 0)
        tuple_bytes = _align(header + row["data_width"]) + LINE_POINTER
        per_page = (block - PAGE_HEADER - BTREE_SPECIAL) * row["fillfactor"] / 100
        expected = 1 + math.ceil(row["reltuples"] * tuple_bytes / per_page)  # + the metapage
        extra = row["relpages"] - expected
        if extra <= 0:
            continue
        bloat, share = extra * block, extra / row["relpages"]
        if bloat >= min_bytes and share >= ctx.thresholds["index_bloat_ratio"]:
            found.append((bloat, share, expected, tuple_bytes, row))
    found.sort(key=lambda item: (-item[0], item[4]["name"]))
    problems = []
    for bloat, share, expected, tuple_bytes, row in found:
        total = row["relpages"] * block
        problems.append(
            Problem(
                severity="warning",
                subject=row["name"],
                message=f"{row['name']}: an estimated {size(bloat)} of its {size(total)} ({100 * share:.0f}%) is bloat "
                f"(ESTIMATE from pg_stats widths: {row['reltuples']:,.0f} entries of ~{tuple_bytes} bytes at "
                f"fillfactor {row['fillfactor']} need ~{expected:,} of its {row['relpages']:,} pages)",
                remedy=f"REINDEX INDEX CONCURRENTLY {row['name']};",
                details={
                    "estimate": True,
                    "method": "btree: pg_stats average width and null fraction of the key columns, fillfactor, "
                    "reltuples vs relpages",
                    "table": row["table_name"],
                    "bloat_bytes": int(bloat),
                    "index_bytes": int(total),
                    "bloat_share": round(share, 4),
                    "relpages": int(row["relpages"]),
                    "expected_pages": int(expected),
                },
            )
        )
    if unreadable:
        schemas = ", ".join(sorted(unreadable))
        for problem in problems[:1]:
            problem.details["tables_not_estimated"] = (
                f"{sum(unreadable.values())} indexed table(s) in {schemas}: the role may not read their statistics"
            )
    yield from _limited(problems)


GRANT_STATS = "GRANT pg_read_all_data TO {role}"

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
        summary="An index whose key columns lead another valid index of the same table, method, predicate and "
        "expressions (for btree; an identical one for other methods). A primary key, unique or exclusion "
        "index is never the one reported.",
    ),
    Check(
        name="unused_index",
        area="indexes",
        scope=DATABASE,
        run=unused_indexes,
        summary="A non-unique index with no more scans than the threshold since statistics were reset, at least "
        "1 MB (warning from 100 MB, info below); says since when statistics have been collected. Scans on "
        "replicas are counted there, not here.",
        thresholds={
            "unused_index_max_scans": 0,
            "unused_index_min_bytes": 1024 * 1024,
            "unused_index_warning_bytes": 100 * 1024 * 1024,
        },
    ),
    Check(
        name="missing_fk_index",
        area="indexes",
        scope=DATABASE,
        run=missing_fk_indexes,
        summary="A foreign key whose referencing columns (in any order) lead no valid, non-partial index: warning "
        "from 10,000 rows in the referencing table, info below.",
        thresholds={"missing_fk_index_warning_rows": 10_000},
    ),
    Check(
        name="missing_index",
        area="indexes",
        scope=DATABASE,
        run=missing_indexes,
        summary="A table of at least 10,000 live rows read mostly by sequential scans (PgHero: at least 5% of its "
        "scans sequential, here with at least 100 of them).",
        thresholds={
            "missing_index_min_rows": 10_000,
            "missing_index_min_seq_scans": 100,
            "missing_index_seq_scan_ratio": 0.05,
        },
    ),
    Check(
        name="index_bloat",
        area="indexes",
        scope=DATABASE,
        run=index_bloat,
        summary="Estimated btree bloat (an ESTIMATE from pg_stats widths, reltuples and relpages, as ioguix's query "
        "makes it): at least 100 MB and 50% of the index. Needs the key columns' statistics, which pg_stats "
        "shows only to roles that may read the table.",
        thresholds={"index_bloat_min_bytes": 100 * 1024 * 1024, "index_bloat_ratio": 0.5},
        grant=GRANT_STATS,
    ),
]
