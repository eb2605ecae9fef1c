"""Checks of indexes: duplicates, unused, invalid, foreign keys and tables without them."""

from __future__ import annotations

from collections.abc import Iterator

from tasks.reviews.database.check import DATABASE, Check, CheckContext, Problem


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


CHECKS: list[Check] = [
    Check(
        name="invalid_index",
        area="indexes",
        scope=DATABASE,
        run=invalid_indexes,
        summary="An index with indisvalid = false, e.g. left by a failed CREATE INDEX CONCURRENTLY.",
    ),
]
