"""The `file` source: log files on this host (a path or a glob, plain or .gz), read in chunks.

Reads are incremental: the caller passes the offsets the previous run returned (per file,
always at an entry boundary) and gets the new ones. A plain file smaller than its stored offset
was truncated or replaced, so it is read again from the start. Memory stays bounded by the
chunk size whatever the size of the files.
"""

from __future__ import annotations

import glob
import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.parser import make_parser
from tasks.logs.prefix import LogFormatError

CHUNK_SIZE = 1024 * 1024


@dataclass
class FileReadResult:
    """What a read covered: new offsets per file, bytes read, entries, unparsed lines, and
    the lines cut at the parser's caps (truncated_lines, truncated_bytes skipped)."""

    offsets: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    entries: int = 0
    unparsed_lines: int = 0
    truncated_lines: int = 0
    truncated_bytes: int = 0
    files: list[str] = field(default_factory=list)


def expand_paths(pattern: str) -> list[Path]:
    """The files `pattern` names, oldest first (so a rotated log is read before its successor)."""
    names = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]
    paths = [Path(name) for name in names if os.path.isfile(name)]
    if not paths:
        raise FileNotFoundError(f"no log file matches {pattern!r} on this host")
    return sorted(paths, key=lambda p: (p.stat().st_mtime, p.name))


def open_log(path: Path) -> BinaryIO:
    """A binary reader of `path`, decompressing .gz files."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def read_chunks(path: Path, offset: int = 0, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The bytes of `path` from `offset` (uncompressed offset for .gz), `chunk_size` at a time."""
    with open_log(path) as fh:
        if offset:
            fh.seek(offset)
        while chunk := fh.read(chunk_size):
            yield chunk


def analyze_files(
    pattern: str,
    fmt: str,
    prefix: str | None,
    analyzer: LogAnalyzer,
    offsets: dict[str, int] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> FileReadResult:
    """Feed every file `pattern` names to `analyzer`, each from its stored offset.

    The newest file may still be written to: its last, unterminated line is left for the next
    run. Older and compressed files are complete and read to the end.
    """
    offsets = offsets or {}
    paths = expand_paths(pattern)
    result = FileReadResult()
    for path in paths:
        key = str(path)
        start = offsets.get(key, 0)
        if path.suffix != ".gz" and path.stat().st_size < start:
            start = 0  # truncated or replaced since the last run
        parser = make_parser(fmt, prefix)
        for chunk in read_chunks(path, start, chunk_size):
            analyzer.add_all(parser.feed(chunk))
        finished = path != paths[-1] or path.suffix == ".gz"
        analyzer.add_all(parser.close(partial=finished))
        result.offsets[key] = start + parser.consumed_bytes
        result.bytes_read += parser.consumed_bytes
        result.entries += parser.entries
        result.unparsed_lines += parser.skipped_lines
        result.truncated_lines += parser.truncated_lines
        result.truncated_bytes += parser.truncated_bytes
        result.files.append(key)
    if result.entries == 0 and result.unparsed_lines:
        hint = f"log_line_prefix {prefix!r}" if fmt == "stderr" else f"format {fmt!r}"
        raise LogFormatError(
            f"none of the {result.unparsed_lines} lines read from {pattern!r} matches {hint}; "
            "check the format and the server's log_line_prefix (SHOW log_line_prefix)"
        )
    return result
