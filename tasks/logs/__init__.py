"""Log analysis core: parse PostgreSQL server logs and find what a DBA must know.

Pure Python, no Django: the `log_analysis` review, the `server` source (pg_read_file) and the
findings model call into it. Modules:

    prefix.py     compile_prefix(log_line_prefix: str) -> CompiledPrefix
                  raises LogFormatError (a ValueError) naming the setting to use when the prefix
                  has no time (%t/%m/%n) or no process id (%p/%c).
    parser.py     make_parser(fmt: "stderr" | "csvlog" | "jsonlog", prefix: str | None = None)
                      -> StderrParser | CsvlogParser | JsonlogParser
                  parser.feed(chunk: bytes) -> list[LogEntry]   entries the chunk completed
                  parser.close(partial: bool = False) -> list[LogEntry]
                      the rest; a last line without its newline is only parsed with partial=True
                      (a finished file), otherwise it stays unconsumed for the next run
                  parser.consumed_bytes: int   bytes fed whose entries were all returned — always
                      an entry boundary: store it, start the next incremental read there
                  parser.pending_bytes, parser.entries, parser.skipped_lines: int
                  parser.truncated_lines, parser.truncated_bytes: int   lines cut at
                      MAX_LINE_BYTES (256 KB; the rest up to the newline is skipped, never
                      buffered) or dropped past MAX_ENTRY_BYTES (1 MB) of a multi-line entry
    entry.py      LogEntry (a tuple): raw_time, raw_pid, session_id, raw_line_no, user, database,
                  client, application, severity, sqlstate, message, detail, hint, context,
                  statement, query; properties timestamp (datetime, tz-aware when the log names
                  a known zone), pid (int), line_no (int); text() renders it (bounded) for samples.
    detectors.py  LogAnalyzer(config: dict | None = None, redact: str = "passwords")
                  .add_all(entries: Iterable[LogEntry])
                  .finish() -> AnalysisResult
                  thresholds and bounds: detectors.DEFAULTS (unknown config keys are ignored,
                  bad values raise ValueError); config workload_report (bool, default true).
    workload.py   WorkloadReport: pgBadger's workload figures, fed by LogAnalyzer's hooks
                  (query / log / error / warning); .result() -> dict, AnalysisResult.workload.
    query_groups.py  QueryGroups.group(statement) -> QueryGroup: every statement into its
                  group (a key made in C, then normalize_query, then pglast's fingerprint).
    hourly.py     HourlyBuckets: the report's per-hour columns; split(entries) feeds the
                  analyzer one hour at a time.
    gc_pause.py   paused_gc: the cyclic garbage collector off while a log is read.
    findings.py   LogFinding(severity, category, message, count, first_seen, last_seen, sample,
                  database, user, details); AnalysisResult(findings: list[LogFinding], summary: dict,
                  workload: dict | None)
                  summary: analyzed_logs, issues_found, first_entry_at, last_entry_at,
                  categories {category: occurrences}, findings_by_severity, totals {queries,
                  query_time_ms, slow_queries, errors, errors_by_severity, errors_by_class,
                  warnings, deadlocks, lock_waits, auth_failures, temp_files, temp_bytes,
                  checkpoints, connections, autovacuums}. The caller adds bytes_read.
    files.py      the `file` source: analyze_files(pattern, fmt, prefix, analyzer, offsets=None,
                      *, roots=None, max_bytes=None)
                      -> FileReadResult(offsets, bytes_read, entries, unparsed_lines,
                                        truncated_lines, truncated_bytes, files, more_to_read)
                  raises FileNotFoundError (nothing matches), LogFormatError (no line parsed),
                  OutsideLogRoots (the pattern resolves outside `roots`: checked before any
                  file is opened) or UnreadableLog (a broken .gz; the message never quotes a
                  file). max_bytes bounds the bytes read, for a .gz the bytes it expands to.
    redact.py     redact(text, mode="passwords" | "parameters") -> str: passwords (and bind
                  parameter values) masked; LogAnalyzer(config, redact=mode) applies it to
                  every finding it builds.
    normalize.py  normalize_query(sql: str) -> str   literals and parameters become "?";
                  fingerprint(sql) -> str | None (pglast); statement_kind(normalized) -> KINDS
    sqlstates.py  infer_sqlstate(message) for stderr logs without %e; SQLSTATE class names.

Categories: error, fatal, panic, slow_query, deadlock, lock_wait, temp_file,
checkpoint_frequency, auth_failure, connection_slots, out_of_memory, crash, data_corruption,
wraparound, autovacuum_cancelled, autovacuum_slow, statement_timeout, lock_timeout.

Typical use:

    parser, analyzer = make_parser("stderr", "%m [%p] %q%u@%d "), LogAnalyzer({"slow_query_ms": 500})
    for chunk in chunks:
        analyzer.add_all(parser.feed(chunk))
    analyzer.add_all(parser.close())
    result = analyzer.finish()        # result.findings, result.summary
    next_offset = start + parser.consumed_bytes

Command line: `python -m tasks.logs PATH_OR_GLOB [--format stderr|csvlog|jsonlog] [--prefix P]
[--redact passwords|parameters]` (reads any path the caller may read: LOG_FILE_ROOTS bounds
the review's file source, not an operator's shell).
"""
