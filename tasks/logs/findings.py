"""What an analysis returns: findings (one per problem found) and a summary of the log."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from tasks.timestamps import json_times

SEVERITIES = ("info", "warning", "critical")

# Every category the detectors report. A log_analysis run looks at all of them, so an open
# finding of one of these that a run no longer sees is resolved (tasks/findings.py).
CATEGORIES = (
    "slow_query",
    "error",
    "fatal",
    "panic",
    "deadlock",
    "lock_wait",
    "temp_file",
    "checkpoint_frequency",
    "auth_failure",
    "connection_slots",
    "out_of_memory",
    "crash",
    "data_corruption",
    "wraparound",
    "autovacuum_cancelled",
    "autovacuum_slow",
    "statement_timeout",
    "lock_timeout",
)


@dataclass
class LogFinding:
    """One problem found in the log, with how often and when it happened and one sample entry."""

    severity: str  # "info" | "warning" | "critical"
    category: str  # short slug, e.g. "slow_query", "deadlock", "auth_failure"
    message: str  # one line for a human
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    sample: str  # one entry as logged, bounded to a few KB
    database: str | None = None  # when all occurrences share one
    user: str | None = None  # when all occurrences share one
    details: dict[str, Any] = field(default_factory=dict)
    # What tells it apart from other findings of its category, the same from run to run:
    # the SQLSTATE, the normalized query, user@host, the table... ('' when there is one per log).
    subject: str = ""
    remedy: str = ""  # what to do about it: text to read and copy (tasks.logs.remedies)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as the API writes them: "2024-01-01T02:00:00Z")."""
        return json_times(asdict(self))


@dataclass
class AnalysisResult:
    """Findings ordered by severity (critical first) then count, the summary counts, and the
    workload report (tasks/logs/workload.py; None when config workload_report is false)."""

    findings: list[LogFinding]
    summary: dict[str, Any]
    workload: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"summary": self.summary, "findings": [f.as_dict() for f in self.findings]}
        if self.workload is not None:
            out["workload"] = self.workload
        return out
