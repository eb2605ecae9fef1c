"""Checks of the maintenance area: transaction ID and multixact wraparound, sequences running
out, dead rows VACUUM has not removed, statistics ANALYZE has not refreshed, tables with
autovacuum switched off, and estimated table bloat.

Every check reads catalogs and statistics views only (pg_class, pg_database, pg_sequence,
pg_stat_all_tables, pg_stats, ...), with one or two set-based queries, and reports at most
MAX_PROBLEMS problems, most important first.
"""

from __future__ import annotations

import math
from collections import Counter
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
    quote_ident,
    size,
)
from tasks.timestamps import utc_iso

# Transaction IDs and multixact IDs are 32 bits compared modulo 2^32: a value more than
# 2^31 in the past would look like the future. The server stops assigning new IDs a few
# million before that (3 million since PostgreSQL 14, 1 million before).
WRAPAROUND_LIMIT = 2**31

INT_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
INT_MIN = {"smallint": -(2**15), "integer": -(2**31), "bigint": -(2**63)}

# A reloption boolean as the server parses it (parse_bool accepts unique prefixes).
FALSE_VALUE = "^(f|fa|fal|fals|false|n|no|of|off|0)$"

# The relation's subject: schema-qualified, a TOAST table named after the table that owns it.
# Needs `c` (the relation), `n` (its schema), `o`/`onsp` (the owner of a TOAST table).
_NAMES = """
    CASE WHEN o.oid IS NOT NULL THEN format('%%I.%%I (TOAST)', onsp.nspname, o.relname)
         ELSE format('%%I.%%I', n.nspname, c.relname) END AS subject,
    CASE WHEN o.oid IS NOT NULL THEN format('%%I.%%I', onsp.nspname, o.relname)
         ELSE format('%%I.%%I', n.nspname, c.relname) END AS target,
    coalesce(o.relkind, c.relkind) AS target_kind
"""
_OWNER_JOINS = """
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_class o ON c.relkind = 't' AND o.reltoastrelid = c.oid
    LEFT JOIN pg_namespace onsp ON onsp.oid = o.relnamespace
"""


def _kind_word(kind: str) -> str:
    return "MATERIALIZED VIEW" if kind == "m" else "TABLE"


def _pct(ratio: float) -> str:
    if ratio >= 0.01 or ratio == 0:
        return f"{100 * ratio:.0f}%"
    return f"{100 * ratio:.2f}%" if ratio >= 0.0001 else "<0.01%"


# --- xid_wraparound, multixact_wraparound -------------------------------------------------


def _wraparound(ctx: CheckContext, *, multixact: bool) -> Iterator[Problem]:
    prefix = "multixact_wraparound" if multixact else "xid_wraparound"
    age_of = "mxid_age" if multixact else "age"
    rel_column, db_column = ("relminmxid", "datminmxid") if multixact else ("relfrozenxid", "datfrozenxid")
    what = "multixact IDs" if multixact else "transaction IDs"
    freeze_setting = "autovacuum_multixact_freeze_max_age" if multixact else "autovacuum_freeze_max_age"
    warning = int(ctx.thresholds[f"{prefix}_warning_ratio"] * WRAPAROUND_LIMIT)
    critical = int(ctx.thresholds[f"{prefix}_critical_ratio"] * WRAPAROUND_LIMIT)
    stop_margin = 3_000_000 if ctx.server_version >= 140000 else 1_000_000
    freeze_max_age = int(ctx.setting(freeze_setting) or 0)

    database = ctx.rows(
        f"SELECT datname, {age_of}({db_column})::bigint AS age FROM pg_database WHERE datname = current_database()"
    )
    rows = ctx.rows(
        f"""
        SELECT {_NAMES}, c.relkind, c.relpersistence = 't' AS temporary,
               c.relnamespace = pg_my_temp_schema() AS own_temporary,
               {age_of}(c.{rel_column})::bigint AS age
        FROM pg_class c
        {_OWNER_JOINS}
        WHERE c.relkind IN ('r', 'm', 't') AND {age_of}(c.{rel_column}) >= %(warning)s
        ORDER BY age DESC, subject
        LIMIT %(limit)s
        """,
        {"warning": warning, "limit": MAX_PROBLEMS + 1},
    )

    def assess(age: int) -> tuple[str, dict[str, Any], str]:
        share = age / WRAPAROUND_LIMIT
        details = {
            "age": age,
            "share_used": round(share, 6),
            "left_before_stop": max(WRAPAROUND_LIMIT - stop_margin - age, 0),
            freeze_setting: freeze_max_age,
        }
        note = f"{age:,} {what} old, {_pct(share)} of the ~2.1 billion before wraparound"
        if freeze_max_age and age > freeze_max_age:
            note += f"; past {freeze_setting} ({freeze_max_age:,}), so anti-wraparound autovacuum is due or blocked"
        return ("critical" if age >= critical else "warning"), details, note

    for row in database:
        if row["age"] < warning:
            continue
        severity, details, note = assess(row["age"])
        name = row["datname"]
        yield Problem(
            severity=severity,
            subject=name,
            message=f"database {name}: {db_column} is {note}",
            remedy=f"-- connected to database {quote_ident(ctx.conn, name)}: VACUUM (FREEZE, VERBOSE) the tables "
            "reported for it (the database is as old as its oldest table), or all of it:\n"
            f"VACUUM (FREEZE, VERBOSE);\n"
            "-- if the age does not go down, look for what holds back the xmin horizon: long transactions, "
            "prepared transactions (pg_prepared_xacts), replication slots (pg_replication_slots)",
            details={**details, "database": name},
        )

    rows, more = bounded(rows)
    for row in rows:
        severity, details, note = assess(row["age"])
        kind = {"t": "TOAST table of", "m": "materialized view"}.get(row["relkind"], "table")
        if row["temporary"] and not row["own_temporary"]:
            remedy = (
                f"-- {row['target']} is a temporary table of another session: VACUUM cannot reach it and "
                "autovacuum skips it. End that session (pg_terminate_backend) or have it DROP the table."
            )
        else:
            remedy = (
                f"VACUUM (FREEZE, VERBOSE) {row['target']};  -- if the age does not go down, look for long "
                "transactions, prepared transactions and replication slots holding back the xmin horizon"
            )
        yield Problem(
            severity=severity,
            subject=row["subject"],
            message=f"{kind} {row['target']}: {rel_column} is {note}",
            remedy=remedy,
            details={**details, "table": row["target"], "toast": row["relkind"] == "t", **more},
        )


def xid_wraparound(ctx: CheckContext) -> Iterator[Problem]:
    return _wraparound(ctx, multixact=False)


def multixact_wraparound(ctx: CheckContext) -> Iterator[Problem]:
    return _wraparound(ctx, multixact=True)


# --- sequence_exhaustion ------------------------------------------------------------------


def _sequence_remedy(row: dict[str, Any], column: str, limit: int, by_type: bool) -> str:
    """Widen what limits the sequence: the column's type (and a serial's sequence with it), or
    the sequence's own type or MAXVALUE/MINVALUE."""
    base, sequence, remedy = row["column_base_type"], row["sequence"], []
    if by_type:
        if base in ("smallint", "integer"):
            note = "  -- rewrites the table under an ACCESS EXCLUSIVE lock"
            if row["identity"]:
                note += "; the identity sequence becomes bigint with it"
            remedy.append(f"ALTER TABLE {row['table']} ALTER COLUMN {row['column']} TYPE bigint;{note}")
            if not row["identity"] and row["sequence_type"] != "bigint":
                remedy.append(f"ALTER SEQUENCE {sequence} AS bigint;")
        else:
            remedy.append(f"-- {sequence} is near the end of {base}: plan a new key for {column}")
    elif limit in (INT_MAX.get(row["sequence_type"]), INT_MIN.get(row["sequence_type"])):
        remedy.append(f"ALTER SEQUENCE {sequence} AS {base if base in INT_MAX else 'bigint'};")
    else:
        remedy.append(f"ALTER SEQUENCE {sequence} {'NO MAXVALUE' if limit > 0 else 'NO MINVALUE'};")
    return "\n".join(remedy)


def sequence_exhaustion(ctx: CheckContext) -> Iterator[Problem]:
    warning = float(ctx.thresholds["sequence_exhaustion_ratio"])
    critical = float(ctx.thresholds["sequence_exhaustion_critical_ratio"])
    # Sequences owned by a column (serial: deptype 'a') or behind an identity column ('i').
    # pg_sequence_last_value() needs SELECT or USAGE on the sequence (pg_monitor has neither),
    # so it is only called where has_sequence_privilege() says it may be.
    rows = ctx.rows(
        """
        SELECT format('%I.%I', sn.nspname, s.relname) AS sequence, sn.nspname AS schema,
               format('%I.%I', tn.nspname, t.relname) AS table, quote_ident(a.attname) AS column,
               format_type(a.atttypid, a.atttypmod) AS column_type,
               format_type(coalesce(nullif(ty.typbasetype, 0), ty.oid), NULL) AS column_base_type,
               format_type(sq.seqtypid, NULL) AS sequence_type,
               sq.seqmax::text AS seqmax, sq.seqmin::text AS seqmin, sq.seqincrement::text AS increment,
               sq.seqcycle AS cycle, d.deptype = 'i' AS identity,
               has_sequence_privilege(s.oid, 'SELECT,USAGE') AS readable,
               CASE WHEN has_sequence_privilege(s.oid, 'SELECT,USAGE')
                    THEN pg_sequence_last_value(s.oid)::text END AS last_value
        FROM pg_depend d
        JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_namespace sn ON sn.oid = s.relnamespace
        JOIN pg_sequence sq ON sq.seqrelid = s.oid
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_namespace tn ON tn.oid = t.relnamespace
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        JOIN pg_type ty ON ty.oid = a.atttypid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
          AND s.relpersistence <> 't'  -- other sessions' temporary sequences cannot be read
          AND NOT (s.relpersistence = 'u' AND pg_is_in_recovery())
        ORDER BY 1
        """
    )
    if not rows:
        return
    unreadable = Counter(row["schema"] for row in rows if not row["readable"])
    if len(unreadable) and sum(unreadable.values()) == len(rows):
        schemas = ", ".join(sorted(unreadable))
        raise MissingPrivilege(
            f"the role may not read the last value of any of the {len(rows)} sequences owned by columns "
            f"(it needs SELECT or USAGE on them; pg_monitor has neither). Schemas: {schemas}; "
            f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA <schema> TO {quote_ident(ctx.conn, ctx.role)} would do too"
        )

    found = []
    for row in rows:
        if row["last_value"] is None:
            continue  # never used (or not readable: counted above)
        last, seqmax, seqmin, increment = (int(row[key]) for key in ("last_value", "seqmax", "seqmin", "increment"))
        base = row["column_base_type"]
        hi = min(seqmax, INT_MAX.get(base, seqmax))
        lo = max(seqmin, INT_MIN.get(base, seqmin))
        if hi <= lo:
            continue
        share = (last - lo) / (hi - lo) if increment > 0 else (hi - last) / (hi - lo)
        if share < warning:
            continue
        by_type = (INT_MAX.get(base, seqmax) <= seqmax) if increment > 0 else (INT_MIN.get(base, seqmin) >= seqmin)
        found.append((share, row, last, hi if increment > 0 else lo, by_type, abs(increment)))

    found.sort(key=lambda item: (-item[0], item[1]["sequence"]))
    role = quote_ident(ctx.conn, ctx.role)
    for share, row, last, limit, by_type, step in found[:MAX_PROBLEMS]:
        column = f"{row['table']}.{row['column']}"
        left = abs(limit - last) // step
        remedy = _sequence_remedy(row, column, limit, by_type)
        limited_by = f"the column type {row['column_type']}" if by_type else f"the sequence's own limit ({limit:,})"
        yield Problem(
            severity="critical" if share >= critical else "warning",
            subject=row["sequence"],
            message=f"sequence {row['sequence']} for {column} ({row['column_type']}) is at {last:,}: "
            f"{_pct(share)} of its range used, {left:,} values left before {limited_by} stops inserts",
            remedy=remedy,
            details={
                "column": column,
                "column_type": row["column_type"],
                "sequence_type": row["sequence_type"],
                "last_value": last,
                "max_value": limit,
                "share_used": round(share, 6),
                "values_left": left,
                "limited_by": "column type" if by_type else "sequence",
                "identity": row["identity"],
                "cycle": row["cycle"],
                **({"truncated": f"only the first {MAX_PROBLEMS} are reported"} if len(found) > MAX_PROBLEMS else {}),
            },
        )
    for schema, count in sorted(unreadable.items()):
        schema_name = quote_ident(ctx.conn, schema)
        yield Problem(
            severity="info",
            subject=schema_name,
            message=f"{count} sequence(s) in schema {schema_name} not checked: the role may not read their last value",
            remedy=f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA {schema_name} TO {role};",
            details={"sequences_not_checked": count},
        )


# --- vacuum_overdue, analyze_overdue --------------------------------------------------------


def _reloption(column: str, name: str) -> str:
    return f"(SELECT option_value FROM pg_options_to_table({column}) WHERE option_name = '{name}')"


def vacuum_overdue(ctx: CheckContext) -> Iterator[Problem]:
    rows = ctx.rows(
        f"""
        SELECT {_NAMES}, c.relkind, s.n_dead_tup, s.n_live_tup, c.reltuples,
               s.last_vacuum, s.last_autovacuum, p.phase AS vacuum_phase,
               coalesce({_reloption("c.reloptions", "autovacuum_vacuum_threshold")}::float8,
                        current_setting('autovacuum_vacuum_threshold')::float8)
               + coalesce({_reloption("c.reloptions", "autovacuum_vacuum_scale_factor")}::float8,
                          current_setting('autovacuum_vacuum_scale_factor')::float8)
                 * greatest(c.reltuples, 0) AS autovacuum_at,
               current_setting('autovacuum')::bool
               AND coalesce({_reloption("c.reloptions", "autovacuum_enabled")} !~* %(false)s, true)
               AND coalesce({_reloption("o.reloptions", "autovacuum_enabled")} !~* %(false)s, true)
               AS autovacuum_enabled
        FROM pg_stat_all_tables s
        JOIN pg_class c ON c.oid = s.relid
        {_OWNER_JOINS}
        LEFT JOIN pg_stat_progress_vacuum p
               ON p.relid = s.relid AND p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
        WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't'
          AND s.n_dead_tup > 0 AND s.n_dead_tup >= %(min_rows)s
          AND s.n_dead_tup >= %(ratio)s * (s.n_live_tup + s.n_dead_tup)
        ORDER BY s.n_dead_tup DESC, subject
        LIMIT %(limit)s
        """,
        {
            "min_rows": ctx.thresholds["vacuum_overdue_min_dead_rows"],
            "ratio": ctx.thresholds["vacuum_overdue_dead_ratio"],
            "false": FALSE_VALUE,
            "limit": MAX_PROBLEMS + 1,
        },
    )
    rows, more = bounded(rows)
    for row in rows:
        dead, live = row["n_dead_tup"], row["n_live_tup"]
        share = dead / (dead + live)
        last = max((t for t in (row["last_vacuum"], row["last_autovacuum"]) if t), default=None)
        why = [f"last vacuum {last:%Y-%m-%d %H:%M}" if last else "never vacuumed"]
        if not row["autovacuum_enabled"]:
            why.append("autovacuum is off for it")
        elif row["vacuum_phase"]:
            why.append(f"a VACUUM of it is running ({row['vacuum_phase']})")
        else:
            why.append(f"autovacuum starts at ~{row['autovacuum_at']:,.0f} dead rows")
        yield Problem(
            severity="warning",
            subject=row["subject"],
            message=f"{row['subject']} has {dead:,} dead rows ({_pct(share)} of {dead + live:,}): " + "; ".join(why),
            remedy=f"VACUUM (VERBOSE, ANALYZE) {row['target']};",
            details={
                "n_dead_tup": dead,
                "n_live_tup": live,
                "dead_share": round(share, 4),
                "last_vacuum": utc_iso(row["last_vacuum"]),
                "last_autovacuum": utc_iso(row["last_autovacuum"]),
                "autovacuum_enabled": row["autovacuum_enabled"],
                "autovacuum_threshold_rows": round(row["autovacuum_at"]),
                "vacuum_running": row["vacuum_phase"],
                **more,
            },
        )


def analyze_overdue(ctx: CheckContext) -> Iterator[Problem]:
    # reltuples is what the planner believes; -1 (PostgreSQL 14+) or 0 with rows changed since
    # means never analyzed (or analyzed while empty), where any change count is 100% of it.
    rows = ctx.rows(
        """
        SELECT format('%%I.%%I', n.nspname, c.relname) AS subject, c.relkind, c.reltuples,
               s.n_live_tup, s.n_mod_since_analyze, s.last_analyze, s.last_autoanalyze
        FROM pg_stat_all_tables s
        JOIN pg_class c ON c.oid = s.relid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't'
          AND s.n_mod_since_analyze > 0 AND s.n_mod_since_analyze >= %(min_rows)s
          AND (c.reltuples <= 0 OR s.n_mod_since_analyze >= %(ratio)s * c.reltuples)
        ORDER BY s.last_analyze IS NULL AND s.last_autoanalyze IS NULL DESC, s.n_mod_since_analyze DESC, subject
        LIMIT %(limit)s
        """,
        {
            "min_rows": ctx.thresholds["analyze_overdue_min_changed_rows"],
            "ratio": ctx.thresholds["analyze_overdue_changed_ratio"],
            "limit": MAX_PROBLEMS + 1,
        },
    )
    rows, more = bounded(rows)
    for row in rows:
        changed = row["n_mod_since_analyze"]
        last = max((t for t in (row["last_analyze"], row["last_autoanalyze"]) if t), default=None)
        if last is None:
            message = (
                f"{row['subject']} has never been analyzed (since statistics were last reset) and has "
                f"{changed:,} rows changed: the planner has no statistics for it"
            )
        else:
            planned = max(row["reltuples"], 0)
            message = (
                f"{row['subject']}: {changed:,} rows changed since it was last analyzed ({last:%Y-%m-%d %H:%M}), "
                f"against {planned:,.0f} rows in its statistics"
            )
        yield Problem(
            severity="warning",
            subject=row["subject"],
            message=message,
            remedy=f"ANALYZE {row['subject']};",
            details={
                "n_mod_since_analyze": changed,
                "n_live_tup": row["n_live_tup"],
                "reltuples": max(int(row["reltuples"]), -1),
                "never_analyzed": last is None,
                "last_analyze": utc_iso(row["last_analyze"]),
                "last_autoanalyze": utc_iso(row["last_autoanalyze"]),
                **more,
            },
        )


# --- autovacuum_disabled -------------------------------------------------------------------


def autovacuum_disabled(ctx: CheckContext) -> Iterator[Problem]:
    rows = ctx.rows(
        f"""
        SELECT format('%%I.%%I', n.nspname, c.relname) AS subject, c.relkind,
               coalesce({_reloption("c.reloptions", "autovacuum_enabled")} ~* %(false)s, false) AS table_off,
               coalesce({_reloption("t.reloptions", "autovacuum_enabled")} ~* %(false)s, false) AS toast_off,
               s.n_dead_tup, s.n_live_tup, s.n_mod_since_analyze, age(c.relfrozenxid)::bigint AS xid_age
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
        LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
        WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't'
          AND (coalesce({_reloption("c.reloptions", "autovacuum_enabled")} ~* %(false)s, false)
               OR coalesce({_reloption("t.reloptions", "autovacuum_enabled")} ~* %(false)s, false))
        ORDER BY s.n_dead_tup DESC NULLS LAST, subject
        LIMIT %(limit)s
        """,
        {"false": FALSE_VALUE, "limit": MAX_PROBLEMS + 1},
    )
    rows, more = bounded(rows)
    for row in rows:
        which = [
            name
            for name, off in (("autovacuum_enabled", row["table_off"]), ("toast.autovacuum_enabled", row["toast_off"]))
            if off
        ]
        part = "it" if row["table_off"] else "its TOAST table"
        dead = row["n_dead_tup"] or 0
        yield Problem(
            severity="warning",
            subject=row["subject"],
            message=f"autovacuum is disabled for {part} ({', '.join(f'{w}=false' for w in which)}): {row['subject']} "
            f"has {dead:,} dead rows and {row['n_mod_since_analyze'] or 0:,} rows changed since its last analyze, "
            "and only anti-wraparound vacuums will run on it",
            remedy=f"ALTER {_kind_word(row['relkind'])} {row['subject']} RESET ({', '.join(which)});",
            details={
                "autovacuum_enabled": not row["table_off"],
                "toast_autovacuum_enabled": not row["toast_off"],
                "n_dead_tup": dead,
                "n_live_tup": row["n_live_tup"] or 0,
                "n_mod_since_analyze": row["n_mod_since_analyze"] or 0,
                "xid_age": row["xid_age"],
                **more,
            },
        )


# --- table_bloat ---------------------------------------------------------------------------

TUPLE_HEADER = 23  # HeapTupleHeaderData before its null bitmap
PAGE_HEADER = 24  # PageHeaderData
LINE_POINTER = 4  # ItemIdData, one per tuple
MAXALIGN = 8


def _align(n: float) -> int:
    return int(math.ceil(n / MAXALIGN) * MAXALIGN)


def table_bloat(ctx: CheckContext) -> Iterator[Problem]:
    """The usual estimate (as check_postgres and ioguix's queries make it): from pg_stats' average
    column widths and null fractions, the size a tuple takes; from reltuples and the fillfactor,
    the pages the heap would need; whatever relpages has beyond that is bloat. TOAST is left
    out (pg_stats widths of TOASTed values are those of their pointers in the heap)."""
    min_bytes = float(ctx.thresholds["table_bloat_min_bytes"])
    ratio = float(ctx.thresholds["table_bloat_ratio"])
    # Only tables big enough to hold min_bytes of bloat at all. pg_stats shows only the
    # columns the role may SELECT (and nothing of a table whose row security applies to it).
    rows = ctx.rows(
        f"""
        WITH candidates AS (
            SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpages::bigint AS relpages, c.reltuples,
                   coalesce({_reloption("c.reloptions", "fillfactor")}::int, 100) AS fillfactor
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' AND c.reltuples >= 0
              AND c.relpages::bigint * current_setting('block_size')::bigint >= %(min_bytes)s
        )
        SELECT format('%%I.%%I', k.nspname, k.relname) AS subject, k.nspname AS schema, k.relkind,
               k.relpages, k.reltuples, k.fillfactor,
               bool_and(has_column_privilege(k.oid, a.attnum, 'SELECT')) AND NOT row_security_active(k.oid)
                   AS readable,
               count(*) AS columns, count(s.attname) AS columns_with_stats,
               coalesce(max(s.null_frac), 0) > 0 AS has_nulls,
               coalesce(sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0)), 0)::float8 AS data_width
        FROM candidates k
        JOIN pg_attribute a ON a.attrelid = k.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_stats s
               ON s.schemaname = k.nspname AND s.tablename = k.relname AND s.attname = a.attname AND NOT s.inherited
        GROUP BY k.oid, k.nspname, k.relname, k.relkind, k.relpages, k.reltuples, k.fillfactor
        """,
        {"min_bytes": min_bytes},
    )
    if not rows:
        return
    # A system catalog the role may not read (pg_statistic, pg_authid) is none of its business:
    # left out rather than asking for a grant on it.
    rows = [row for row in rows if row["readable"] or row["schema"] != "pg_catalog"]
    if not rows:
        return
    block = int(ctx.setting("block_size"))
    unreadable = Counter(row["schema"] for row in rows if not row["readable"])
    if sum(unreadable.values()) == len(rows):
        raise MissingPrivilege(
            f"pg_stats shows the role no column statistics of the {len(rows)} tables big enough for "
            f"table_bloat_min_bytes: it shows only columns the role may SELECT"
        )
    found = []
    for row in rows:
        if not row["readable"] or row["columns_with_stats"] < row["columns"]:
            continue  # not readable (counted), or never analyzed (analyze_overdue reports it)
        header = TUPLE_HEADER + (math.ceil(row["columns"] / 8) if row["has_nulls"] else 0)
        tuple_bytes = _align(header) + _align(row["data_width"]) + LINE_POINTER
        per_page = (block - PAGE_HEADER) * row["fillfactor"] / 100
        expected = math.ceil(row["reltuples"] * tuple_bytes / per_page) if row["reltuples"] > 0 else 0
        extra_pages = row["relpages"] - expected
        if extra_pages <= 0:
            continue
        bloat, share = extra_pages * block, extra_pages / row["relpages"]
        if bloat >= min_bytes and share >= ratio:
            found.append((bloat, share, expected, tuple_bytes, row))
    found.sort(key=lambda item: (-item[0], item[4]["subject"]))
    for bloat, share, expected, tuple_bytes, row in found[:MAX_PROBLEMS]:
        total = row["relpages"] * block
        yield Problem(
            severity="warning",
            subject=row["subject"],
            message=f"{row['subject']}: an estimated {size(bloat)} of its {size(total)} heap ({_pct(share)}) is bloat "
            f"(ESTIMATE from pg_stats row widths: {row['reltuples']:,.0f} rows of ~{tuple_bytes} bytes "
            f"at fillfactor {row['fillfactor']} need ~{expected:,} of its {row['relpages']:,} pages)",
            remedy=f"VACUUM (VERBOSE) {row['subject']};  -- makes the space reusable; to give it back to the OS, "
            f"rewrite the table: pg_repack, or VACUUM FULL {row['subject']}; (ACCESS EXCLUSIVE lock for the whole rewrite)",
            details={
                "estimate": True,
                "method": "pg_stats average width and null fraction, fillfactor, reltuples vs relpages; heap only",
                "bloat_bytes": int(bloat),
                "table_bytes": int(total),
                "bloat_share": round(share, 4),
                "relpages": int(row["relpages"]),
                "expected_pages": int(expected),
                "reltuples": int(row["reltuples"]),
                "estimated_tuple_bytes": tuple_bytes,
                "fillfactor": int(row["fillfactor"]),
                **({"truncated": f"only the first {MAX_PROBLEMS} are reported"} if len(found) > MAX_PROBLEMS else {}),
            },
        )
    role = quote_ident(ctx.conn, ctx.role)
    for schema, count in sorted(unreadable.items()):
        schema_name = quote_ident(ctx.conn, schema)
        yield Problem(
            severity="info",
            subject=schema_name,
            message=f"{count} table(s) in schema {schema_name} of at least {size(min_bytes)} not estimated for bloat: "
            "the role may not SELECT all their columns, and pg_stats hides the statistics of those",
            remedy=f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema_name} TO {role};  -- or: GRANT pg_read_all_data TO {role};",
            details={"tables_not_estimated": count},
        )


CHECKS: list[Check] = [
    Check(
        name="xid_wraparound",
        area="maintenance",
        scope=DATABASE,
        run=xid_wraparound,
        summary="The database, or a table or TOAST table in it, whose age(relfrozenxid) has used a large share of the "
        "~2.1 billion transaction IDs before wraparound (default: warning at 50% = 1.07 billion, 5x the default "
        "autovacuum_freeze_max_age; critical at 75% = 1.61 billion, about vacuum_failsafe_age).",
        thresholds={"xid_wraparound_warning_ratio": 0.5, "xid_wraparound_critical_ratio": 0.75},
    ),
    Check(
        name="multixact_wraparound",
        area="maintenance",
        scope=DATABASE,
        run=multixact_wraparound,
        summary="The database, or a table or TOAST table in it, whose mxid_age(relminmxid) has used a large share of "
        "the ~2.1 billion multixact IDs before wraparound (default: warning at 50%, critical at 75%, about "
        "vacuum_multixact_failsafe_age).",
        thresholds={"multixact_wraparound_warning_ratio": 0.5, "multixact_wraparound_critical_ratio": 0.75},
    ),
    Check(
        name="sequence_exhaustion",
        area="maintenance",
        scope=DATABASE,
        run=sequence_exhaustion,
        summary="A serial or identity sequence that has used much of its range, bounded by its column's type "
        "(smallint/integer/bigint) and its own MAXVALUE (default: warning at 90% used as PgHero, critical at 95%). "
        "Needs SELECT or USAGE on the sequences.",
        thresholds={"sequence_exhaustion_ratio": 0.9, "sequence_exhaustion_critical_ratio": 0.95},
        grant="GRANT pg_read_all_data TO {role}",
    ),
    Check(
        name="vacuum_overdue",
        area="maintenance",
        scope=DATABASE,
        run=vacuum_overdue,
        summary="A table with many dead rows left by UPDATE/DELETE that no VACUUM has removed (default: at least "
        "10,000 dead rows and 20% of live+dead, the share at which autovacuum_vacuum_scale_factor's default "
        "would have started autovacuum).",
        thresholds={"vacuum_overdue_min_dead_rows": 10_000, "vacuum_overdue_dead_ratio": 0.2},
    ),
    Check(
        name="analyze_overdue",
        area="maintenance",
        scope=DATABASE,
        run=analyze_overdue,
        summary="A table never analyzed, or with many rows changed since its last ANALYZE, so that the planner "
        "works from stale statistics (default: at least 10,000 rows changed and 20% of reltuples, twice "
        "autovacuum_analyze_scale_factor's default).",
        thresholds={"analyze_overdue_min_changed_rows": 10_000, "analyze_overdue_changed_ratio": 0.2},
    ),
    Check(
        name="autovacuum_disabled",
        area="maintenance",
        scope=DATABASE,
        run=autovacuum_disabled,
        summary="A table with autovacuum_enabled=false or toast.autovacuum_enabled=false in its storage options "
        "(the cluster-wide autovacuum setting is a settings check).",
    ),
    Check(
        name="table_bloat",
        area="maintenance",
        scope=DATABASE,
        run=table_bloat,
        summary="A table whose heap is bigger than its rows need, ESTIMATED from pg_stats row widths, fillfactor and "
        "reltuples vs relpages as check_postgres does (default: at least 1 GB, check_postgres' warning, and 50% of "
        "the heap). Needs SELECT on the tables (pg_stats hides other columns).",
        thresholds={"table_bloat_min_bytes": 1024**3, "table_bloat_ratio": 0.5},
        grant="GRANT pg_read_all_data TO {role}",
    ),
]
