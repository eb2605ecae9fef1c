"""The `file` source: log files on this host (paths or globs, plain or .gz), read in chunks.

Files are read oldest first (by modification time, then name), whatever order the paths or
globs were given in, so a rotated log comes before its successor. The format of each file is
checked against its first lines, or detected with format "auto" (tasks.logs.formats).

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
from tasks.logs.formats import HEAD_BYTES, resolve
from tasks.logs.gc_pause import paused_gc
from tasks.logs.language import SAMPLE_BYTES, Language
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
    formats: dict[str, str] = field(default_factory=dict)  # file -> the format it was read as
    prefixes: dict[str, str] = field(default_factory=dict)  # stderr file -> its log_line_prefix


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


def expand_paths(patterns: str | Sequence[str], roots: Sequence[str] | None = None) -> list[Path]:
    """The files `patterns` (a path or glob, or several) name, each once, oldest first by
    modification time, then by name (so a rotated log is read before its successor). Each
    pattern must name a file. With `roots`, refuses (OutsideLogRoots) a pattern that resolves
    outside them."""
    if isinstance(patterns, str):
        patterns = [patterns]
    for pattern in patterns:
        check_roots(pattern, roots)
    paths: dict[str, Path] = {}
    for pattern in patterns:
        names = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]
        found = [Path(name) for name in names if os.path.isfile(name)]
        if not found:
            raise FileNotFoundError(f"no log file matches {pattern!r} on this host")
        for path in found:
            paths.setdefault(os.path.realpath(path), path)
    return sorted(paths.values(), key=lambda p: (p.stat().st_mtime, p.name))


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
    fh.seek(offset)  # also back to the start after the head was read
    left = limit
    while left is None or left > 0:
        chunk = fh.read(chunk_size if left is None else min(chunk_size, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def analyze_files(
    pattern: str | Sequence[str],
    fmt: str,
    prefix: str | None,
    analyzer: LogAnalyzer,
    offsets: dict[str, int] | None = None,
    chunk_size: int = CHUNK_SIZE,
    *,
    roots: Sequence[str] | None = None,
    max_bytes: int | None = None,
    finished: bool = False,
    language: Language | None = None,
) -> FileReadResult:
    """Feed every file `pattern` (one path or glob, or several) names to `analyzer`, each from
    its stored offset, oldest first, `max_bytes` in all at most (None: no bound); `roots`: see
    check_roots.

    `fmt` is "stderr", "csvlog", "jsonlog" or "auto" (detected per file); `prefix` None for a
    stderr file means: detect it among the common ones. A file whose first lines do not fit
    the format raises LogFormatError (tasks.logs.formats).

    The newest file may still be written to: its last, unterminated line is left for the next
    run, unless `finished` (a one-off read: the command line). Older and compressed files are
    complete and read to the end. A file cut by max_bytes is continued by the next read
    (more_to_read), the offsets of the files not reached yet are kept. `language`: the log's
    lc_messages (tasks.logs.language), None for English.
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
        cut, start, read, parser, used = _read_file(
            path, start, left, fmt, prefix, analyzer, roots, chunk_size, language
        )
        if parser is None:  # nothing new in it
            result.offsets[key] = start
            continue
        result.formats[key] = used[0]
        if used[1] is not None:
            result.prefixes[key] = used[1]
        complete = finished or index < len(paths) - 1 or path.suffix == ".gz"
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
        formats = set(result.formats.values())
        prefixes = set(result.prefixes.values())
        if formats == {"stderr"}:
            hint = f"log_line_prefix {', '.join(map(repr, sorted(prefixes)))}"
        else:
            hint = f"format {', '.join(sorted(formats))}"
        shown = pattern if isinstance(pattern, str) else " ".join(pattern)
        raise LogFormatError(
            f"none of the {result.unparsed_lines} lines read from {shown!r} matches {hint}; "
            "check the format and the server's log_line_prefix (SHOW log_line_prefix)"
        )
    return result


@paused_gc  # the read allocates millions of short-lived objects, none in a cycle
def _read_file(path, start, left, fmt, prefix, analyzer, roots, chunk_size, language=None):
    """Feed `path` from `start`, at most `left` bytes (None: all) to a new parser, with the
    format and prefix its first bytes call for. Returns (cut: bytes were left unread, start,
    bytes read, parser, (format, prefix)) — parser None when the file has nothing new."""
    read = 0
    try:
        with open_log(path, roots) as fh:
            if path.suffix != ".gz":
                size = os.fstat(fh.fileno()).st_size
                if size < start:
                    start = 0  # truncated or replaced since the last run
                if size == start:
                    return False, start, 0, None, (fmt, prefix)
            # The head is read again each run (64 KB at most): a file's format is not stored.
            head = fh.read(HEAD_BYTES)
            if not head:
                return False, start, 0, None, (fmt, prefix)
            used = resolve(head, fmt, prefix, str(path), language)
            parser = make_parser(*used, language)
            for chunk in read_chunks(fh, start, left, chunk_size):
                read += len(chunk)
                analyzer.add_all(parser.feed(chunk))
            cut = left is not None and read >= left and fh.read(1) != b""
    except (EOFError, zlib.error, gzip.BadGzipFile):
        raise UnreadableLog(f"cannot read {str(path)!r}: not a valid gzip file") from None
    return cut, start, read, parser, used


def _keep_offsets(result: FileReadResult, offsets: dict[str, int], unread: list[Path]) -> None:
    """The files a read did not reach keep their offsets: the next read starts there."""
    for path in unread:
        if str(path) in offsets:
            result.offsets[str(path)] = offsets[str(path)]


def sample_log(pattern: str, roots: Sequence[str] | None = None, size: int = SAMPLE_BYTES) -> bytes:
    """The first `size` bytes of the oldest file `pattern` names (to detect its language)."""
    path = expand_paths(pattern, roots)[0]
    try:
        with open_log(path, roots) as fh:
            return fh.read(size)
    except (EOFError, zlib.error, gzip.BadGzipFile):
        raise UnreadableLog(f"cannot read {str(path)!r}: not a valid gzip file") from None
