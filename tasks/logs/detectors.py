"""The analyzer: turns log entries into findings a DBA must know about.

Speed comes from doing almost nothing for the common entry. Each entry is classified by its
severity and the first characters of its message; a "duration:" line (most of a busy log)
costs a partition and a float(); only statements over the slow threshold are normalized; regexes
run only on the rare lines that matched a cheap prefix test. Memory is bounded: every table
of groups has a cap, and what does not fit is counted under "(other)".
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any

from tasks.logs import remedies
from tasks.logs.deadlocks import parse_deadlock
from tasks.logs.entry import MESSAGE, RAW_TIME, SAMPLE_LIMIT, SEVERITY, LogEntry, parse_log_time
from tasks.logs.findings import CATEGORIES, SEVERITIES, AnalysisResult, LogFinding
from tasks.logs.messages import CORRUPTION
from tasks.logs.normalize import normalize_query
from tasks.logs.redact import MODES as REDACT_MODES
from tasks.logs.redact import redact, redact_all
from tasks.logs.sqlstates import class_label, class_name, infer_sqlstate, sqlstate_label, sqlstate_name
from tasks.logs.workload import WorkloadReport
from tasks.timestamps import utc_iso

DEFAULTS: dict[str, float] = {
    "slow_query_ms": 1000,  # statements at least this slow are grouped and reported
    "max_slow_query_findings": 20,  # slowest groups (by total time) reported as findings
    "max_query_groups": 2000,  # distinct normalized slow statements kept
    "max_groups": 500,  # distinct keys per other table (SQLSTATEs, user/host pairs, tables)
    "max_messages_per_group": 10,  # top messages kept per SQLSTATE
    # WAL-triggered checkpoints closer than this are too frequent, when the log holds no warning
    # of PostgreSQL's own; the server source uses the server's checkpoint_warning instead.
    "checkpoint_warning_seconds": 30,
    "autovacuum_slow_seconds": 60,
    "auth_failure_critical_count": 100,  # more failures than this from one user/host: critical
    "temp_file_warning_bytes": 1 << 30,  # temp files totalling this much: warning, else info
}

OTHER = "(other)"
_MIXED = "\x00mixed"  # a group whose entries came from several databases / users
_HOST_MEMORY = 10_000  # pids whose "connection received" host is remembered

_LOCK_WAIT = re.compile(r"process \d+ still waiting for (\S+) on (.+?) after ([\d.]+) ms")
_LOCK_ACQUIRED = re.compile(r"process \d+ acquired \S+ on .+? after ([\d.]+) ms")
_AUTH_FAILED = re.compile(r'(\w+) authentication failed for user "(.*?)"')
_HBA = re.compile(r'(?:no pg_hba\.conf entry|pg_hba\.conf rejects connection) for host "(.*?)", user "(.*?)"')
_ROLE_MISSING = re.compile(r'role "(.*?)" does not exist')
_CRASH = re.compile(
    r"(.+?) \(PID \d+\) (?:was terminated by signal (\d+)|was terminated by exception|exited with exit code (\d+))"
)
_TABLE = re.compile(r'of (?:table|relation) "([^"]+)"')
_MEMORY_CONTEXT = re.compile(r'in memory context "([^"]+)"')
_CHECKPOINT_GAP = re.compile(r"\((\d+) seconds? apart\)")
_MANUAL_CHECKPOINT = ("immediate", "shutdown", "end-of-recovery", "force")

_SLOT_STARTS = ("sorry, too many clients already", "remaining connection slots are reserved")


def _config(config: dict[str, Any] | None) -> dict[str, float]:
    merged = dict(DEFAULTS)
    for key, value in (config or {}).items():
        if key not in DEFAULTS:
            continue  # the task config also holds the source, the format, etc.
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"log analysis setting {key!r} must be a number >= 0, got {value!r}")
        merged[key] = value
    return merged


class _Group:
    """Occurrences of one problem: count, first/last time, a sample, the database and user."""

    __slots__ = ("count", "first", "last", "sample", "database", "user", "total", "max", "extra")

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = None
        self.sample: LogEntry | None = None
        self.database = self.user = None
        self.total = 0.0  # milliseconds, bytes, seconds: what the category adds up
        self.max = 0.0
        self.extra: dict[str, int] | None = None  # bounded counts (top messages, signals...)

    def add(self, entry: LogEntry, value: float = 0.0) -> None:
        if self.count == 0:
            self.first, self.sample = entry.raw_time, entry
            self.database, self.user = entry.database, entry.user
        else:
            if self.database != entry.database:
                self.database = _MIXED
            if self.user != entry.user:
                self.user = _MIXED
        self.count += 1
        self.last = entry.raw_time
        self.total += value
        if value > self.max:
            self.max = value
            if self.count > 1:
                self.sample = entry  # the worst occurrence is the most useful sample

    def tally(self, key: str, cap: int) -> None:
        extra = self.extra
        if extra is None:
            extra = self.extra = {}
        if key not in extra and len(extra) >= cap:
            key = OTHER
        extra[key] = extra.get(key, 0) + 1


class _Table:
    """Groups by key, at most `cap` of them; later keys are counted under OTHER."""

    __slots__ = ("groups", "cap", "other")

    def __init__(self, cap: int, other: Any = OTHER) -> None:
        self.groups: dict[Any, _Group] = {}
        self.cap = cap
        self.other = other  # the key of the overflow group (same shape as the other keys)

    def get(self, key: Any) -> _Group:
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= self.cap:
                key = self.other
                group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _Group()
        return group

    def total_count(self) -> int:
        return sum(g.count for g in self.groups.values())


class LogAnalyzer:
    """Feed entries with `add` (or `add_all`), then `finish()` for the findings and summary."""

    def __init__(self, config: dict[str, Any] | None = None, redact: str = "passwords") -> None:
        if redact not in REDACT_MODES:
            raise ValueError(f"log analysis setting 'redact' must be one of {', '.join(REDACT_MODES)}, got {redact!r}")
        self.redact = redact  # what findings mask of the log's text (tasks.logs.redact)
        self.config = cfg = _config(config)
        self.slow_ms = float(cfg["slow_query_ms"])
        groups = int(cfg["max_groups"])
        self.entries = 0
        self.first_time: str | None = None
        self.last_time: str | None = None
        # totals
        self.queries = 0
        self.query_ms = 0.0
        self.errors = 0
        self.warnings = 0
        self.errors_by_severity: dict[str, int] = {}
        self.errors_by_class: dict[str, int] = {}
        self.errors_by_sqlstate: dict[str, int] = {}  # at most max_groups codes, then OTHER
        self.checkpoints = 0
        self.checkpoints_complete = 0
        self.connections = 0
        self.autovacuums = 0
        self.temp_files = 0
        self.temp_bytes = 0
        # groups
        self.slow = _Table(int(cfg["max_query_groups"]))
        self.errors_by_state = _Table(
            groups, ("ERROR", OTHER)
        )  # (severity, sqlstate) -> group, for errors without a category
        self.panics = _Table(groups)
        self.deadlocks = _Group()
        self.deadlock_kinds = _Table(groups)  # relations involved -> deadlocks
        self._deadlock_info: dict[str, dict[str, Any]] = {}  # relations -> locks, OIDs, statements
        self.lock_waits = _Group()
        self.temp = _Table(groups)  # statement -> temp files
        self.checkpoint_frequent = _Group()
        self.checkpoint_pg_warnings = _Group()
        self.auth = _Table(groups, (OTHER, OTHER))  # (user, host) -> failures
        self.slots = _Table(groups)  # message -> refused connections
        self.oom = _Group()
        self.fork_failures = 0  # "could not fork ...: Cannot allocate memory", counted in oom too
        self.crashes = _Group()
        self.recoveries = _Group()  # crash recoveries at startup (the crash itself may not be logged)
        self.corruption = _Table(groups)  # message start -> occurrences
        self.wraparound = _Table(groups)  # database -> warnings
        self.autovacuum_cancelled = _Table(groups)  # table -> cancels
        self.autovacuum_slow = _Table(groups, ("vacuum", OTHER))  # table -> slow runs
        self.statement_timeouts = _Table(groups)  # normalized statement -> timeouts
        self.lock_timeouts = _Table(groups)
        self._hosts: dict[str, str] = {}  # pid -> client host, from "connection received"
        self._last_checkpoint = None
        # The server's checkpoint settings (server source), reported by the checkpoint finding.
        self.server_settings: dict[str, Any] = {}
        # The workload report (tasks/logs/workload.py): on unless config workload_report is false.
        report = (config or {}).get("workload_report", True)
        if not isinstance(report, bool):
            raise ValueError(f"log analysis setting 'workload_report' must be true or false, got {report!r}")
        self.workload = WorkloadReport(lambda: (self.queries, self.query_ms), redact) if report else None

    def use_server_settings(self, settings: dict[str, Any], *, threshold_from_config: bool = False) -> None:
        """The server's own checkpoint settings (checkpoint_warning_seconds, max_wal_size, ...),
        read through the connection: its checkpoint_warning replaces the default threshold
        unless the task's config sets one."""
        self.server_settings = dict(settings)
        warning = settings.get("checkpoint_warning_seconds")
        if warning is not None and not threshold_from_config:
            self.config["checkpoint_warning_seconds"] = warning

    # --- feeding ---------------------------------------------------------------------------

    def add_all(self, entries: Iterable[LogEntry]) -> None:
        """Account for entries (with the workload report, one hour of them at a time)."""
        entries = entries if isinstance(entries, list) else list(entries)  # parsers give lists
        if self.workload is None:
            self._add_all(entries)
            return
        for run in self.workload.hours.split(entries):
            self._add_all(run)
        self.workload.flush()

    def _add_all(self, entries: list[LogEntry]) -> None:
        """Account for entries. The hot loop: the dispatch and the "duration:" lines (most of a
        busy log) are inlined, every name it uses is a local, and the query totals add up in
        locals until the loop ends."""
        log = self._log
        error = self._error
        warning = self._warning
        slow_ms = self.slow_ms
        workload = self.workload
        if workload is not None:
            batch_text, batch_ms = workload.texts.append, workload.durations.append
        if not entries:
            return
        if self.first_time is None:
            self.first_time = entries[0][RAW_TIME]
        queries = 0
        query_ms = 0.0
        for entry in entries:
            severity = entry[SEVERITY]
            if severity == "LOG":
                message = entry[MESSAGE]
                if message[:10] != "duration: ":
                    log(entry, message)
                    continue
                # "duration: 12.345 ms  statement: SELECT ..." (most of a busy log): one partition
                # cuts the time from the statement. When " ms" does not occur before the
                # separator, the general case below would find the same time and statement.
                head, found, text = message.partition(" ms  statement: ")
                if found and " ms" not in head:
                    try:
                        ms = float(head[10:])
                    except ValueError:
                        continue
                else:
                    # "...  execute <name>: ..." / bare "duration: 1.2 ms" (log_duration: the
                    # statement was logged before it)
                    end = message.find(" ms", 10)
                    if end < 0:
                        continue
                    try:
                        ms = float(message[10:end])
                    except ValueError:
                        continue
                    at = end + 5
                    if message.startswith("statement: ", at):
                        at += 11
                    elif message.startswith("execute ", at):
                        at = message.find(": ", at) + 2
                    elif len(message) > at:
                        continue  # parse / bind steps of the extended protocol are not queries
                    text = message[at:]
                queries += 1
                query_ms += ms
                if workload is not None:
                    if text and not workload.pairing:
                        batch_text(text)  # grouped by workload.flush(), a batch at a time
                        batch_ms(ms)
                    else:
                        workload.query(entry, ms, text)
                if ms >= slow_ms and text:
                    self.slow.get(normalize_query(text)).add(entry, ms)
            elif severity == "ERROR" or severity == "FATAL" or severity == "PANIC":
                error(entry, severity, entry[MESSAGE])
            elif severity == "WARNING":
                warning(entry, entry[MESSAGE])
        self.queries += queries
        self.query_ms += query_ms
        self.last_time = entries[-1][RAW_TIME]
        self.entries += len(entries)

    def _log(self, entry: LogEntry, message: str) -> None:
        if self.workload is not None:
            self.workload.log(entry, message)
        first = message[:1]
        if first == "c":
            if message.startswith("connection received: host="):
                self.connections += 1
                if not entry.client:
                    self._remember_host(entry, message[26:].split(" ", 1)[0])
            elif message.startswith("checkpoint starting: "):
                self._checkpoint(entry, message[21:])
            elif message.startswith("checkpoint complete"):
                self.checkpoints_complete += 1
            elif message.startswith("checkpoints are occurring too frequently"):
                m = _CHECKPOINT_GAP.search(message)
                self.checkpoint_pg_warnings.add(entry, float(m.group(1)) if m else 0.0)
            elif message.startswith("could not fork") and "allocate memory" in message:
                self.oom.add(entry)
                self.fork_failures += 1
        elif first == "t":
            if message.startswith("temporary file: "):
                size = message.rsplit(" ", 1)[-1]
                size = int(size) if size.isdigit() else 0
                self.temp_files += 1
                self.temp_bytes += size
                statement = entry.statement
                self.temp.get(normalize_query(statement) if statement else "").add(entry, size)
        elif first == "a":
            if message.startswith(("automatic vacuum", "automatic aggressive vacuum", "automatic analyze")):
                self._autovacuum(entry, message)
        elif first == "p":
            if message.startswith("process ") and " still waiting for " in message:
                m = _LOCK_WAIT.match(message)
                if m:
                    self.lock_waits.add(entry, float(m.group(3)))
                    self.lock_waits.tally(f"{m.group(1)} on {m.group(2).split(' ', 1)[0]}", 20)
            elif message.startswith("process ") and " acquired " in message:
                m = _LOCK_ACQUIRED.match(message)
                if m and self.lock_waits.count:
                    self.lock_waits.max = max(self.lock_waits.max, float(m.group(1)))
        elif first == "d":
            if message.startswith("database system was not properly shut down"):
                self.recoveries.add(entry)
        elif " (PID " in message:
            m = _CRASH.match(message)
            if m and (m.group(3) is None or m.group(3) not in ("0", "1")):
                self.crashes.add(entry)
                what = f"signal {m.group(2)}" if m.group(2) else ("exception" if m.group(3) is None else "exit code")
                self.crashes.tally(f"{m.group(1)}: {what}", 20)

    def _remember_host(self, entry: LogEntry, host: str) -> None:
        hosts = self._hosts
        if len(hosts) >= _HOST_MEMORY:
            del hosts[next(iter(hosts))]  # forget the oldest session
        hosts[entry.raw_pid or entry.session_id or ""] = host

    def _checkpoint(self, entry: LogEntry, reason: str) -> None:
        self.checkpoints += 1
        at = entry.timestamp
        if any(word in reason for word in _MANUAL_CHECKPOINT):
            self._last_checkpoint = at
            return
        previous, self._last_checkpoint = self._last_checkpoint, at
        # PostgreSQL warns about checkpoints forced by WAL volume only ("wal", "xlog" before 9.5):
        # a timed one comes checkpoint_timeout after the last, as configured.
        if "wal" not in reason and "xlog" not in reason:
            return
        if previous is not None and at is not None:
            try:
                gap = (at - previous).total_seconds()
            except TypeError:  # one naive, one aware: cannot compare
                return
            if gap < self.config["checkpoint_warning_seconds"]:
                self.checkpoint_frequent.add(entry, gap)
                self.checkpoint_frequent.tally(reason.split(" ", 1)[0], 10)

    def _autovacuum(self, entry: LogEntry, message: str) -> None:
        self.autovacuums += 1
        at = message.rfind("elapsed: ")
        if at < 0:
            return
        try:
            elapsed = float(message[at + 9 :].split(" ", 1)[0])
        except ValueError:
            return
        if elapsed >= self.config["autovacuum_slow_seconds"]:
            m = _TABLE.search(message)
            kind = "analyze" if message.startswith("automatic analyze") else "vacuum"
            self.autovacuum_slow.get((kind, m.group(1) if m else "?")).add(entry, elapsed)

    def _error(self, entry: LogEntry, severity: str, message: str) -> None:
        self.errors += 1
        self.errors_by_severity[severity] = self.errors_by_severity.get(severity, 0) + 1
        state = entry.sqlstate or infer_sqlstate(message)
        if self.workload is not None:
            self.workload.error(entry, severity, state, message)
        code_class = state[:2] if state else "??"
        self.errors_by_class[code_class] = self.errors_by_class.get(code_class, 0) + 1
        by_state = self.errors_by_sqlstate
        key = state or "unknown"
        if key not in by_state and len(by_state) >= self.errors_by_state.cap:
            key = OTHER
        by_state[key] = by_state.get(key, 0) + 1
        if severity == "PANIC":
            self.panics.get(message[:200]).add(entry)
        elif message.startswith("deadlock detected"):
            self.deadlocks.add(entry)
            self._deadlock(entry)
        elif message.startswith("canceling statement due to statement timeout"):
            self.statement_timeouts.get(_statement_key(entry)).add(entry)
        elif message.startswith("canceling statement due to lock timeout"):
            self.lock_timeouts.get(_statement_key(entry)).add(entry)
        elif message.startswith("canceling autovacuum task"):
            m = _TABLE.search(entry.context or "")
            self.autovacuum_cancelled.get(m.group(1) if m else "?").add(entry)
        elif message.startswith("out of memory"):
            self.oom.add(entry)
            m = _MEMORY_CONTEXT.search(entry.detail or "")
            if m:
                self.oom.tally(m.group(1), 20)
        elif message.startswith(_SLOT_STARTS) or message.startswith("too many connections for"):
            self.slots.get(message).add(entry)
        elif not self._auth_failure(entry, message):
            if message.startswith(CORRUPTION):
                self._corruption(entry, message)
            elif message.startswith("database is not accepting commands to avoid wraparound"):
                self.wraparound.get(_quoted_tail(message)).add(entry)
            else:
                group = self.errors_by_state.get((severity, state or "unknown"))
                group.add(entry)
                group.tally(message[:300], int(self.config["max_messages_per_group"]))

    def _deadlock(self, entry: LogEntry) -> None:
        found = parse_deadlock(entry.detail, entry.context, entry.statement)
        group = self.deadlock_kinds.get(found.key)
        group.add(entry)
        for lock in found.locks:
            group.tally(lock, 10)
        key = found.key if found.key in self.deadlock_kinds.groups else OTHER
        info = self._deadlock_info.setdefault(key, {"relations": [], "relation_oids": [], "statements": []})
        for name, values, cap in (
            ("relations", found.relations, 10),
            ("relation_oids", found.relation_oids, 10),
            ("statements", [normalize_query(s) for s in found.statements], 5),
        ):
            kept = info[name]
            for value in values:
                if len(kept) < cap and value not in kept:
                    kept.append(value)

    def _auth_failure(self, entry: LogEntry, message: str) -> bool:
        m = _AUTH_FAILED.match(message)
        if m:
            user, host, kind = m.group(2), None, m.group(1)
        else:
            m = _HBA.match(message)
            if m:
                host, user, kind = m.group(1), m.group(2), "pg_hba.conf"
            elif entry.severity == "FATAL" and (m := _ROLE_MISSING.match(message)):
                user, host, kind = m.group(1), None, "missing role"
            else:
                return False
        host = host or entry.client or self._hosts.get(entry.raw_pid or entry.session_id or "") or "?"
        group = self.auth.get((user, host))
        group.add(entry)
        group.tally(kind, 8)
        return True

    def _warning(self, entry: LogEntry, message: str) -> None:
        self.warnings += 1
        if self.workload is not None:
            self.workload.warning(entry)
        if message.startswith(CORRUPTION):
            self._corruption(entry, message)
        elif "must be vacuumed within" in message or message.startswith("oldest xmin is far in the past"):
            self.wraparound.get(_quoted_tail(message)).add(entry)

    def _corruption(self, entry: LogEntry, message: str) -> None:
        kind = next((s for s in CORRUPTION if message.startswith(s)), message[:40])
        self.corruption.get(kind).add(entry)

    # --- results ---------------------------------------------------------------------------

    def finish(self) -> AnalysisResult:
        """Findings (critical first, then by count) and the summary of everything read."""
        findings = _FindingBuilder(self).build()
        findings.sort(key=lambda f: (-SEVERITIES.index(f.severity), -f.count))
        categories: dict[str, int] = {}
        for f in findings:
            categories[f.category] = categories.get(f.category, 0) + f.count
        first, last = _time(self.first_time), _time(self.last_time)
        summary = {
            "analyzed_logs": self.entries,
            "issues_found": len(findings),
            "first_entry_at": utc_iso(first),
            "last_entry_at": utc_iso(last),
            "categories": categories,
            "findings_by_severity": {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES},
            "totals": {
                "queries": self.queries,
                "query_time_ms": round(self.query_ms, 3),
                "slow_queries": self.slow.total_count(),
                "errors": self.errors,
                "errors_by_severity": self.errors_by_severity,
                "errors_by_class": {class_label(code): n for code, n in self.errors_by_class.items()},
                "errors_by_sqlstate": {
                    (OTHER if state == OTHER else sqlstate_label(state)): n
                    for state, n in sorted(self.errors_by_sqlstate.items(), key=lambda item: -item[1])
                },
                "warnings": self.warnings,
                "deadlocks": self.deadlocks.count,
                "lock_waits": self.lock_waits.count,
                "auth_failures": self.auth.total_count(),
                "temp_files": self.temp_files,
                "temp_bytes": self.temp_bytes,
                "checkpoints": self.checkpoints or self.checkpoints_complete,
                "connections": self.connections,
                "autovacuums": self.autovacuums,
            },
        }
        workload = self.workload.result() if self.workload is not None else None
        return AnalysisResult(findings=findings, summary=summary, workload=workload)


def _statement_key(entry: LogEntry) -> str:
    return normalize_query(entry.statement) if entry.statement else "(statement not logged)"


def _quoted_tail(message: str) -> str:
    m = re.search(r'database "([^"]+)"|database with OID (\d+)', message)
    return (m.group(1) or f"OID {m.group(2)}") if m else "?"


def _time(raw: str | None):
    return parse_log_time(raw) if raw else None


class _FindingBuilder:
    """Turns the analyzer's groups into LogFindings (stored as Finding rows by the review)."""

    def __init__(self, analyzer: LogAnalyzer) -> None:
        self.a = analyzer
        self.cfg = analyzer.config
        self.out: list[LogFinding] = []

    def emit(
        self,
        group: _Group,
        severity: str,
        category: str,
        message: str,
        subject: str = "",
        *,
        remedy: str,
        **details: Any,
    ) -> None:
        """Add a finding, with what to do about it. Every text of it taken from the log
        (message, sample, remedy, details: statements, top messages, tables...) is redacted here,
        before anyone stores it."""
        if not group.count:
            return
        assert category in CATEGORIES, category
        mode = self.a.redact
        self.out.append(
            LogFinding(
                severity=severity,
                category=category,
                message=redact(message, mode),
                count=group.count,
                first_seen=_time(group.first),
                last_seen=_time(group.last),
                sample=_sample(group.sample, mode),
                database=None if group.database in (_MIXED, "", None) else group.database,
                user=None if group.user in (_MIXED, "", None) else group.user,
                details=redact_all({k: v for k, v in details.items() if v is not None}, mode),
                subject=redact(str(subject), mode),
                remedy=redact(remedy, mode),
            )
        )

    def build(self) -> list[LogFinding]:
        a = self.a
        self.slow_queries()
        for (severity, state), group in a.errors_by_state.groups.items():
            self.error_group(severity, state, group)
        for message, group in a.panics.groups.items():
            self.emit(group, "critical", "panic", f"PANIC: {message}", subject=message, remedy=remedies.panic(message))
        self.deadlocks()
        self.lock_waits()
        self.temp_files()
        self.checkpoints()
        self.auth_failures()
        for message, group in a.slots.groups.items():
            critical = message.startswith(_SLOT_STARTS)
            self.emit(
                group,
                "critical" if critical else "warning",
                "connection_slots",
                f"{group.count} connection(s) refused: {message}",
                subject=message,
                remedy=remedies.connection_slots(message),
            )
        self.emit(
            a.oom,
            "critical",
            "out_of_memory",
            f"{a.oom.count} out-of-memory error(s)",
            remedy=remedies.out_of_memory(a.oom.extra, a.fork_failures > 0),
            memory_contexts=a.oom.extra,
        )
        if a.crashes.count:
            self.emit(
                a.crashes,
                "critical",
                "crash",
                f"{a.crashes.count} server process crash(es): {', '.join(a.crashes.extra or {})}"
                + (
                    " (signal 9 is often the kernel's OOM killer)"
                    if any(c.endswith("signal 9") for c in a.crashes.extra or {})
                    else ""
                ),
                remedy=remedies.crash(a.crashes.extra, a.recoveries.count),
                causes=a.crashes.extra,
                recoveries=a.recoveries.count,
            )
        else:
            self.emit(
                a.recoveries,
                "critical",
                "crash",
                f"{a.recoveries.count} crash recovery(ies): the server was not shut down properly",
                remedy=remedies.crash(None, a.recoveries.count),
                recoveries=a.recoveries.count,
            )
        for kind, group in a.corruption.groups.items():
            self.emit(
                group,
                "critical",
                "data_corruption",
                f"{group.count} × {kind}: data corruption",
                subject=kind,
                remedy=remedies.data_corruption(group.sample.message if group.sample else ""),
            )
        for database, group in a.wraparound.groups.items():
            self.emit(
                group,
                "critical",
                "wraparound",
                f"transaction ID wraparound warning for database {database}: vacuum it now",
                subject=database,
                remedy=remedies.wraparound(database),
            )
        for table, group in a.autovacuum_cancelled.groups.items():
            self.emit(
                group,
                "warning",
                "autovacuum_cancelled",
                f"autovacuum of {table} cancelled {group.count} time(s) by conflicting locks",
                subject=table,
                remedy=remedies.autovacuum_cancelled(table),
                table=table,
            )
        for (kind, table), group in a.autovacuum_slow.groups.items():
            self.emit(
                group,
                "warning",
                "autovacuum_slow",
                f"automatic {kind} of {table} took up to {group.max:.0f} s",
                subject=f"{table} ({kind})",
                remedy=remedies.autovacuum_slow(table, kind),
                table=table,
                max_seconds=group.max,
                total_seconds=round(group.total, 2),
                threshold_seconds=self.cfg["autovacuum_slow_seconds"],
            )
        for category, table, remedy in (
            ("statement_timeout", a.statement_timeouts, remedies.STATEMENT_TIMEOUT),
            ("lock_timeout", a.lock_timeouts, remedies.LOCK_TIMEOUT),
        ):
            for query, group in table.groups.items():
                what = "statement timeout" if category == "statement_timeout" else "lock timeout"
                message = f"{group.count} statement(s) cancelled by {what}"
                self.emit(group, "warning", category, message, subject=query, remedy=remedy, query=query)
        return self.out

    def slow_queries(self) -> None:
        a = self.a
        ranked = sorted(a.slow.groups.items(), key=lambda item: -item[1].total)
        for query, group in ranked[: int(self.cfg["max_slow_query_findings"])]:
            self.emit(
                group,
                "warning",
                "slow_query",
                f"slow query ran {group.count} time(s), {group.total / group.count:.0f} ms on average: {query[:120]}",
                subject=query,
                remedy=remedies.SLOW_QUERY,
                query=query,
                count=group.count,
                total_ms=round(group.total, 3),
                mean_ms=round(group.total / group.count, 3),
                max_ms=round(group.max, 3),
                threshold_ms=self.cfg["slow_query_ms"],
            )

    def error_group(self, severity: str, state: str, group: _Group) -> None:
        code_class = state[:2]
        if code_class in ("53", "58", "XX"):
            level = "critical"
        elif code_class in ("57", "08"):
            level = "info"  # shutdowns, cancels, clients going away
        else:
            level = "warning"
        top = sorted((group.extra or {}).items(), key=lambda item: -item[1])
        category = "fatal" if severity == "FATAL" else "error"
        self.emit(
            group,
            level,
            category,
            f"{group.count} {severity}: {sqlstate_label(state)}: {top[0][0][:120] if top else ''}",
            subject=state,
            remedy=remedies.sqlstate(state),
            sqlstate=state,
            sqlstate_name=sqlstate_name(state),
            sqlstate_class=code_class,
            class_name=class_name(state),
            top_messages=[{"message": m, "count": c} for m, c in top[:5]],
        )

    def deadlocks(self) -> None:
        a = self.a
        for key, group in a.deadlock_kinds.groups.items():
            info = a._deadlock_info.get(key, {})
            relations, oids = info.get("relations", []), info.get("relation_oids", [])
            on = f" on {', '.join(relations)}" if relations else ""
            self.emit(
                group,
                "warning",
                "deadlock",
                f"{group.count} deadlock(s){on}: transactions were rolled back",
                subject=key,
                remedy=remedies.deadlock(relations, oids),
                relations=relations,
                relation_oids=[f"relation {rel} of database {db}" for rel, db in oids],
                locks=group.extra,
                statements=info.get("statements", []),
            )

    def lock_waits(self) -> None:
        g = self.a.lock_waits
        self.emit(
            g,
            "warning",
            "lock_wait",
            f"{g.count} lock wait(s) longer than deadlock_timeout, up to {g.max:.0f} ms",
            remedy=remedies.LOCK_WAIT,
            max_wait_ms=round(g.max, 3),
            by_lock=g.extra,
        )

    def temp_files(self) -> None:
        a = self.a
        if not a.temp_files:
            return
        ranked = sorted(a.temp.groups.items(), key=lambda item: -item[1].total)
        merged = _Group()
        for _, group in ranked:
            merged.count += group.count
            merged.first = min(filter(None, (merged.first, group.first)), default=None)
            merged.last = max(filter(None, (merged.last, group.last)), default=None)
            merged.max = max(merged.max, group.max)
        top = ranked[0][1]
        merged.sample, merged.database, merged.user = top.sample, top.database, top.user
        if len(ranked) > 1:
            merged.database = merged.user = _MIXED if len({g.database for _, g in ranked}) > 1 else top.database
        severity = "warning" if a.temp_bytes >= self.cfg["temp_file_warning_bytes"] else "info"
        self.emit(
            merged,
            severity,
            "temp_file",
            f"{a.temp_files} temporary file(s), {_size(a.temp_bytes)} in total: raise work_mem for the top statements",
            remedy=remedies.temp_file(_size(merged.max)),
            total_bytes=a.temp_bytes,
            max_bytes=int(merged.max),
            top_statements=[
                {"query": q or "(statement not logged)", "count": g.count, "bytes": int(g.total)} for q, g in ranked[:5]
            ],
        )

    def checkpoints(self) -> None:
        """PostgreSQL's own warnings ("checkpoints are occurring too frequently") are counted
        when the log holds any; otherwise the WAL-triggered checkpoints closer than the
        threshold to the previous one (a log without the warnings, a stricter threshold)."""
        a = self.a
        seconds = self.cfg["checkpoint_warning_seconds"]
        warned = a.checkpoint_pg_warnings
        group = warned if warned.count else a.checkpoint_frequent
        if not group.count:
            return
        mean_gap = group.total / group.count
        if warned.count:
            message = (
                f"PostgreSQL warned {warned.count} time(s) that checkpoints are occurring too frequently "
                f"({mean_gap:.0f} s apart on average): raise max_wal_size"
            )
        else:
            message = (
                f"{group.count} checkpoint(s) forced by WAL less than {seconds:.0f} s after the previous one "
                f"({mean_gap:.0f} s apart on average): raise max_wal_size"
            )
        server = a.server_settings
        self.emit(
            group,
            "warning",
            "checkpoint_frequency",
            message,
            remedy=remedies.checkpoints(mean_gap, server),
            checkpoints=a.checkpoints or a.checkpoints_complete,
            too_frequent_warnings=warned.count,
            wal_checkpoints_closer_than_threshold=a.checkpoint_frequent.count,
            mean_seconds_apart=round(mean_gap, 1),
            threshold_seconds=seconds,
            max_wal_size=server.get("max_wal_size"),
            checkpoint_timeout=server.get("checkpoint_timeout"),
            checkpoint_warning=server.get("checkpoint_warning"),
        )

    def auth_failures(self) -> None:
        limit = self.cfg["auth_failure_critical_count"]
        for (user, host), group in self.a.auth.groups.items():
            self.emit(
                group,
                "critical" if group.count > limit else "warning",
                "auth_failure",
                f"{group.count} failed login(s) for user {user} from {host}",
                subject=f"{user}@{host}",
                remedy=remedies.auth_failure(group.extra, user, host),
                user=user,
                client=host,
            )
            if self.out[-1].user is None and user != OTHER:
                self.out[-1].user = user  # the user tried, even when the log line has no %u


def _sample(entry: LogEntry | None, mode: str) -> str:
    """The entry as logged, redacted whole (a literal cut short is masked to the end), then
    bounded to SAMPLE_LIMIT characters."""
    if entry is None:
        return ""
    text = redact(entry.text(limit=sys.maxsize), mode)
    return text if len(text) <= SAMPLE_LIMIT else text[: SAMPLE_LIMIT - 1] + "…"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
