"""Findings over time: one open finding per problem on a connection, updated by each run
that sees it, resolved by a run that looks and no longer sees it, opened again if it
comes back. Each run's own view of it is a Sighting.

A review hands `record_findings` what it observed and what it looked at (`Coverage`): only
open findings inside the coverage can be resolved by the run, so a database review of
`shop` never resolves what it found in `crm`, and a skipped check resolves nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from connections.models import Connection
from tasks.models import Finding, FindingState, Severity, Sighting, TaskExecution, severity_rank
from tasks.reviews.database.check import AREAS
from tasks.signals import findings_changed, send_robust

# Findings of log_analysis belong to no check area: they are what the log showed.
LOG_AREA = "logs"

SUBJECT_LENGTH = Finding._meta.get_field("subject").max_length


def problem_key(*parts: str) -> str:
    """What identifies a problem, hashed to a fixed length (the subject may be a long query)."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass
class Observed:
    """A problem as one run saw it. `identity` is what tells it apart from others of its
    category besides the subject (the database, for per-database checks)."""

    severity: str
    category: str
    subject: str
    message: str
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample: str = ""
    database: str = ""
    user: str = ""
    remedy: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    identity: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return problem_key(self.category, *self.identity, self.subject)


@dataclass
class Coverage:
    """What a run looked at: categories, each in a database or in any (None)."""

    looked_at: dict[str | None, set[str]] = field(default_factory=dict)

    def add(self, category: str, database: str | None = None) -> None:
        self.looked_at.setdefault(database, set()).add(category)

    def as_q(self) -> Q:
        q = Q(pk__in=[])
        for database, categories in self.looked_at.items():
            if database is None:
                q |= Q(category__in=categories)
            else:
                q |= Q(category__in=categories, database=database)
        return q


@dataclass
class Recorded:
    opened: int = 0  # new, or back after being resolved
    updated: int = 0
    resolved: int = 0
    # The rows themselves, for the `findings_changed` signal.
    opened_findings: list[Finding] = field(default_factory=list)
    resolved_findings: list[Finding] = field(default_factory=list)


def record_findings(execution: TaskExecution, observed: Iterable[Observed], coverage: Coverage) -> Recorded:
    """Store what `execution` saw and resolve what it no longer sees; one transaction."""
    task = execution.task
    now = timezone.now()
    by_key: dict[str, Observed] = {}
    for item in observed:
        item.database, item.user = item.database[:63], item.user[:63]
        if item.key in by_key:  # one problem reported twice in a run: keep one, add the counts
            by_key[item.key].count += item.count
        else:
            by_key[item.key] = item
    outcome = Recorded()
    with transaction.atomic():
        # Runs of one connection record one at a time, so a problem never opens twice.
        Connection.objects.select_for_update().filter(pk=task.connection_id).first()
        # The newest row of each problem (a problem that reopens reuses its row, so there is
        # usually one). Plain ORDER BY rather than DISTINCT ON: `make run` runs on SQLite.
        latest: dict[str, Finding] = {}
        rows = Finding.objects.filter(connection_id=task.connection_id, key__in=list(by_key)).order_by("key", "-id")
        for finding in rows.iterator(chunk_size=2000):
            latest.setdefault(finding.key, finding)
        new, changed = [], []
        for key, item in by_key.items():
            finding = latest.get(key)
            if finding is None:
                finding = Finding(connection_id=task.connection_id, key=key, first_seen=item.first_seen or now)
                new.append(finding)
                outcome.opened_findings.append(finding)
            else:
                changed.append(finding)
                if finding.state == FindingState.RESOLVED:
                    finding.first_seen, finding.resolved_at = item.first_seen or now, None
                    outcome.opened_findings.append(finding)
                else:
                    outcome.updated += 1
                    if item.first_seen and (finding.first_seen is None or item.first_seen < finding.first_seen):
                        finding.first_seen = item.first_seen
            _apply(finding, item, execution, now)
        Finding.objects.bulk_create(new, batch_size=500)
        Finding.objects.bulk_update(changed, UPDATED_FIELDS, batch_size=500)
        rows = {**latest, **{finding.key: finding for finding in new}}
        Sighting.objects.bulk_create(
            [_sighting(execution, rows[key], item) for key, item in by_key.items()], batch_size=500
        )
        # Read, then resolve by id: the connection's row lock above keeps the set unchanged.
        gone = list(
            Finding.objects.filter(coverage.as_q(), connection_id=task.connection_id, state=FindingState.OPEN)
            .exclude(key__in=list(by_key))
            .defer("details", "sample", "remedy")
        )
        Finding.objects.filter(pk__in=[finding.pk for finding in gone]).update(
            state=FindingState.RESOLVED, resolved_at=now
        )
        for finding in gone:
            finding.state, finding.resolved_at = FindingState.RESOLVED, now
        outcome.resolved_findings = gone
        outcome.opened, outcome.resolved = len(outcome.opened_findings), len(gone)
        if outcome.opened_findings or gone:
            opened, resolved = outcome.opened_findings, gone
            transaction.on_commit(
                lambda: send_robust(findings_changed, Finding, execution=execution, opened=opened, resolved=resolved)
            )
    return outcome


# What a run's own view of a finding keeps.
SIGHTING_FIELDS = ("severity", "message", "count", "first_seen", "last_seen", "sample", "database", "user", "details")
UPDATED_FIELDS = [
    "execution",
    "task",
    "severity",
    "category",
    "subject",
    "state",
    "message",
    "remedy",
    "count",
    "first_seen",
    "last_seen",
    "resolved_at",
    "sample",
    "database",
    "user",
    "details",
]


def _apply(finding: Finding, item: Observed, execution: TaskExecution, now: datetime) -> None:
    finding.execution = execution
    finding.task_id = execution.task_id
    finding.state = FindingState.OPEN
    finding.severity = item.severity
    finding.category = item.category
    finding.subject = item.subject[:SUBJECT_LENGTH]
    finding.message = item.message
    finding.remedy = item.remedy
    finding.count = item.count
    finding.last_seen = item.last_seen or now
    finding.sample = item.sample
    finding.database = item.database
    finding.user = item.user
    finding.details = item.details


def _sighting(execution: TaskExecution, finding: Finding, item: Observed) -> Sighting:
    return Sighting(execution=execution, finding=finding, **{name: getattr(item, name) for name in SIGHTING_FIELDS})


@dataclass
class OpenProblems:
    """A connection's open findings, worst first, grouped by area (indexes, maintenance, ...,
    logs), at most `limit` of them; `total` counts them all."""

    areas: list[tuple[str, list[Finding]]]
    total: int
    shown: int

    @property
    def more(self) -> bool:
        return self.total > self.shown


def open_problems(connection_id: int, limit: int = 200) -> OpenProblems:
    """The worst `limit` open findings and how many are open: two queries."""
    open_findings = Finding.objects.filter(connection_id=connection_id, state=FindingState.OPEN)
    ranked = open_findings.annotate(rank=severity_rank()).order_by("-rank", "category", "subject")
    worst = list(ranked[:limit])
    by_area: dict[str, list[Finding]] = {}
    for finding in worst:
        by_area.setdefault(area_of(finding), []).append(finding)
    order = [*AREAS, LOG_AREA]
    areas = sorted(by_area.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return OpenProblems(areas=areas, total=open_findings.count(), shown=len(worst))


def area_of(finding: Finding) -> str:
    """The check area a finding belongs to (database_review records it), else logs."""
    area = finding.details.get("area") if isinstance(finding.details, dict) else None
    return area if area in AREAS else LOG_AREA


def open_counts() -> dict[str, int]:
    """Open findings across the fleet by severity: {"critical": n, "warning": n, "info": n}."""
    counts = dict.fromkeys(Severity.values, 0)
    rows = Finding.objects.filter(state=FindingState.OPEN).values_list("severity").annotate(n=Count("id")).order_by()
    counts.update(dict(rows))
    return counts
