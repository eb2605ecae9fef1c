"""A day in a database's log, analyzed for real: the result a log_analysis run stores, for the
console's workload report pages.

The log is written here in PostgreSQL 15's stderr form (log_line_prefix '%m [%p] %q%u@%d ',
every statement with its duration), busier in the day than at night, with connections from
three applications, checkpoints, temp files, autovacuum, errors in a few hours, and one very
long statement (a page must wrap it); the analyzer (tasks.logs) turns it into the result.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.parser import make_parser
from tasks.models import ExecutionStatus, TaskExecution
from tasks.tests.factories import TaskExecutionFactory

PREFIX = "%m [%p] %q%u@%d "
START = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
LONG_QUERY = (
    "SELECT o.id, o.customer_id, o.created_at, "
    + ", ".join(f"sum(i.amount_{n}) AS total_{n}" for n in range(60))
    + " FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.created_at > '2026-11-01' GROUP BY 1, 2, 3"
)


def _line(moment: datetime, pid: int, message: str, who: str = "app@shop", severity: str = "LOG") -> str:
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"
    who = f"{who} " if who else ""
    return f"{stamp} [{pid}] {who}{severity}:  {message}\n"


def day_log(hours: int = 24) -> str:
    lines: list[str] = []
    pid = 1000
    for hour in range(hours):
        base = START + timedelta(hours=hour)
        busy = 20 + 60 * (8 <= hour <= 18)  # transactions this hour
        for session in range(3):
            pid += 1
            user, database, application = [
                ("app", "shop", "web"),
                ("report", "dw", "metabase"),
                ("app", "shop", "cron"),
            ][session]
            at = base + timedelta(minutes=session * 7)
            lines.append(
                _line(at, pid, f"connection received: host=10.0.0.{session + 1} port=5432", "[unknown]@[unknown]")
            )
            lines.append(
                _line(at, pid, f"connection authorized: user={user} database={database} application_name={application}")
            )
            for n in range(busy // 3):
                at += timedelta(seconds=20)
                who = f"{user}@{database}"
                lines.append(_line(at, pid, f"duration: {0.05 + n % 7 * 0.1:.3f} ms  statement: BEGIN", who))
                lines.append(
                    _line(
                        at,
                        pid,
                        f"duration: {0.4 + n % 5:.3f} ms  statement: UPDATE accounts SET balance = balance + {n - 40} "
                        f"WHERE id = {pid * 7 + n}",
                        who,
                    )
                )
                lines.append(
                    _line(
                        at,
                        pid,
                        f"duration: {0.2 + n % 3 * 0.1:.3f} ms  statement: SELECT balance FROM accounts WHERE id IN "
                        f"({', '.join(str(pid + k) for k in range(1 + n % 4))})",
                        who,
                    )
                )
                lines.append(_line(at, pid, f"duration: {0.1:.3f} ms  statement: COMMIT", who))
            if session == 1:
                lines.append(_line(at, pid, f"duration: {1200.5 + hour:.3f} ms  statement: {LONG_QUERY}", "report@dw"))
                lines.append(
                    _line(at, pid, 'temporary file: path "base/pgsql_tmp/pgsql_tmp1.0", size 10485760', "report@dw")
                )
                lines.append(_line(at, pid, LONG_QUERY, "report@dw", "STATEMENT"))
            end = at + timedelta(seconds=5)
            seconds = (end - (base + timedelta(minutes=session * 7))).total_seconds()
            lines.append(
                _line(
                    end,
                    pid,
                    f"disconnection: session time: 0:{int(seconds) // 60:02d}:{seconds % 60:06.3f} user={user} "
                    f"database={database} host=10.0.0.{session + 1} port=5432",
                )
            )
        if hour % 3 == 0:
            at = base + timedelta(minutes=30)
            lines.append(_line(at, 90, "checkpoint starting: time", ""))
            lines.append(
                _line(
                    at + timedelta(seconds=27),
                    90,
                    f"checkpoint complete: wrote {400 + hour * 50} buffers (2.4%); 0 WAL file(s) added, 0 removed, "
                    "1 recycled; write=26.901 s, sync=0.010 s, total=27.001 s; sync files=9, longest=0.004 s, "
                    "average=0.002 s; distance=16384 kB, estimate=16400 kB",
                    "",
                )
            )
        if hour in (9, 10, 14):
            at = base + timedelta(minutes=41)
            for _ in range(2 + hour % 3):
                lines.append(_line(at, 1999, "division by zero", severity="ERROR"))
                lines.append(_line(at, 1999, "SELECT 1/0", severity="STATEMENT"))
            lines.append(_line(at, 1998, 'password authentication failed for user "report"', "report@dw", "FATAL"))
        if hour % 6 == 5:
            lines.append(
                _line(
                    base + timedelta(minutes=50),
                    95,
                    'automatic vacuum of table "shop.public.accounts": index scans: 1\n'
                    "\tpages: 0 removed, 880 remain, 880 scanned (100.00% of total)\n"
                    "\ttuples: 1200 removed, 100000 remain, 0 are dead but not yet removable\n"
                    "\tsystem usage: CPU: user: 0.05 s, system: 0.00 s, elapsed: 0.41 s",
                    "",
                )
            )
    return "".join(lines)


def analyzed_day(hours: int = 24) -> dict:
    """The result a log_analysis run stores for that log (summary and workload report)."""
    parser = make_parser("stderr", PREFIX)
    analyzer = LogAnalyzer()
    text = day_log(hours).encode()
    analyzer.add_all(parser.feed(text))
    analyzer.add_all(parser.close(partial=True))
    outcome = analyzer.finish()
    return {
        **outcome.summary,
        "bytes_read": len(text),
        "source": "file",
        "format": "stderr",
        "files": ["/var/log/postgresql/postgresql-15-main.log"],
        "workload": outcome.workload,
    }


def log_analysis_run(task, hours: int = 24) -> TaskExecution:
    """A completed run of `task` (a log_analysis task) that read that day."""
    return TaskExecutionFactory(
        task=task,
        status=ExecutionStatus.COMPLETED,
        started_at=START + timedelta(days=1),
        completed_at=START + timedelta(days=1, seconds=3),
        duration_seconds=3.0,
        result=analyzed_day(hours),
    )
