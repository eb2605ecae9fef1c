"""Analyze log files from the command line; prints the result as JSON.

python -m tasks.logs /var/log/postgresql/postgresql-15-main.log*
python -m tasks.logs 'log/postgresql-*.csv' log/old.json.gz --config '{"slow_query_ms": 500}'
python -m tasks.logs /var/log/postgresql/*.log --format stderr --prefix '%m [%p] %q%u@%d '

Several paths and globs make one report. Files are read oldest first by modification time (then
name), whatever order they are given in, so rotated logs come before their successors. Each
file's format is told from its first lines (--format auto, the default) and the log_line_prefix
of a stderr log is found among the common ones unless --prefix gives it.

Exit status: 0 when the files were analyzed, 2 when a file is missing or unreadable, or does
not match the format or prefix (the message says which and what to use).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.files import UnreadableLog, analyze_files, sample_log
from tasks.logs.language import check_lc_messages, detect_language, load_language
from tasks.logs.parser import FORMATS
from tasks.logs.prefix import LogFormatError
from tasks.logs.redact import MODES as REDACT_MODES

FAILED = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tasks.logs",
        description=__doc__.split("\n")[0],
        epilog="Exit status: 0 analyzed; 2 a file missing or unreadable, or not in the format or prefix given.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files or globs (plain or .gz)")
    parser.add_argument(
        "--format", choices=("auto", *FORMATS), default="auto", help="auto (default): told from each file's content"
    )
    parser.add_argument(
        "--prefix", default=None, help="log_line_prefix of stderr logs (default: detected among the common ones)"
    )
    parser.add_argument("--config", default="{}", help="thresholds as JSON, e.g. '{\"slow_query_ms\": 500}'")
    parser.add_argument(
        "--redact", choices=REDACT_MODES, default="passwords", help="mask bind parameter values too (parameters)"
    )
    parser.add_argument(
        "--lc-messages",
        default="",
        help="the server's lc_messages (de_DE.UTF-8); default: detected from the log. Catalogs: LOG_LOCALE_DIRS",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        analyzer = LogAnalyzer(json.loads(args.config), redact=args.redact)
        language = _language(args.lc_messages, args.paths)
        read = analyze_files(
            args.paths,
            args.format,
            args.prefix if args.format in ("auto", "stderr") else None,
            analyzer,
            finished=True,
            language=language,
        )
    except (LogFormatError, FileNotFoundError, UnreadableLog, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILED
    except OSError as exc:
        print(f"error: cannot read {exc.filename!r}: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return FAILED
    formats = sorted(set(read.formats.values()))
    if len(formats) > 1:
        print(
            f"note: the files are in several formats ({', '.join(formats)}): if they are one server's log "
            "written twice (log_destination = 'stderr,csvlog'), every event is counted twice",
            file=sys.stderr,
        )
    result = analyzer.finish()
    output = result.as_dict()
    summary = output["summary"]
    summary["files"] = [{"path": path, "format": read.formats.get(path)} for path in read.files]
    if read.prefixes:
        summary["log_line_prefixes"] = sorted(set(read.prefixes.values()))
    summary["bytes_read"] = read.bytes_read
    summary["unparsed_lines"] = read.unparsed_lines
    summary["truncated_lines"] = read.truncated_lines
    summary["truncated_bytes"] = read.truncated_bytes
    summary["elapsed_seconds"] = round(time.perf_counter() - started, 3)
    summary["lc_messages"] = language.lc_messages
    if language.warning:
        summary["warnings"] = [language.warning]
    json.dump(output, sys.stdout, indent=2, default=str)
    print()
    return 0


def _language(lc_messages: str, paths: list[str]):
    """The log's language: --lc-messages, or detected from its start (LOG_LOCALE_DIRS: catalogs)."""
    problem = check_lc_messages(lc_messages)
    if problem:
        raise ValueError(problem)
    dirs = os.environ.get("LOG_LOCALE_DIRS") or None
    value = lc_messages or detect_language(sample_log(paths)) or "C"
    return load_language(value, None, dirs)


if __name__ == "__main__":
    sys.exit(main())
