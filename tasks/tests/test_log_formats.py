"""Format detection and format mismatch, on the real PostgreSQL 15 logs of tasks/tests/logs, and
reading several paths and globs as one log."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.files import analyze_files, expand_paths
from tasks.logs.formats import COMMON_PREFIXES, HEAD_BYTES, detect_format, detect_prefix, resolve
from tasks.logs.prefix import LogFormatError

LOGS = Path(__file__).parent / "logs"
SAMPLES = {"stderr": LOGS / "pg15.log", "csvlog": LOGS / "pg15.csv", "jsonlog": LOGS / "pg15.json"}


def head(path: Path) -> bytes:
    return path.read_bytes()[:HEAD_BYTES]


@pytest.mark.parametrize("fmt", SAMPLES)
def test_each_format_is_told_from_the_first_lines(fmt):
    assert detect_format(head(SAMPLES[fmt])) == fmt


def test_the_prefix_of_a_stderr_log_is_found_among_the_common_ones():
    assert detect_prefix(head(LOGS / "pg15.log")) == "%m [%p] %q%u@%d "
    assert detect_prefix(head(LOGS / "rare_events.log")) == "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
    assert detect_prefix(head(LOGS / "pg15.csv")) is None


def test_a_log_of_background_processes_only_gets_the_commonest_prefix_that_fits():
    # No session yet: "%m [%p] ", "%m [%p] %q%u@%d " and the other %q prefixes all match.
    lines = b"".join(line + b"\n" for line in head(LOGS / "pg15.log").split(b"\n")[:5])
    assert detect_prefix(lines) == "%m [%p] %q%u@%d "
    assert set(COMMON_PREFIXES) >= {"%m [%p] ", "%m [%p] %q%u@%d "}


@pytest.mark.parametrize(
    ("wrong", "actual"),
    [
        ("csvlog", "jsonlog"),
        ("jsonlog", "csvlog"),
        ("csvlog", "stderr"),
        ("jsonlog", "stderr"),
        ("stderr", "csvlog"),
        ("stderr", "jsonlog"),
    ],
)
def test_a_file_read_as_another_format_is_refused_with_the_format_it_looks_like(wrong, actual):
    analyzer = LogAnalyzer()
    with pytest.raises(LogFormatError) as refused:
        analyze_files(str(SAMPLES[actual]), wrong, "%m [%p] " if wrong == "stderr" else None, analyzer)
    message = str(refused.value)
    assert repr(str(SAMPLES[actual])) in message
    if actual == "stderr":
        assert "it looks like a stderr log: use format stderr (or auto)" in message
    else:
        assert f"it looks like {actual}: use format {actual} (or auto)" in message
    assert analyzer.entries == 0  # nothing bogus came out of it


def test_a_file_with_a_few_odd_lines_is_still_read():
    lines = head(LOGS / "pg15.log").split(b"\n")
    mixed = b"\n".join(lines[:20] + [b"could not open archive status directory", b"cp: cannot stat"] + lines[20:])
    assert resolve(mixed, "stderr", None, "x.log") == ("stderr", "%m [%p] %q%u@%d ")


def test_a_file_that_is_one_long_line_so_far_is_not_judged():
    start = b'{"timestamp":"2026-11-28 16:45:57.015 UTC","message":"' + b"x" * (HEAD_BYTES * 2)
    assert resolve(start[:HEAD_BYTES], "auto", None, "x.json") == ("jsonlog", None)


def test_auto_reads_each_file_in_its_own_format(tmp_path):
    for sample in SAMPLES.values():
        shutil.copy(sample, tmp_path / sample.name)
    analyzer = LogAnalyzer()

    read = analyze_files(str(tmp_path / "pg15.*"), "auto", None, analyzer, finished=True)

    assert read.formats == {str(tmp_path / p.name): fmt for fmt, p in SAMPLES.items()}
    assert read.prefixes == {str(tmp_path / "pg15.log"): "%m [%p] %q%u@%d "}
    assert read.unparsed_lines == 0
    assert analyzer.finish().summary["totals"]["deadlocks"] == 3  # one per format: the same session


def test_several_paths_and_globs_are_read_once_each_oldest_first(tmp_path):
    # logrotate's names: the newest file sorts first by name.
    lines = (LOGS / "pg15.log").read_bytes().split(b"\n2026-11-28 16:45:58.969 UTC [25953]", 1)
    (tmp_path / "postgresql.log.1").write_bytes(lines[0] + b"\n")
    (tmp_path / "postgresql.log").write_bytes(b"2026-11-28 16:45:58.969 UTC [25953]" + lines[1])
    os.utime(tmp_path / "postgresql.log.1", (1, 1))

    paths = expand_paths([str(tmp_path / "postgresql.log"), str(tmp_path / "postgresql.log*")])

    assert paths == [tmp_path / "postgresql.log.1", tmp_path / "postgresql.log"]
    whole, split = LogAnalyzer(), LogAnalyzer()
    analyze_files(str(LOGS / "pg15.log"), "stderr", None, whole, finished=True)
    read = analyze_files([str(p) for p in reversed(paths)], "auto", None, split, finished=True)
    assert read.files == [str(p) for p in paths]
    assert split.finish().summary == whole.finish().summary


def test_each_path_must_name_a_file(tmp_path):
    (tmp_path / "a.log").write_bytes(head(LOGS / "pg15.log"))
    with pytest.raises(FileNotFoundError, match=r"no log file matches '.*missing\*\.log'"):
        expand_paths([str(tmp_path / "a.log"), str(tmp_path / "missing*.log")])
