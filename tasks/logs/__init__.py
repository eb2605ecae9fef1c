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
                  .use_server_settings(settings): the server's checkpoint_warning, max_wal_size...
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
                  database, user, details, subject, remedy);
                  AnalysisResult(findings: list[LogFinding], summary: dict, workload: dict | None)
                  summary: analyzed_logs, issues_found, first_entry_at, last_entry_at,
                  categories {category: occurrences}, findings_by_severity, totals {queries,
                  query_time_ms, slow_queries, errors, errors_by_severity, errors_by_class,
                  errors_by_sqlstate (keys in plain words: "division by zero (22012)"), warnings, deadlocks, lock_waits, auth_failures, temp_files, temp_bytes,
                  checkpoints, connections, autovacuums}. The caller adds bytes_read.
    remedies.py   what to do about each finding: one function (or text) per category, and
                  sqlstate(code) for errors; the builder in detectors.py sets `remedy`.
    deadlocks.py  parse_deadlock(detail, context, statement) -> Deadlock(locks, relations,
                  relation_oids, statements): what a "deadlock detected" entry names.
    formats.py    detect_format(head) -> "stderr" | "csvlog" | "jsonlog"; detect_prefix(head);
                  resolve(head, fmt, prefix, name) -> (fmt, prefix), LogFormatError when the
                  file's first lines do not fit the format asked for.
    files.py      the `file` source: analyze_files(pattern_or_patterns, fmt ("auto" too),
                      prefix (None: detected), analyzer, offsets=None, *, roots=None,
                      max_bytes=None, finished=False)
                      -> FileReadResult(offsets, bytes_read, entries, unparsed_lines,
                                        truncated_lines, truncated_bytes, files, more_to_read,
                                        formats, prefixes)
                  files are read oldest first (modification time, then name);
                  raises FileNotFoundError (a pattern matches nothing), LogFormatError (the
                  format or prefix does not fit a file's first lines, or no line parsed),
                  OutsideLogRoots (the pattern resolves outside `roots`: checked before any
                  file is opened) or UnreadableLog (a broken .gz; the message never quotes a
                  file). max_bytes bounds the bytes read, for a .gz the bytes it expands to.
    redact.py     redact(text, mode="passwords" | "parameters") -> str: passwords (and bind
                  parameter values) masked; LogAnalyzer(config, redact=mode) applies it to
                  every finding it builds.
    language.py   load_language(lc_messages, major=None, dirs=None) -> Language: the log's language
                  from PostgreSQL's own catalog (postgres-NN.mo, polib); make_parser(..., language)
                  gives entries with English severities and messages. Without the catalog:
                  severities from language_words.py (generated by scripts/generate_language_words.py)
                  and Language.warning naming the fix. detect_language(sample) -> code | None.
    messages.py   the English messages (msgid starts) the analysis reads: the one list that a
                  translated log is rewritten to.
    rewrite.py    MessageRewriter: a catalog's translations of messages.py back to English
                  (positional arguments, plural forms, words and lock tags as arguments).
    normalize.py  normalize_query(sql: str) -> str   literals and parameters become "?";
                  fingerprint(sql) -> str | None (pglast); statement_kind(normalized) -> KINDS
    sqlstates.py  infer_sqlstate(message) for stderr logs without %e; sqlstate_label(code) ->
                  "database does not exist (3D000)", class_label, class_name.
    errcodes.py   every SQLSTATE's name, generated from PostgreSQL's errcodes.txt
                  (scripts/generate_errcodes.py).

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

Command line: `python -m tasks.logs PATH_OR_GLOB... [--format auto|stderr|csvlog|jsonlog]
[--prefix P] [--redact passwords|parameters] [--lc-messages de_DE.UTF-8]`: one report of all the files; exit status 2 when
a file is missing, unreadable or not in the format (reads any path the caller may read:
LOG_FILE_ROOTS bounds the review's file source, not an operator's shell).
"""
