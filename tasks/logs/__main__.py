"""Analyze log files from the command line; prints the result as JSON.

python -m tasks.logs /var/log/postgresql/postgresql-15-main.log --prefix '%m [%p] %q%u@%d '
python -m tasks.logs 'log/postgresql-*.csv' --format csvlog --config '{"slow_query_ms": 500}'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.files import analyze_files, sample_log
from tasks.logs.language import check_lc_messages, detect_language, load_language
from tasks.logs.parser import FORMATS
from tasks.logs.prefix import SUGGESTED_PREFIX, LogFormatError
from tasks.logs.redact import MODES as REDACT_MODES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasks.logs", description=__doc__.split("\n")[0])
    parser.add_argument("path", help="a log file or a glob (plain or .gz)")
    parser.add_argument("--format", choices=FORMATS, default="stderr")
    parser.add_argument("--prefix", default=SUGGESTED_PREFIX, help="log_line_prefix, for stderr logs")
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
        language = _language(args.lc_messages, args.path)
        read = analyze_files(
            args.path, args.format, args.prefix if args.format == "stderr" else None, analyzer, language=language
        )
    except (LogFormatError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = analyzer.finish()
    output = result.as_dict()
    output["summary"]["bytes_read"] = read.bytes_read
    output["summary"]["unparsed_lines"] = read.unparsed_lines
    output["summary"]["truncated_lines"] = read.truncated_lines
    output["summary"]["truncated_bytes"] = read.truncated_bytes
    output["summary"]["elapsed_seconds"] = round(time.perf_counter() - started, 3)
    output["summary"]["lc_messages"] = language.lc_messages
    if language.warning:
        output["summary"]["warnings"] = [language.warning]
    json.dump(output, sys.stdout, indent=2, default=str)
    print()
    return 0


def _language(lc_messages: str, path: str):
    """The log's language: --lc-messages, or detected from its start (LOG_LOCALE_DIRS: catalogs)."""
    problem = check_lc_messages(lc_messages)
    if problem:
        raise ValueError(problem)
    dirs = os.environ.get("LOG_LOCALE_DIRS") or None
    value = lc_messages or detect_language(sample_log(path)) or "C"
    return load_language(value, None, dirs)


if __name__ == "__main__":
    sys.exit(main())
