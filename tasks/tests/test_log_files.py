"""The `file` source: globs, .gz files, bounded chunks and incremental offsets."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.files import analyze_files, expand_paths
from tasks.logs.parser import MAX_LINE_BYTES
from tasks.logs.prefix import LogFormatError

PREFIX = "%m [%p] %q%u@%d "
LOGS = Path(__file__).parent / "logs"


def line(n: int) -> bytes:
    return b"2024-05-01 12:00:%02d.000 UTC [7] u@d ERROR:  division by zero\n" % n


def test_it_reads_plain_and_gzipped_files_of_a_glob_oldest_first(tmp_path):
    old = tmp_path / "postgresql-1.log.gz"
    with gzip.open(old, "wb") as fh:
        fh.write(line(1) + line(2))
    new = tmp_path / "postgresql-2.log"
    new.write_bytes(line(3))
    os.utime(old, (1, 1))
    assert expand_paths(str(tmp_path / "postgresql-*")) == [old, new]
    analyzer = LogAnalyzer()
    read = analyze_files(str(tmp_path / "postgresql-*"), "stderr", PREFIX, analyzer, chunk_size=7)
    assert read.entries == 3 and analyzer.finish().summary["totals"]["errors"] == 3
    assert read.offsets == {str(old): len(line(1) + line(2)), str(new): len(line(3))}


def test_a_second_run_reads_only_what_was_appended(tmp_path):
    log = tmp_path / "postgresql.log"
    log.write_bytes(line(1) + line(2) + b"2024-05-01 12:00:03.000 UTC [7] u@d ERROR:  half writ")
    first = analyze_files(str(log), "stderr", PREFIX, LogAnalyzer())
    assert first.entries == 2
    with open(log, "ab") as fh:
        fh.write(b"ten\n" + line(4))
    analyzer = LogAnalyzer()
    second = analyze_files(str(log), "stderr", PREFIX, analyzer, offsets=first.offsets)
    assert second.entries == 2
    messages = [m["message"] for f in analyzer.finish().findings for m in f.details["top_messages"]]
    assert sorted(messages) == ["division by zero", "half written"]


def test_a_truncated_file_is_read_again_from_the_start(tmp_path):
    log = tmp_path / "postgresql.log"
    log.write_bytes(line(1) + line(2) + line(3))
    first = analyze_files(str(log), "stderr", PREFIX, LogAnalyzer())
    log.write_bytes(line(9))
    second = analyze_files(str(log), "stderr", PREFIX, LogAnalyzer(), offsets=first.offsets)
    assert second.entries == 1 and second.offsets[str(log)] == len(line(9))


def test_a_wrong_prefix_is_reported_instead_of_finding_nothing(tmp_path):
    with pytest.raises(LogFormatError, match="log_line_prefix"):
        analyze_files(str(LOGS / "pg15.log"), "stderr", "%t [%p]: [%l-1] ", LogAnalyzer())


def test_a_missing_file_is_reported_with_its_pattern(tmp_path):
    with pytest.raises(FileNotFoundError, match="no log file matches"):
        analyze_files(str(tmp_path / "*.log"), "stderr", PREFIX, LogAnalyzer())


def test_a_line_longer_than_the_parsers_cap_is_cut_and_counted(tmp_path):
    log = tmp_path / "postgresql.log"
    long_line = b"2024-05-01 12:00:00.000 UTC [7] u@d ERROR:  " + b"x" * (MAX_LINE_BYTES + 1000) + b"\n"
    log.write_bytes(line(1) + long_line + line(2))

    read = analyze_files(str(log), "stderr", PREFIX, LogAnalyzer())

    assert (
        read.entries == 3 and read.truncated_lines == 1 and read.truncated_bytes == len(long_line) - 1 - MAX_LINE_BYTES
    )
    assert read.offsets[str(log)] == log.stat().st_size
