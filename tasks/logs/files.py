"""The `file` source: log files on this host (a path or a glob, plain or .gz), read in chunks.

Reads are incremental: the caller passes the offsets the previous run returned (per file,
always at an entry boundary) and gets the new ones. A plain file smaller than its stored offset
was truncated or replaced, so it is read again from the start. Memory stays bounded by the
chunk size whatever the size of the files.

What a read may cost is bounded too: `max_bytes` counts the bytes read (for a .gz, the bytes
it expands to), the rest is left for the next read (`more_to_read`). And with `roots` (the
review passes LOG_FILE_ROOTS) a path or glob that resolves outside those directories, after
following symlinks, is refused before any file is opened — with one message whether or not
the file exists.
"""

from __future__ import annotations

import glob
import gzip
import os
import stat
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.gc_pause import paused_gc
from tasks.logs.parser import finish_read, make_parser
from tasks.logs.prefix import LogFormatError

CHUNK_SIZE = 1024 * 1024


class OutsideLogRoots(Exception):
    """The path names files outside the allowed log directories (LOG_FILE_ROOTS)."""


class UnreadableLog(Exception):
    """A log file that cannot be read; the message names the file, never its content."""


@dataclass
class FileReadResult:
    """What a read covered: new offsets per file, bytes read, entries, unparsed lines, the
    lines cut at the parser's caps (truncated_lines, truncated_bytes skipped), and whether
    max_bytes left some for the next read (more_to_read)."""

    offsets: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    entries: int = 0
    unparsed_lines: int = 0
    truncated_lines: int = 0
    truncated_bytes: int = 0
    files: list[str] = field(default_factory=list)
    more_to_read: bool = False


# --- where files may be read ---------------------------------------------------------------


def outside_roots_message(roots: Sequence[str]) -> str:
    if not roots:
        return "the file source is disabled on this host: LOG_FILE_ROOTS is empty"
    return (
        f"the file source reads only the log directories in LOG_FILE_ROOTS ({':'.join(roots)}); "
        "path must name files inside them (symlinks are followed)"
    )


def _inside(path: str, roots: Sequence[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots)


def _base(pattern: str) -> str:
    """The directories of `pattern` before its first magic component (all of it if none)."""
    if not glob.has_magic(pattern):
        return pattern
    parts = pattern.split("/")
    for index, part in enumerate(parts):
        if glob.has_magic(part):
            return "/".join(parts[:index]) or ("/" if pattern.startswith("/") else ".")
    return pattern


def check_roots(pattern: str, roots: Sequence[str] | None) -> None:
    """Raise OutsideLogRoots unless every file `pattern` names (now or later, as far as can be
    told) lies inside `roots`: the glob's base directory, read literally and with symlinks
    followed, and each current match after following symlinks. None: no restriction."""
    if roots is None:
        return
    real_roots = [os.path.realpath(root) for root in roots if root]
    message = outside_roots_message(list(roots))
    if not real_roots:
        raise OutsideLogRoots(message)
    lexical = os.path.normpath(pattern)
    if not (_inside(_base(pattern), real_roots) and _inside(_base(lexical), real_roots)):
        raise OutsideLogRoots(message)
    if glob.has_magic(pattern):
        # Every name the glob lists, dangling symlinks included: which ones exist outside the
        # roots must not make a difference.
        if not all(_inside(name, real_roots) for name in glob.iglob(pattern)):
            raise OutsideLogRoots(message)


def expand_paths(pattern: str, roots: Sequence[str] | None = None) -> list[Path]:
    """The files `pattern` names, oldest first (so a rotated log is read before its successor).
    With `roots`, refuses (OutsideLogRoots) a pattern that resolves outside them."""
    check_roots(pattern, roots)
    names = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]
    paths = [Path(name) for name in names if os.path.isfile(name)]
    if not paths:
        raise FileNotFoundError(f"no log file matches {pattern!r} on this host")
    return sorted(paths, key=lambda p: (p.stat().st_mtime, p.name))


# --- reading --------------------------------------------------------------------------------


@contextmanager
def open_log(path: Path, roots: Sequence[str] | None = None) -> Iterator[BinaryIO]:
    """A binary reader of `path`, decompressing .gz files. With `roots`, the file opened (as
    the kernel names it once open) must be a regular file inside them."""
    if roots is None:
        raw: BinaryIO = open(path, "rb")
    else:
        fd = os.open(os.path.realpath(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            opened = os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else str(path)
            opened = opened.removesuffix(" (deleted)")  # rotated away meanwhile: still the same file
            real_roots = [os.path.realpath(root) for root in roots if root]
            if not stat.S_ISREG(os.fstat(fd).st_mode) or not _inside(opened, real_roots):
                raise OutsideLogRoots(outside_roots_message(list(roots)))
        except BaseException:
            os.close(fd)
            raise
        raw = os.fdopen(fd, "rb")
    with raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            yield raw


def read_chunks(
    fh: BinaryIO, offset: int = 0, limit: int | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """The bytes of open log `fh` from `offset` (uncompressed offset for .gz), `chunk_size` at
    a time, at most `limit` of them (the bytes a .gz expands to, not its size on disk)."""
    if offset:
        fh.seek(offset)
    left = limit
    while left is None or left > 0:
        chunk = fh.read(chunk_size if left is None else min(chunk_size, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def analyze_files(
    pattern: str,
    fmt: str,
    prefix: str | None,
    analyzer: LogAnalyzer,
    offsets: dict[str, int] | None = None,
    chunk_size: int = CHUNK_SIZE,
    *,
    roots: Sequence[str] | None = None,
    max_bytes: int | None = None,
) -> FileReadResult:
    """Feed every file `pattern` names to `analyzer`, each from its stored offset, oldest
    first, `max_bytes` in all at most (None: no bound); `roots`: see check_roots.

    The newest file may still be written to: its last, unterminated line is left for the next
    run. Older and compressed files are complete and read to the end. A file cut by max_bytes
    is continued by the next read (more_to_read), the offsets of the files not reached yet
    are kept.
    """
    offsets = offsets or {}
    paths = expand_paths(pattern, roots)
    result = FileReadResult()
    spent = 0  # bytes read (consumed or not): what max_bytes bounds
    from_start = False
    for index, path in enumerate(paths):
        key = str(path)
        left = None if max_bytes is None else max_bytes - spent
        if left is not None and left <= 0:
            # Nothing left for this file: the next read starts with it.
            result.more_to_read = True
            _keep_offsets(result, offsets, paths[index:])
            break
        start = offsets.get(key, 0)
        cut, start, read, parser = _read_file(path, start, left, fmt, prefix, analyzer, roots, chunk_size)
        complete = index < len(paths) - 1 or path.suffix == ".gz"
        analyzer.add_all(finish_read(parser, complete=complete, cut=cut, moved_on=result.bytes_read > 0))
        spent += read
        from_start = from_start or start == 0
        result.offsets[key] = start + parser.consumed_bytes
        result.bytes_read += parser.consumed_bytes
        result.entries += parser.entries
        result.unparsed_lines += parser.skipped_lines
        result.truncated_lines += parser.truncated_lines
        result.truncated_bytes += parser.truncated_bytes
        result.files.append(key)
        if cut:
            result.more_to_read = True
            _keep_offsets(result, offsets, paths[index + 1 :])
            break
    if result.entries == 0 and result.unparsed_lines and from_start:
        hint = f"log_line_prefix {prefix!r}" if fmt == "stderr" else f"format {fmt!r}"
        raise LogFormatError(
            f"none of the {result.unparsed_lines} lines read from {pattern!r} matches {hint}; "
            "check the format and the server's log_line_prefix (SHOW log_line_prefix)"
        )
    return result


@paused_gc  # the read allocates millions of short-lived objects, none in a cycle
def _read_file(path, start, left, fmt, prefix, analyzer, roots, chunk_size):
    """Feed `path` from `start`, at most `left` bytes (None: all) to a new parser.
    Returns (cut: bytes were left unread, start, bytes read, parser)."""
    parser = make_parser(fmt, prefix)
    read = 0
    try:
        with open_log(path, roots) as fh:
            if path.suffix != ".gz" and os.fstat(fh.fileno()).st_size < start:
                start = 0  # truncated or replaced since the last run
            for chunk in read_chunks(fh, start, left, chunk_size):
                read += len(chunk)
                analyzer.add_all(parser.feed(chunk))
            cut = left is not None and read >= left and fh.read(1) != b""
    except (EOFError, zlib.error, gzip.BadGzipFile):
        raise UnreadableLog(f"cannot read {str(path)!r}: not a valid gzip file") from None
    return cut, start, read, parser


def _keep_offsets(result: FileReadResult, offsets: dict[str, int], unread: list[Path]) -> None:
    """The files a read did not reach keep their offsets: the next read starts there."""
    for path in unread:
        if str(path) in offsets:
            result.offsets[str(path)] = offsets[str(path)]
