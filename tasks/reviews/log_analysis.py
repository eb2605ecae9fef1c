"""Task type `log_analysis`: read a database's server log and report what a DBA must know.

Sources (task config `source`): `server` (default) reads the log through the connection with
pg_ls_logdir() / pg_read_binary_file(); `file` reads a path or glob on the worker host, inside
the directories of settings.LOG_FILE_ROOTS only (refused when the task is saved and again at
run time). Both are incremental: a run starts where the last completed run of the task
stopped, and read at most max_bytes_per_run (for a .gz, the bytes it expands to).

Config: source, path (file), format (auto | stderr | csvlog | jsonlog: auto is detected from
each file's first lines with the file source), log_line_prefix (file + stderr; empty: detected
among the common ones; the server source reads it from the server), lc_messages (file; the
server source reads it from the server; empty: detected from the log), max_bytes_per_run, redact
(passwords | parameters: what findings mask of the log, tasks.logs.redact), workload_report
(true by default: the result's `workload`, tasks.logs.workload, covering what this run read),
and the detector thresholds of tasks.logs.detectors.DEFAULTS (slow_query_ms, ...).
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
from tasks.logs.detectors import DEFAULTS, LogAnalyzer
from tasks.logs.files import OutsideLogRoots, UnreadableLog, analyze_files, check_roots, sample_log
from tasks.logs.findings import CATEGORIES
from tasks.logs.gc_pause import paused_gc
from tasks.logs.language import ENGLISH, SAMPLE_BYTES, Language, check_lc_messages, detect_language, load_language
from tasks.logs.parser import finish_read, make_parser
from tasks.logs.prefix import LogFormatError, compile_prefix
from tasks.logs.redact import MODES as REDACT_MODES
from tasks.models import LogCursor
from tasks.reviews import log_server
from tasks.reviews.log_cursor import release_cursor, save_positions, take_cursor
from tasks.reviews.review import ConfigSchema, Option, Review, ReviewFailed
from tasks.timestamps import json_times

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
FORMATS = ("auto", "stderr", "csvlog", "jsonlog")
THRESHOLDS = set(DEFAULTS)
# Every run reads the log for every kind of problem, in every database: what it no longer
# sees is resolved (by category and subject; the database a log finding names may vary).
LOOKS_AT = Coverage({None: set(CATEGORIES)})


def run(task, execution) -> dict[str, Any]:
    config = task.review_config()
    source = config["source"]
    thresholds = {key: value for key, value in config.items() if key in THRESHOLDS}
    analyzer = LogAnalyzer({**thresholds, "workload_report": config["workload_report"]}, redact=config["redact"])
    cursor = take_cursor(task, execution, source)
    try:
        if source == "file":
            read = _read_files(config, analyzer, cursor)
        else:
            read = _read_server(task, config, analyzer, cursor)
        outcome = analyzer.finish()
        with transaction.atomic():
            recorded = record_findings(execution, [_observed(finding) for finding in outcome.findings], LOOKS_AT)
            save_positions(cursor, execution, read["positions"])
    finally:
        release_cursor(cursor, execution)
    result = dict(outcome.summary)
    result.update(
        issues_found=len(outcome.findings),
        opened=recorded.opened,
        resolved=recorded.resolved,
        bytes_read=read["bytes_read"],
        source=source,
        format=read["format"],
        lc_messages=read["language"].lc_messages,
        language=read["language"].code,
        files=read["files"][-20:],
        more_to_read=read.get("more_to_read", False),
        truncated_lines=read["truncated_lines"],
        truncated_bytes=read["truncated_bytes"],
    )
    if read.get("warnings"):
        result["warnings"] = read["warnings"]
    if read.get("log_line_prefix"):
        result["log_line_prefix"] = read["log_line_prefix"]  # detected
    if outcome.workload is not None:
        result["workload"] = outcome.workload
    return result


def log_file_roots() -> list[str]:
    """settings.LOG_FILE_ROOTS, read at call time (a list, or a ":"-separated string)."""
    roots = getattr(settings, "LOG_FILE_ROOTS", [])
    if isinstance(roots, str):
        roots = roots.split(":")
    return [str(root) for root in roots if root]


def log_locale_dirs() -> list[str] | None:
    """settings.LOG_LOCALE_DIRS: where PostgreSQL's message catalogs are (tasks.logs.language);
    None: its default."""
    dirs = getattr(settings, "LOG_LOCALE_DIRS", None)
    if isinstance(dirs, str):
        dirs = dirs.split(":")
    return [str(d) for d in dirs if d] if dirs is not None else None


def _check(config: dict[str, Any]) -> list[str]:
    """Rules across keys, checked when the task is saved and again before each run."""
    problems = []
    language_problem = check_lc_messages(config["lc_messages"])
    if language_problem:
        problems.append(language_problem)
    if config["source"] == "file" and not config["path"]:
        problems.append("the file source needs config path: a file or glob on the worker host")
    elif config["source"] == "file":
        try:
            check_roots(config["path"], log_file_roots())
        except OutsideLogRoots as exc:
            problems.append(f"path: {exc}")
    if config["source"] == "file" and config["format"] in ("auto", "stderr") and config["log_line_prefix"]:
        try:
            compile_prefix(config["log_line_prefix"])
        except LogFormatError as exc:
            problems.append(str(exc))
    return problems


CONFIG = ConfigSchema(
    Option("source", str, "server", choices=("server", "file"), help="Read the log through the connection, or files."),
    Option("path", str, "", help="file source: a file or glob on the worker host, plain or .gz, in LOG_FILE_ROOTS."),
    Option(
        "format",
        str,
        "auto",
        choices=FORMATS,
        help="auto = the most structured format the server writes; for files, told from their first lines.",
    ),
    Option(
        "log_line_prefix",
        str,
        "",
        help="file source, stderr format: the server's log_line_prefix (empty: detected among the common ones).",
    ),
    Option(
        "lc_messages",
        str,
        "",
        help="file source: the server's lc_messages (de_DE.UTF-8, C); empty: detected from the log.",
    ),
    Option("max_bytes_per_run", int, DEFAULT_MAX_BYTES, minimum=1, help="The rest is read by the next run."),
    Option(
        "redact",
        str,
        "passwords",
        choices=REDACT_MODES,
        help="What findings mask of the log: passwords (always), or parameters: bind parameter values too.",
    ),
    Option(
        "workload_report",
        bool,
        True,
        help="Add pgBadger's workload figures (queries, sessions, connections, checkpoints...) to the result.",
    ),
    *(Option(key, float, default, minimum=0, help="Detector threshold.") for key, default in DEFAULTS.items()),
    check=_check,
)

REVIEW = Review(name="log_analysis", label="Log analysis", config=CONFIG, run=run)


def _read_files(config: dict, analyzer: LogAnalyzer, cursor: LogCursor) -> dict:
    path = config["path"]
    fmt = config["format"]
    prefix = (config["log_line_prefix"] or None) if fmt in ("auto", "stderr") else None
    try:
        if prefix is not None:
            compile_prefix(prefix)
        language = _file_language(config)
        read = analyze_files(
            path,
            fmt,
            prefix,
            analyzer,
            offsets=dict(cursor.positions),
            roots=log_file_roots(),  # checked again here, before any file is opened
            max_bytes=config["max_bytes_per_run"],
            language=language,
        )
    except (OutsideLogRoots, FileNotFoundError, LogFormatError, UnreadableLog) as exc:
        raise ReviewFailed(str(exc)) from None
    except OSError as exc:
        # The reason only (permission denied, ...): never the exception's text, which may
        # quote what was read.
        raise ReviewFailed(f"cannot read {path!r}: {exc.strerror or type(exc).__name__}") from None
    formats = sorted(set(read.formats.values()))
    outcome = {
        "positions": read.offsets,
        "bytes_read": read.bytes_read,
        "files": read.files,
        # What the files were read as (with "auto", detected): one format, or each of them.
        "format": ", ".join(formats) or fmt,
        "more_to_read": read.more_to_read,
        "truncated_lines": read.truncated_lines,
        "truncated_bytes": read.truncated_bytes,
        "language": language,
        "warnings": [language.warning] if language.warning else [],
    }
    prefixes = sorted(set(read.prefixes.values()))
    if prefixes and not config["log_line_prefix"]:
        outcome["log_line_prefix"] = prefixes[0] if len(prefixes) == 1 else prefixes
    if len(formats) > 1:
        outcome["warnings"] += [
            f"the files of {path!r} are in several formats ({', '.join(formats)}): if they are the same server's "
            "log written twice (log_destination = 'stderr,csvlog'), every event is counted twice; narrow the glob"
        ]
    return outcome


def _file_language(config: dict) -> Language:
    """The language of the log files: as configured, or detected from the start of the first."""
    if config["lc_messages"]:
        return load_language(config["lc_messages"], None, log_locale_dirs())
    code = detect_language(sample_log(config["path"], log_file_roots()))
    return load_language(code, None, log_locale_dirs()) if code else ENGLISH


def _server_language(session, server, files, user) -> Language:
    """The language the server logs in: its lc_messages, or ('' leaves it to the server's
    environment) detected from the start of the first log file."""
    if server.messages_locale:
        return load_language(server.messages_locale, server.major, log_locale_dirs())
    first = next((f for f in files if f.size), None)
    if first is None:
        return ENGLISH
    sample = b"".join(
        log_server.read_chunks(session, server.directory, first.name, 0, min(first.size, SAMPLE_BYTES), user)
    )
    code = detect_language(sample)
    return load_language(code, server.major, log_locale_dirs()) if code else ENGLISH


def _read_server(task, config: dict, analyzer: LogAnalyzer, cursor: LogCursor) -> dict:
    connection = task.connection
    fmt, max_bytes = config["format"], config["max_bytes_per_run"]
    try:
        session = open_session(connection, statement_timeout_s=max(30, task.timeout_seconds))
    except CredentialsUnavailable as exc:
        raise ReviewFailed(str(exc)) from None
    except psycopg.Error as exc:
        raise ReviewFailed(one_line_error(exc)) from None
    with session:
        user = session.info.user
        try:
            server = log_server.read_settings(session, user)
            analyzer.use_server_settings(
                log_server.read_checkpoint_settings(session),
                threshold_from_config="checkpoint_warning_seconds" in (task.config or {}),
            )
            fmt = log_server.choose_format(server, fmt)
            prefix = server.prefix if fmt == "stderr" else None
            if prefix is not None:
                try:
                    compile_prefix(prefix)
                except LogFormatError as exc:
                    raise ReviewFailed(str(exc)) from None
            files = log_server.list_files(session, fmt, user)
            language = _server_language(session, server, files, user)
            return _read_server_files(session, server, fmt, prefix, files, analyzer, cursor, max_bytes, user, language)
        except psycopg.Error as exc:
            raise ReviewFailed(one_line_error(exc)) from None


@paused_gc  # the read allocates millions of short-lived objects, none in a cycle
def _read_server_files(session, server, fmt, prefix, files, analyzer, cursor, max_bytes, user, language) -> dict:
    """Read each file from its stored position, oldest first, up to max_bytes in all."""
    if not files:
        raise ReviewFailed(f"no {fmt} log files in the server's log_directory ({server.directory!r}) yet")
    known = cursor.positions
    positions: dict[str, dict] = {}
    bytes_read = truncated_lines = truncated_bytes = 0
    more = False
    read_names = []
    warnings = [language.warning] if language.warning else []
    for index, log_file in enumerate(files):
        start = int(known.get(log_file.name, {}).get("offset", 0))
        if log_file.size < start:
            warnings.append(f"{log_file.name} is shorter than when last read: truncated, read again from the start")
            start = 0
        budget = max_bytes - bytes_read
        end = min(log_file.size, start + budget)
        if end < log_file.size:
            more = True
        parser = make_parser(fmt, prefix, language)
        if end > start:
            read_names.append(log_file.name)
            for chunk in log_server.read_chunks(session, server.directory, log_file.name, start, end, user):
                analyzer.add_all(parser.feed(chunk))
        newest = index == len(files) - 1
        # A rotated-away file is complete; the newest may end mid-entry, and a budget-cut one
        # leaves its last entry to the next run.
        analyzer.add_all(finish_read(parser, complete=not newest, cut=end < log_file.size, moved_on=bytes_read > 0))
        positions[log_file.name] = {"offset": start + parser.consumed_bytes}
        bytes_read += parser.consumed_bytes
        truncated_lines += parser.truncated_lines
        truncated_bytes += parser.truncated_bytes
        if more:
            # Keep the positions of the files not reached yet; they are read next run.
            for later in files[index + 1 :]:
                if later.name in known:
                    positions[later.name] = known[later.name]
            break
    return {
        "positions": positions,
        "bytes_read": bytes_read,
        "files": read_names,
        "format": fmt,
        "more_to_read": more,
        "warnings": warnings,
        "language": language,
        "truncated_lines": truncated_lines,
        "truncated_bytes": truncated_bytes,
    }


def _observed(finding) -> Observed:
    return Observed(
        severity=finding.severity,
        category=finding.category,
        subject=finding.subject,
        message=finding.message,
        remedy=finding.remedy,
        count=finding.count,
        first_seen=finding.first_seen,
        last_seen=finding.last_seen,
        sample=finding.sample or "",
        database=finding.database or "",
        user=finding.user or "",
        details=json_times(finding.details),
    )
