"""The workload report page of a log_analysis execution: its result's `workload` (written by
tasks/logs/workload.py) as charts and tables, the way a pgBadger user reads it every morning.

The page only reads the stored result: pure functions of that dict, so a report written by an
older version (a key missing) still renders what it has. Charts are the console's own
(monitoring/console/charts.py); long query texts wrap inside their table cells.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from monitoring.console.charts import AMBER, HATCHED, HEALTHY, LINE, UNHEALTHY, Series, hourly_chart

KIND_LABELS = {
    "select": "SELECT",
    "insert": "INSERT",
    "update": "UPDATE",
    "delete": "DELETE",
    "copy": "COPY",
    "ddl": "DDL",
    "tcl": "transaction control",
    "cursor": "cursors",
    "other": "other",
}


def has_report(execution) -> bool:
    return isinstance(execution.result, dict) and isinstance(execution.result.get("workload"), dict)


def report_context(execution) -> dict[str, Any]:
    """Everything the page shows, or {"workload": None} for a run without a report."""
    if not has_report(execution):
        return {"workload": None}
    result = execution.result
    workload = result["workload"]
    queries = workload.get("queries", {})
    return {
        "workload": workload,
        "covered": {
            "first": _time(result.get("first_entry_at")),
            "last": _time(result.get("last_entry_at")),
            "bytes_read": result.get("bytes_read"),
            "entries": result.get("analyzed_logs"),
            "files": result.get("files") or [],
        },
        "charts": charts(workload.get("hours", {})),
        "mix": mix(queries),
        "top_lists": [
            ("Top queries by total time", "by-time", queries.get("top_by_total_time", [])),
            ("Top queries by count", "by-count", queries.get("top_by_count", [])),
            ("Top queries by mean time", "by-mean", queries.get("top_by_mean", [])),
        ],
        "connection_tables": [
            ("By user", "user", workload.get("connections", {}).get("by_user", [])),
            ("By database", "database", workload.get("connections", {}).get("by_database", [])),
            ("By host", "host", workload.get("connections", {}).get("by_host", [])),
            ("By application", "application", workload.get("connections", {}).get("by_application", [])),
        ],
    }


def charts(hours: dict[str, Any]) -> list:
    """Queries, query time, errors, connections and sessions, checkpoints and their buffers,
    temp files and autovacuum runs, per hour (or per bucket of hours)."""
    starts = [_time(start) for start in hours.get("start", [])]
    if not starts or None in starts:
        return []
    width = int(hours.get("bucket_hours", 1))
    per = "hour" if width == 1 else f"{width} hours"

    def column(name: str, scale: float = 1.0) -> list[float]:
        values = hours.get(name) or [0] * len(starts)
        return [value * scale for value in values]

    def chart(title: str, y_label: str, *series: Series, stacked: bool = True, unit: str = ""):
        return hourly_chart(
            starts, series, f"{title} per {per}", y_label, bucket_hours=width, stacked=stacked, unit=unit
        )

    return [
        chart("Queries", "queries", Series("queries", column("queries"))),
        chart("Query time", "seconds", Series("seconds", column("query_ms", 0.001)), unit=" s"),
        chart(
            "Errors",
            "entries",
            Series("ERROR", column("errors"), AMBER),
            Series("FATAL", column("fatals"), UNHEALTHY),
            Series("PANIC", column("panics"), HATCHED),
        ),
        chart(
            "Connections, sessions",
            "count",
            Series("connections", column("connections"), LINE),
            Series("sessions ended", column("sessions"), HEALTHY),
            stacked=False,
        ),
        chart("Checkpoints", "checkpoints", Series("checkpoints", column("checkpoints"))),
        chart("Checkpoint buffers", "buffers", Series("buffers", column("checkpoint_buffers"), HEALTHY)),
        chart("Temp files", "files", Series("files", column("temp_files"), AMBER)),
        chart("Autovacuum runs", "runs", Series("runs", column("autovacuums"), HEALTHY)),
    ]


def mix(queries: dict[str, Any]) -> list[dict[str, Any]]:
    """The query mix as rows: kind, count, share of all statements, total time."""
    by_kind = queries.get("by_kind", {})
    total = sum(figures.get("count", 0) for figures in by_kind.values()) or 1
    return [
        {
            "kind": KIND_LABELS.get(kind, kind),
            "count": figures.get("count", 0),
            "percent": 100.0 * figures.get("count", 0) / total,
            "seconds": figures.get("total_ms", 0) / 1000,
        }
        for kind, figures in by_kind.items()
        if figures.get("count")
    ]


def _time(value) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None
