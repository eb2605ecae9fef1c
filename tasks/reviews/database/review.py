"""One review of a cluster: the cluster-wide checks once, then the per-database checks in
each database reviewed. Plain psycopg, no Django: the task type (tasks/reviews/
database_review.py) opens the sessions and stores what this returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tasks.reviews.database.check import (
    CLUSTER,
    DATABASE,
    Check,
    CheckContext,
    Problem,
    Skip,
    first_line,
    quote_ident,
    run_check,
)


class DatabaseUnreachable(Exception):
    """A database the review must read could not be opened (the message says why)."""


@dataclass
class Seen:
    """A problem, the check that found it and the database it is in ('' for cluster-wide)."""

    check: Check
    database: str
    problem: Problem


@dataclass
class Outcome:
    problems: list[Seen] = field(default_factory=list)
    ran: list[tuple[str, str]] = field(default_factory=list)  # (check, database or '')
    skipped: list[dict[str, str]] = field(default_factory=list)
    databases: dict[str, dict[str, int]] = field(default_factory=dict)
    keep: dict[str, Any] = field(default_factory=dict)  # state for the next run, by state_key()

    def summary(self) -> dict[str, Any]:
        return {
            "checks_run": len(self.ran),
            "checks_skipped": self.skipped,
            "issues_found": len(self.problems),
            "databases": self.databases,
        }


def state_key(check: str, database: str) -> str:
    return f"{check}:{database}"


def review(
    open_database: Callable[[str | None], psycopg.Connection],
    checks: Iterable[Check],
    thresholds: Mapping[str, float],
    databases: list[str] | str,
    previous: Mapping[str, Any] | None = None,
) -> Outcome:
    """Run `checks`. `open_database(None)` opens the connection's own database, `open_database(name)`
    another; either raises psycopg.Error when it cannot. `databases` is a list of names ([] for
    the own database) or "all"."""
    previous = previous or {}
    checks = list(checks)
    outcome = Outcome()
    home = _open(open_database, None)
    try:
        home_name = home.info.dbname
        context = _context(home, thresholds)
        for check in (check for check in checks if check.scope == CLUSTER):
            _run(check, context, "", outcome, previous)
        targets = _targets(home, databases, outcome, checks)
        for name in targets:
            session = home if name == home_name else _open(open_database, name)
            try:
                context = _context(session, thresholds)
                counts = outcome.databases.setdefault(name, {"checks_run": 0, "issues_found": 0, "checks_skipped": 0})
                for check in (check for check in checks if check.scope == DATABASE):
                    before_ran, before_found = len(outcome.ran), len(outcome.problems)
                    _run(check, context, name, outcome, previous)
                    counts["checks_run"] += len(outcome.ran) - before_ran
                    counts["checks_skipped"] += 1 - (len(outcome.ran) - before_ran)
                    counts["issues_found"] += len(outcome.problems) - before_found
            finally:
                if session is not home:
                    session.close()
    finally:
        home.close()
    return outcome


def _open(open_database, name: str | None) -> psycopg.Connection:
    try:
        return open_database(name)
    except psycopg.Error as exc:
        raise DatabaseUnreachable(first_line(exc)) from None


def _context(session: psycopg.Connection, thresholds: Mapping[str, float]) -> CheckContext:
    return CheckContext(
        conn=session,
        thresholds=thresholds,
        database=session.info.dbname,
        server_version=session.info.server_version,
        role=session.info.user,
    )


def _run(check: Check, context: CheckContext, database: str, outcome: Outcome, previous: Mapping[str, Any]) -> None:
    key = state_key(check.name, database)
    context.previous, context.keep = previous.get(key), None
    result = run_check(check, context)
    if isinstance(result, Skip):
        skipped = {"check": check.name, "reason": result.reason}
        if database:
            skipped["database"] = database
        if result.grant:
            skipped["grant"] = result.grant
        outcome.skipped.append(skipped)
        if context.previous is not None:
            outcome.keep[key] = context.previous  # a skipped run keeps the last snapshot
        return
    outcome.ran.append((check.name, database))
    outcome.problems.extend(Seen(check, database, problem) for problem in result)
    if context.keep is not None:
        outcome.keep[key] = context.keep


def _targets(home: psycopg.Connection, databases: list[str] | str, outcome: Outcome, checks: list[Check]) -> list[str]:
    """The databases to review: the own one, the listed ones, or every one this role may enter."""
    if databases != "all":
        return list(databases) or [home.info.dbname]
    with home.cursor() as cur:
        cur.execute(
            "SELECT datname, has_database_privilege(datname, 'CONNECT') FROM pg_database"
            " WHERE datallowconn AND NOT datistemplate ORDER BY datname"
        )
        rows = cur.fetchall()
    if any(check.scope == DATABASE for check in checks):
        for name, allowed in rows:
            if not allowed:
                grant = f"GRANT CONNECT ON DATABASE {quote_ident(home, name)} TO {quote_ident(home, home.info.user)}"
                outcome.skipped.append(
                    {
                        "check": "*",
                        "database": name,
                        "reason": "no CONNECT privilege on this database",
                        "grant": grant,
                    }
                )
    return [name for name, allowed in rows if allowed]
