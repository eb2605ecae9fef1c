"""Analyze log files from the command line; prints the result as JSON.

python -m tasks.logs /var/log/postgresql/postgresql-15-main.log --prefix '%m [%p] %q%u@%d '
python -m tasks.logs 'log/postgresql-*.csv' --format csvlog --config '{"slow_query_ms": 500}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.files import analyze_files
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
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        analyzer = LogAnalyzer(json.loads(args.config), redact=args.redact)
        read = analyze_files(args.path, args.format, args.prefix if args.format == "stderr" else None, analyzer)
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
    json.dump(output, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
