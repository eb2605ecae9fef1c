"""The `file` source: globs, .gz files, bounded chunks and incremental offsets."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from tasks.logs import files
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


def test_max_bytes_bounds_a_read_and_the_next_read_goes_on_where_it_stopped(tmp_path):
    old, new = tmp_path / "postgresql-1.log", tmp_path / "postgresql-2.log"
    old.write_bytes(b"".join(line(n) for n in range(10)))
    new.write_bytes(b"".join(line(n) for n in range(10, 15)))
    os.utime(old, (1, 1))
    pattern, budget = str(tmp_path / "postgresql-*"), 4 * len(line(1)) + 10
    offsets: dict[str, int] = {}
    reads = []
    while not reads or reads[-1].more_to_read:
        reads.append(analyze_files(pattern, "stderr", PREFIX, LogAnalyzer(), offsets=offsets, max_bytes=budget))
        offsets = reads[-1].offsets
        assert len(reads) < 10

    # A read cut mid-file leaves its last entry (it may have more lines) to the next read.
    assert reads[0].offsets == {str(old): 3 * len(line(1))} and reads[0].more_to_read
    assert sum(r.entries for r in reads) == 15 and all(r.bytes_read <= budget for r in reads)
    assert offsets == {str(old): old.stat().st_size, str(new): new.stat().st_size}


def test_a_gz_counts_the_bytes_it_expands_to_and_stops(tmp_path, monkeypatch):
    bomb = tmp_path / "postgresql-1.log.gz"
    with gzip.open(bomb, "wb") as fh:
        for _ in range(32):
            fh.write(line(1) * (1024 * 1024 // len(line(1))))  # 32 MB of lines, a few KB on disk
    expanded = 0
    read_chunks = files.read_chunks

    def counting(*args, **kwargs):
        nonlocal expanded
        for chunk in read_chunks(*args, **kwargs):
            expanded += len(chunk)
            yield chunk

    monkeypatch.setattr(files, "read_chunks", counting)
    read = analyze_files(str(bomb), "stderr", PREFIX, LogAnalyzer(), max_bytes=1024 * 1024)

    assert bomb.stat().st_size < 200_000
    assert expanded <= 1024 * 1024 and 0 < read.bytes_read <= 1024 * 1024
    assert read.more_to_read and read.offsets[str(bomb)] == read.bytes_read


def test_a_gz_of_one_endless_line_is_bounded_too_and_runs_move_on(tmp_path):
    bomb = tmp_path / "postgresql.log.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(line(1))
        for _ in range(64):
            fh.write(b"\0" * (1024 * 1024))  # then 64 MB without a newline
    offsets: dict[str, int] = {}
    for _ in range(2):
        read = analyze_files(str(bomb), "stderr", PREFIX, LogAnalyzer(), offsets=offsets, max_bytes=4 << 20)
        assert read.more_to_read and read.truncated_lines == 1
        assert read.offsets[str(bomb)] == offsets.get(str(bomb), 0) + (4 << 20)  # on by the budget
        offsets = read.offsets
