"""Task type `database_review`: read a database's catalogs and statistics and report each
problem as a finding, the way PgHero, check_postgres and pganalyze do.

Config:
- `checks`: names of checks to run (tasks/reviews/database/catalog.py); empty = all of them.
- `thresholds`: {name: value} overriding any default threshold.
- `databases`: [names], or "all" (every database of the cluster the role may connect to);
  empty = the connection's own database. Cluster-wide checks run once per run.
- `statement_timeout_ms`, `lock_timeout_ms`: the bounds of every statement of the review.

Sessions are read-only and bounded by those timeouts (database/check.py); a check that times
out, waits for a lock or lacks a privilege is skipped with the reason (and the GRANT that
enables it) while the others run. The run fails only when a database it must read cannot be
reached or the config is invalid.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db import transaction

from connections.login import CredentialsUnavailable
from connections.probe import one_line_error
from connections.session import open_session
from tasks.findings import Coverage, Observed, record_findings
from tasks.models import CheckState
from tasks.reviews.database.catalog import CHECKS, THRESHOLDS
from tasks.reviews.database.check import session_settings
from tasks.reviews.database.review import DatabaseUnreachable, Outcome, review
from tasks.reviews.review import ConfigSchema, Option, Review, ReviewFailed

APPLICATION_NAME = f"{settings.PROBE_APPLICATION_NAME} database_review"
# A run's result lists at most this many skipped checks (a cluster of many databases with a
# role that may read none of them would otherwise list every check of every database).
MAX_SKIPPED_LISTED = 200


def run(task, execution) -> dict[str, Any]:
    config = task.review_config()
    checks = [CHECKS[name] for name in (config["checks"] or CHECKS)]
    thresholds = {**THRESHOLDS, **config["thresholds"]}
    previous = dict(CheckState.objects.filter(task=task).values_list("key", "data"))
    server_settings = session_settings(config["statement_timeout_ms"], config["lock_timeout_ms"])

    def open_database(name: str | None) -> psycopg.Connection:
        return open_session(
            task.connection,
            statement_timeout_s=1,  # replaced by server_settings' statement_timeout
            database=name,
            server_settings=server_settings,
            application_name=APPLICATION_NAME,
        )

    try:
        outcome = review(open_database, checks, thresholds, config["databases"], previous)
    except CredentialsUnavailable as exc:
        raise ReviewFailed(str(exc)) from None
    except DatabaseUnreachable as exc:
        raise ReviewFailed(str(exc)) from None
    except psycopg.Error as exc:  # the session was lost mid-run
        raise ReviewFailed(one_line_error(exc)) from None
    with transaction.atomic():
        recorded = record_findings(execution, observed(outcome), coverage(outcome))
        for key, data in outcome.keep.items():
            CheckState.objects.update_or_create(task=task, key=key, defaults={"data": data, "execution": execution})
    summary = outcome.summary()
    skipped = summary["checks_skipped"]
    summary.update(
        checks_skipped=skipped[:MAX_SKIPPED_LISTED],
        checks_skipped_total=len(skipped),
        opened=recorded.opened,
        resolved=recorded.resolved,
    )
    return summary


def observed(outcome: Outcome) -> list[Observed]:
    return [
        Observed(
            severity=seen.problem.severity,
            category=seen.check.name,
            subject=seen.problem.subject,
            message=seen.problem.message,
            remedy=seen.problem.remedy,
            details={"area": seen.check.area, **seen.problem.details},
            database=seen.database,
            identity=(seen.database,),
        )
        for seen in outcome.problems
    ]


def coverage(outcome: Outcome) -> Coverage:
    """What the run looked at: each check that ran, in the database it ran in ('' = cluster)."""
    looked = Coverage()
    for check, database in outcome.ran:
        looked.add(check, database)
    return looked


def _check(config: dict[str, Any]) -> list[str]:
    problems = []
    checks = config["checks"]
    unknown = [str(name) for name in checks if name not in CHECKS]
    if unknown:
        problems.append(f"unknown check(s) {', '.join(unknown)}; valid checks: {', '.join(CHECKS)}")
    thresholds = config["thresholds"]
    unknown = [str(name) for name in thresholds if name not in THRESHOLDS]
    if unknown:
        problems.append(f"unknown threshold(s) {', '.join(unknown)}; valid thresholds: {', '.join(sorted(THRESHOLDS))}")
    for name, value in thresholds.items():
        if name in THRESHOLDS and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            problems.append(f"threshold {name} must be a number of at least 0, not {value!r}")
    databases = config["databases"]
    if isinstance(databases, str) and databases != "all":
        problems.append(f'databases must be a list of database names or "all", not {databases!r}')
    if isinstance(databases, list) and not all(isinstance(name, str) and 0 < len(name) <= 63 for name in databases):
        problems.append("databases must list database names (text of 1 to 63 characters)")
    return problems


CONFIG = ConfigSchema(
    Option("checks", list, [], help="Names of the checks to run; empty = all of them."),
    Option("thresholds", dict, {}, help="Overrides of default thresholds, by name."),
    Option(
        "databases",
        (list, str),
        [],
        help='Database names, or "all" (every database the role may connect to); empty = the connection\'s own.',
    ),
    Option("statement_timeout_ms", int, 5000, minimum=100, maximum=600_000, help="Bound of every statement."),
    Option("lock_timeout_ms", int, 1000, minimum=10, maximum=60_000, help="Longest wait for a lock."),
    check=_check,
)

REVIEW = Review(name="database_review", label="Database review", config=CONFIG, run=run)
