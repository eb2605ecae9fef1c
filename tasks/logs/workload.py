"""The workload report: what pgBadger shows a DBA every morning, as bounded JSON.

LogAnalyzer (detectors.py) feeds it the entries the detectors see, through its hooks: every
"duration:" line's statement and time (the hot path: appended to `texts` and `durations`,
grouped a batch at a time by `flush`, or through `query` while `pairing` holds per-process
state), `log` for the other LOG messages, `error` and `warning`. It reports:

- sessions ("disconnection: session time: …"): count, total / mean / longest;
- connections ("connection received", "connection authorized: user=… database=…
  application_name=…"): attempts, authorized, by user, database, host and application;
- the query mix and the top queries by total time, count and mean (tasks/logs/query_groups.py
  puts every statement in its group). A statement is a "duration: … statement: / execute
  <name>: …" line (log_min_duration_statement = 0), or a "statement: … / execute <name>: …"
  line (log_statement) paired with the bare "duration: … ms" its process logs next
  (log_duration); a logged statement with no duration counts, untimed;
- checkpoints and restartpoints: by reason, buffers written, WAL files added / removed /
  recycled, write / sync / total time, distance and estimate;
- autovacuum and autoanalyze per table: runs, pages and tuples removed, elapsed time;
- temporary files per query (the STATEMENT logged with them, else the next statement of
  the same process);
- errors by severity and the top SQLSTATEs and messages;
- all of that per hour (tasks/logs/hourly.py).

Bounds: TOP rows in every table (with what did not fit as an "other" row), MAX_NAMES names
remembered per table, the buckets and groups of hourly.py and query_groups.py. Text taken
from the log (error messages, query text) is redacted like findings are; query text is the
normalized form, never a literal.

The English messages matched here (the prefixes below) are the ones a translated log must be
rewritten to before the analyzer sees it.
"""

from __future__ import annotations

import re
from typing import Any

from tasks.logs import hourly
from tasks.logs.entry import LogEntry
from tasks.logs.normalize import KINDS
from tasks.logs.query_groups import DIGITS_TO_ZERO, OTHER, QueryGroup, QueryGroups
from tasks.logs.redact import redact

TOP = 20  # rows of every table in the report
MAX_NAMES = 1000  # distinct users, databases, hosts, applications, tables, messages kept
MAX_PROCESSES = 10_000  # processes whose host / pending statement / temp files are remembered
MAX_QUERY_TEXT = 500  # characters of a query's text in the report
# The group of durations logged without their statement: log_statement did not log it, or
# it is the parse or bind step of an extended-protocol statement (log_duration logs those).
NOT_LOGGED = "(duration without its statement)"

_AUTHORIZED = re.compile(
    r"(?:replication )?connection authorized: user=(\S*)(?: database=(\S*))?"
    r"(?: application_name=(.*?))?(?: SSL enabled \(.*| GSS \(.*)?$",
    re.DOTALL,
)
_SESSION_TIME = re.compile(r"disconnection: session time: (\d+):(\d+):(\d+(?:\.\d+)?)")
_CHECKPOINT_DONE = re.compile(
    r"(?:checkpoint|restartpoint) complete: wrote (\d+) buffers \([^)]*\)[^;]*; (\d+) (?:WAL|transaction log) "
    r"file\(s\) added, (\d+) removed, (\d+) recycled; write=([\d.]+) s, sync=([\d.]+) s, total=([\d.]+) s"
    r"(?:.*?distance=(\d+) kB, estimate=(\d+) kB)?"
)
_VACUUM = re.compile(r'automatic (?:aggressive )?vacuum (?:to prevent wraparound )?of table "([^"]+)"')
_ANALYZE = re.compile(r'automatic analyze of table "([^"]+)"')
_REMOVED = re.compile(r"(pages|tuples): (\d+) removed")
_ELAPSED = re.compile(r"elapsed: ([\d.]+) s")


class _Tally:
    """Counts (and an optional sum) by name, at most MAX_NAMES names; later names count as
    OTHER."""

    __slots__ = ("counts", "sums")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.sums: dict[str, float] = {}

    def add(self, name: str, value: float | None = None) -> None:
        counts = self.counts
        if name not in counts and len(counts) >= MAX_NAMES:
            name = OTHER
        counts[name] = counts.get(name, 0) + 1
        if value is not None:
            self.sums[name] = self.sums.get(name, 0) + value

    def top(self, label: str, total_label: str | None = None) -> list[dict[str, Any]]:
        """The TOP names by count, then an OTHER row for the rest."""
        named = sorted(((n, c) for n, c in self.counts.items() if n != OTHER), key=lambda item: (-item[1], item[0]))
        rows = [self._row(label, name, count, total_label) for name, count in named[:TOP]]
        rest = named[TOP:] + ([(OTHER, self.counts[OTHER])] if OTHER in self.counts else [])
        if rest:
            row = {label: OTHER, "count": sum(count for _, count in rest)}
            if total_label:
                row[total_label] = round(sum(self.sums.get(name, 0) for name, _ in rest), 3)
            rows.append(row)
        return rows

    def _row(self, label: str, name: str, count: int, total_label: str | None) -> dict[str, Any]:
        row: dict[str, Any] = {label: name, "count": count}
        if total_label:
            row[total_label] = round(self.sums.get(name, 0), 3)
        return row


class _Table:
    """Autovacuum figures per table, at most MAX_NAMES tables."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}

    def row(self, table: str) -> dict[str, float]:
        rows = self.rows
        found = rows.get(table)
        if found is None:
            if len(rows) >= MAX_NAMES:
                table = OTHER
                found = rows.get(table)
            if found is None:
                found = rows[table] = dict.fromkeys(
                    ("vacuums", "analyzes", "pages_removed", "tuples_removed", "vacuum_seconds", "analyze_seconds"), 0
                )
                found["max_seconds"] = 0.0
        return found


class WorkloadReport:
    """Aggregates the workload figures; `result()` is the JSON-ready report."""

    def __init__(self, query_totals, redact_mode: str = "passwords") -> None:
        self.redact_mode = redact_mode
        self.queries = QueryGroups()
        self._keys = self.queries.keys  # the same dict for good: QueryGroups clears it, never replaces it
        # Statements with their durations, grouped by `flush` a batch at a time: the analyzer
        # appends to them unless `pairing` (a process has a statement or temp files waiting).
        self.texts: list[str] = []
        self.durations: list[float] = []
        self.pairing = False
        self.hours = hourly.HourlyBuckets(query_totals)
        self._not_logged = QueryGroup(NOT_LOGGED, "other")
        self._pending: dict[str, str] = {}  # process -> statement logged, its duration not yet
        self._temp_waiting: dict[str, list[int]] = {}  # process -> temp file sizes without a statement
        self._hosts: dict[str, str] = {}  # process -> host of its "connection received"
        self.attempts = 0
        self.connections = 0
        self.by_user, self.by_database, self.by_host, self.by_application = _Tally(), _Tally(), _Tally(), _Tally()
        self.sessions = 0
        self.session_seconds = 0.0
        self.session_max = 0.0
        self.checkpoint = dict.fromkeys(
            (
                "started",
                "completed",
                "buffers_written",
                "wal_added",
                "wal_removed",
                "wal_recycled",
                "too_frequent_warnings",
                "distance_kb",
            ),
            0,
        )
        self.checkpoint_seconds = {"write": 0.0, "sync": 0.0, "total": 0.0, "longest": 0.0}
        self.distance_max = self.estimate_last = 0
        self.checkpoint_reasons = _Tally()
        self.autovacuum = _Table()
        self.vacuums = self.analyzes = 0
        self.temp_files = self.temp_bytes = 0
        self.by_severity: dict[str, int] = {}
        self.by_sqlstate = _Tally()
        self.messages = _Tally()

    # --- hooks (LogAnalyzer calls them) -------------------------------------------------

    def query(self, entry: LogEntry, ms: float, text: str) -> None:
        """A "duration:" line: `text` is its statement, "" for a bare duration (paired with
        what its process logged before)."""
        if not text or self.pairing:
            text = self._pair(entry, text)
        group = self.queries.group(text) if text else self._not_logged
        group.count += 1
        group.total += ms
        if ms > group.max:
            group.max = ms
        if ms < group.min:
            group.min = ms

    def flush(self) -> None:
        """Group the statements appended to `texts` (their times in `durations`): a statement
        whose key (made in C: see query_groups.py) is known finds its group in the dict, the
        rest go through QueryGroups.group. One loop for the batch, no call per statement."""
        texts, durations = self.texts, self.durations
        if not texts:
            return
        get, group_of, zero = self._keys.get, self.queries.group, DIGITS_TO_ZERO
        for ms, text in zip(durations, texts, strict=True):
            if "'" in text:
                group = None
            else:
                try:
                    key = text.encode()  # the default codec and errors: no lookup of their names
                except UnicodeEncodeError:  # a lone surrogate (a jsonlog's escaped "\udc80")
                    key = text.encode("utf-8", "surrogatepass")
                group = get(key.translate(zero))
            if group.__class__ is not QueryGroup:  # unknown, refined by names, or quoted
                group = group_of(text)
            group.count += 1
            group.total += ms
            if ms > group.max:
                group.max = ms
            if ms < group.min:
                group.min = ms
        texts.clear()
        durations.clear()

    def log(self, entry: LogEntry, message: str) -> None:
        """Any LOG message but "duration:"; dispatched on its first letter, as the analyzer does."""
        first = message[:1]
        current = self.hours.current
        if first == "s":
            if message.startswith("statement: "):
                self._statement(entry, message[11:])
        elif first == "e":
            if message.startswith("execute ") and ": " in message:
                self._statement(entry, message[message.find(": ") + 2 :])
        elif first == "c":
            if message.startswith("connection received: host="):
                self.attempts += 1
                self._remember(self._hosts, entry, message[26:].split(" ", 1)[0])
            elif message.startswith("connection authorized: "):
                self._authorized(entry, message)
                current[hourly.CONNECTIONS] += 1
            elif message.startswith("checkpoint starting: "):
                self._checkpoint_started(message[21:])
            elif message.startswith("checkpoint complete: "):
                self._checkpoint_done(message)
            elif message.startswith("checkpoints are occurring too frequently"):
                self.checkpoint["too_frequent_warnings"] += 1
        elif first == "d":
            if message.startswith("disconnection: session time: "):
                self._disconnection(entry, message)
        elif first == "r":
            if message.startswith("restartpoint starting: "):
                self._checkpoint_started(message[23:])
            elif message.startswith("restartpoint complete: "):
                self._checkpoint_done(message)
            elif message.startswith("replication connection authorized: "):
                self._authorized(entry, message)
                current[hourly.CONNECTIONS] += 1
        elif first == "t":
            if message.startswith("temporary file: "):
                self._temp_file(entry, message)
        elif first == "a":
            if message.startswith("automatic "):
                self._autovacuum(message)

    def error(self, entry: LogEntry, severity: str, sqlstate: str | None, message: str) -> None:
        """An ERROR, FATAL or PANIC entry."""
        self.by_severity[severity] = self.by_severity.get(severity, 0) + 1
        column = hourly.ERRORS if severity == "ERROR" else hourly.FATALS if severity == "FATAL" else hourly.PANICS
        self.hours.current[column] += 1
        self.by_sqlstate.add(sqlstate or "unknown")
        self.messages.add(f"{severity}:  {message[:200]}")

    def warning(self, entry: LogEntry) -> None:
        self.by_severity["WARNING"] = self.by_severity.get("WARNING", 0) + 1
        self.hours.current[hourly.WARNINGS] += 1

    # --- the events ------------------------------------------------------------------------

    def _statement(self, entry: LogEntry, text: str) -> None:
        """A statement logged on its own (log_statement): its duration, if any, comes next."""
        process = entry[1] or entry[2] or ""
        earlier = self._pending.pop(process, None)
        if earlier is not None:
            self._untimed(earlier)
        self._remember(self._pending, entry, text, on_forget=self._untimed)
        self.pairing = True

    def _pair(self, entry: LogEntry, text: str) -> str:
        """The statement a duration line is about, given what its process logged before."""
        process = entry[1] or entry[2] or ""
        pending = self._pending.pop(process, None)
        if pending is not None:
            if text:
                self._untimed(pending)  # logged, then finished too fast for a duration
            else:
                text = pending
        sizes = self._temp_waiting.pop(process, None)
        if sizes:
            group = self.queries.group(text) if text else self._not_logged
            for size in sizes:
                _add_temp(group, size)
        self.pairing = bool(self._pending or self._temp_waiting)
        return text

    def _untimed(self, text: str) -> None:
        group = self.queries.group(text)
        group.count += 1
        group.untimed += 1

    def _remember(self, table: dict, entry: LogEntry, value, on_forget=None) -> None:
        if len(table) >= MAX_PROCESSES:
            oldest = next(iter(table))
            forgotten = table.pop(oldest)
            if on_forget is not None:
                on_forget(forgotten)
        table[entry[1] or entry[2] or ""] = value

    def _authorized(self, entry: LogEntry, message: str) -> None:
        self.connections += 1
        m = _AUTHORIZED.match(message)
        user, database, application = (m.group(1), m.group(2), m.group(3)) if m else (entry.user, entry.database, None)
        if message.startswith("replication"):
            database = "[replication]"
        host = self._hosts.pop(entry[1] or entry[2] or "", None) or entry.client or "?"
        self.by_user.add(user or "?")
        self.by_database.add(database or entry.database or "?")
        self.by_host.add(host)
        self.by_application.add(application or entry.application or "(none)")

    def _disconnection(self, entry: LogEntry, message: str) -> None:
        m = _SESSION_TIME.match(message)
        if not m:
            return
        seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
        self.sessions += 1
        self.session_seconds += seconds
        self.session_max = max(self.session_max, seconds)
        self.hours.current[hourly.SESSIONS] += 1
        # The session is over: what its process left waiting will not be paired any more.
        process = entry[1] or entry[2] or ""
        self._hosts.pop(process, None)
        statement = self._pending.pop(process, None)
        if statement is not None:
            self._untimed(statement)
        sizes = self._temp_waiting.pop(process, None)
        if sizes:
            self._temp_unknown(sizes)
        self.pairing = bool(self._pending or self._temp_waiting)

    def _checkpoint_started(self, reason: str) -> None:
        self.checkpoint["started"] += 1
        self.checkpoint_reasons.add(reason.strip())

    def _checkpoint_done(self, message: str) -> None:
        m = _CHECKPOINT_DONE.match(message)
        if not m:
            return
        figures = self.checkpoint
        figures["completed"] += 1
        buffers = int(m.group(1))
        figures["buffers_written"] += buffers
        figures["wal_added"] += int(m.group(2))
        figures["wal_removed"] += int(m.group(3))
        figures["wal_recycled"] += int(m.group(4))
        seconds = self.checkpoint_seconds
        seconds["write"] += float(m.group(5))
        seconds["sync"] += float(m.group(6))
        total = float(m.group(7))
        seconds["total"] += total
        seconds["longest"] = max(seconds["longest"], total)
        if m.group(8) is not None:
            distance = int(m.group(8))
            figures["distance_kb"] += distance
            self.distance_max = max(self.distance_max, distance)
            self.estimate_last = int(m.group(9))
        current = self.hours.current
        current[hourly.CHECKPOINTS] += 1
        current[hourly.CHECKPOINT_BUFFERS] += buffers

    def _temp_file(self, entry: LogEntry, message: str) -> None:
        size = message.rsplit(" ", 1)[-1]
        size = int(size) if size.isdigit() else 0
        self.temp_files += 1
        self.temp_bytes += size
        current = self.hours.current
        current[hourly.TEMP_FILES] += 1
        current[hourly.TEMP_BYTES] += size
        if entry.statement:
            _add_temp(self.queries.group(entry.statement), size)
        else:
            # Logged when the file is removed, before the statement's own duration line.
            process = entry[1] or entry[2] or ""
            waiting = self._temp_waiting.get(process)
            if waiting is None:
                self._remember(self._temp_waiting, entry, [size], on_forget=self._temp_unknown)
                self.pairing = True
            elif len(waiting) < 1000:
                waiting.append(size)

    def _temp_unknown(self, sizes: list[int]) -> None:
        for size in sizes:
            _add_temp(self._not_logged, size)

    def _autovacuum(self, message: str) -> None:
        vacuum = _VACUUM.match(message)
        analyze = None if vacuum else _ANALYZE.match(message)
        if not (vacuum or analyze):
            return
        row = self.autovacuum.row((vacuum or analyze).group(1))
        elapsed = _ELAPSED.search(message)
        seconds = float(elapsed.group(1)) if elapsed else 0.0
        if vacuum:
            self.vacuums += 1
            row["vacuums"] += 1
            row["vacuum_seconds"] += seconds
            for kind, removed in _REMOVED.findall(message):
                row[f"{kind}_removed"] += int(removed)
        else:
            self.analyzes += 1
            row["analyzes"] += 1
            row["analyze_seconds"] += seconds
        row["max_seconds"] = max(row["max_seconds"], seconds)
        self.hours.current[hourly.AUTOVACUUMS] += 1

    # --- the report ------------------------------------------------------------------------

    def finish(self) -> None:
        """Statements still waiting for a duration count, untimed; temp files still waiting
        for a statement count under NOT_LOGGED."""
        self.flush()
        for text in self._pending.values():
            self._untimed(text)
        self._pending.clear()
        for sizes in self._temp_waiting.values():
            self._temp_unknown(sizes)
        self._temp_waiting.clear()
        self.pairing = False

    def result(self) -> dict[str, Any]:
        self.finish()
        return {
            "limits": {"top": TOP, "query_text_chars": MAX_QUERY_TEXT},
            "queries": self._queries(),
            "sessions": {
                "count": self.sessions,
                "total_seconds": round(self.session_seconds, 3),
                "mean_seconds": round(self.session_seconds / self.sessions, 3) if self.sessions else None,
                "max_seconds": round(self.session_max, 3),
            },
            "connections": {
                "attempts": self.attempts,
                "authorized": self.connections,
                "by_user": self.by_user.top("user"),
                "by_database": self.by_database.top("database"),
                "by_host": self.by_host.top("host"),
                "by_application": self.by_application.top("application"),
            },
            "checkpoints": {
                **self.checkpoint,
                "distance_max_kb": self.distance_max,
                "estimate_kb": self.estimate_last,
                **{f"{name}_seconds": round(value, 3) for name, value in self.checkpoint_seconds.items()},
                "by_reason": self.checkpoint_reasons.top("reason"),
            },
            "autovacuum": self._autovacuum_result(),
            "temp_files": self._temp_result(),
            "errors": {
                "by_severity": self.by_severity,
                "by_sqlstate": self.by_sqlstate.top("sqlstate"),
                "top_messages": [
                    {**row, "message": redact(row["message"], self.redact_mode)} for row in self.messages.top("message")
                ],
            },
            "hours": self.hours.result(),
        }

    def _all_groups(self) -> list[QueryGroup]:
        groups = self.queries.all_groups()
        if self._not_logged.count or self._not_logged.temp_files:
            groups.append(self._not_logged)
        return groups

    def _queries(self) -> dict[str, Any]:
        groups = self._all_groups()
        by_kind = {kind: {"count": 0, "total_ms": 0.0} for kind in KINDS}
        for group in groups:
            into = by_kind[group.kind]
            into["count"] += group.count
            into["total_ms"] += group.total
        for figures in by_kind.values():
            figures["total_ms"] = round(figures["total_ms"], 3)
        ranked = [g for g in groups if g.text != OTHER and g.count]
        timed = [g for g in ranked if g.timed]
        count = sum(g.count for g in groups)
        untimed = sum(g.untimed for g in groups)
        return {
            "count": count,
            "timed": count - untimed,
            "untimed": untimed,
            "total_ms": round(sum(g.total for g in groups), 3),
            "distinct": len(self.queries.groups) + self.queries.folded,
            "folded": self.queries.folded,
            "by_kind": by_kind,
            "top_by_total_time": [self._query_row(g) for g in sorted(timed, key=lambda g: -g.total)[:TOP]],
            "top_by_count": [self._query_row(g) for g in sorted(ranked, key=lambda g: -g.count)[:TOP]],
            "top_by_mean": [self._query_row(g) for g in sorted(timed, key=lambda g: -g.total / g.timed)[:TOP]],
        }

    def _query_row(self, group: QueryGroup) -> dict[str, Any]:
        timed = group.timed
        return {
            "query": self._text(group.text),
            "kind": group.kind,
            "count": group.count,
            "total_ms": round(group.total, 3),
            "mean_ms": round(group.total / timed, 3) if timed else None,
            "min_ms": round(group.min, 3) if timed else None,
            "max_ms": round(group.max, 3) if timed else None,
            "untimed": group.untimed,
        }

    def _text(self, text: str) -> str:
        text = redact(text, self.redact_mode)
        return text if len(text) <= MAX_QUERY_TEXT else text[: MAX_QUERY_TEXT - 1] + "…"

    def _temp_result(self) -> dict[str, Any]:
        groups = [g for g in self._all_groups() if g.temp_files]
        ranked = sorted(groups, key=lambda g: -g.temp_bytes)
        rows = [
            {"query": self._text(g.text), "count": g.temp_files, "bytes": g.temp_bytes, "max_bytes": g.temp_max}
            for g in ranked[:TOP]
        ]
        rest = ranked[TOP:]
        if rest:
            rows.append(
                {
                    "query": OTHER,
                    "count": sum(g.temp_files for g in rest),
                    "bytes": sum(g.temp_bytes for g in rest),
                    "max_bytes": max(g.temp_max for g in rest),
                }
            )
        return {"count": self.temp_files, "bytes": self.temp_bytes, "by_query": rows}

    def _autovacuum_result(self) -> dict[str, Any]:
        rows = sorted(
            self.autovacuum.rows.items(), key=lambda item: (-(item[1]["vacuums"] + item[1]["analyzes"]), item[0])
        )
        shown = [{"table": table, **_rounded(row)} for table, row in rows[:TOP] if table != OTHER]
        rest = [row for table, row in rows if table == OTHER] + [row for table, row in rows[TOP:] if table != OTHER]
        if rest:
            merged = {key: sum(row[key] for row in rest) for key in rest[0]}
            merged["max_seconds"] = max(row["max_seconds"] for row in rest)
            shown.append({"table": OTHER, **_rounded(merged)})
        return {"vacuums": self.vacuums, "analyzes": self.analyzes, "by_table": shown}


def _add_temp(group: QueryGroup, size: int) -> None:
    group.temp_files += 1
    group.temp_bytes += size
    if size > group.temp_max:
        group.temp_max = size


def _rounded(row: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) if isinstance(value, float) else value for key, value in row.items()}
