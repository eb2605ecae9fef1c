"""The `server` log source: a database's own log files, read through its connection.

`pg_ls_logdir()` lists the files, `pg_read_binary_file(path, offset, length)` reads them in
bounded chunks (binary, so a log with bytes that are not valid UTF-8 still reads). Each
problem that stops the read becomes a ReviewFailed that names the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors

from tasks.logs.language import major_version
from tasks.reviews.review import ReviewFailed

CHUNK_BYTES = 4 * 1024 * 1024
FILE_SUFFIX = {"stderr": None, "csvlog": ".csv", "jsonlog": ".json"}


@dataclass(frozen=True)
class ServerLogSettings:
    logging_collector: bool
    destinations: list[str]
    prefix: str
    directory: str
    messages_locale: str
    major: float | None = None  # 15, 9.6: picks the catalog of the server's own version


@dataclass(frozen=True)
class LogFile:
    name: str
    size: int


def _needs_pg_monitor(user: str) -> ReviewFailed:
    # pg_monitor carries pg_read_all_settings (log_directory) and pg_ls_logdir().
    return ReviewFailed(
        f'role "{user}" may not read the log settings or list the server log directory: GRANT pg_monitor TO "{user}";'
    )


def read_settings(session: psycopg.Connection, user: str) -> ServerLogSettings:
    try:
        row = session.execute(
            "SELECT current_setting('logging_collector'), current_setting('log_destination'),"
            " current_setting('log_line_prefix'), current_setting('log_directory'), current_setting('lc_messages'),"
            " current_setting('server_version_num')::int"
        ).fetchone()
    except errors.InsufficientPrivilege:
        raise _needs_pg_monitor(user) from None
    return ServerLogSettings(
        logging_collector=row[0] == "on",
        destinations=[d.strip() for d in row[1].split(",") if d.strip()],
        prefix=row[2],
        directory=row[3],
        messages_locale=row[4],
        major=major_version(row[5]),
    )


def read_checkpoint_settings(session: psycopg.Connection) -> dict[str, Any]:
    """The settings that explain checkpoint warnings: checkpoint_warning (PostgreSQL warns about
    WAL-forced checkpoints closer than this), max_wal_size and checkpoint_timeout, as shown
    ("1GB", "5min") and in seconds / MB (pg_settings is readable by every role)."""
    rows = session.execute(
        "SELECT name, setting, unit, current_setting(name) FROM pg_settings"
        " WHERE name IN ('checkpoint_warning', 'checkpoint_timeout', 'max_wal_size')"
    ).fetchall()
    found: dict[str, Any] = {}
    for name, setting, unit, shown in rows:
        found[name] = shown
        value = float(setting)
        if name == "max_wal_size":
            found["max_wal_size_mb"] = value * _MB_PER.get(unit, 1)
        else:
            found[f"{name}_seconds"] = value * (60 if unit == "min" else 1)
    return found


_MB_PER = {"kB": 1 / 1024, "MB": 1, "GB": 1024, "8kB": 8 / 1024, "16MB": 16}


def choose_format(server: ServerLogSettings, wanted: str | None) -> str:
    """The configured format, or the most structured one the server writes to files."""
    if not server.logging_collector:
        raise ReviewFailed(
            "logging_collector is off, so the server writes no log files to read (the Debian default "
            "sends stderr to its own log); set logging_collector = on and log_destination = 'stderr' "
            "(or 'csvlog' / 'jsonlog'), restart PostgreSQL, or use the `file` source"
        )
    file_formats = [fmt for fmt in ("jsonlog", "csvlog", "stderr") if fmt in server.destinations]
    if wanted and wanted != "auto":
        if wanted not in file_formats:
            raise ReviewFailed(
                f"format {wanted!r} is not written by this server (log_destination = "
                f"'{', '.join(server.destinations)}'); add it to log_destination or choose another format"
            )
        return wanted
    if not file_formats:
        raise ReviewFailed(
            f"log_destination = '{', '.join(server.destinations)}' writes no files the collector keeps; "
            "set log_destination = 'stderr' (or 'csvlog' / 'jsonlog')"
        )
    return file_formats[0]


def list_files(session: psycopg.Connection, fmt: str, user: str) -> list[LogFile]:
    """The log files of format `fmt`, oldest first."""
    try:
        rows = session.execute("SELECT name, size FROM pg_ls_logdir() ORDER BY modification, name").fetchall()
    except errors.InsufficientPrivilege:
        raise _needs_pg_monitor(user) from None
    except errors.UndefinedFunction:
        raise ReviewFailed(_NO_FILE_ACCESS) from None
    suffix = FILE_SUFFIX[fmt]
    if suffix:
        return [LogFile(name, size) for name, size in rows if name.endswith(suffix)]
    return [LogFile(name, size) for name, size in rows if not name.endswith((".csv", ".json"))]


def read_chunks(
    session: psycopg.Connection, directory: str, name: str, offset: int, size: int, user: str
) -> Iterator[bytes]:
    """The bytes of log file `name` from `offset` up to `size` (its size when listed)."""
    path = f"{directory.rstrip('/')}/{name}"
    while offset < size:
        length = min(CHUNK_BYTES, size - offset)
        try:
            row = session.execute("SELECT pg_read_binary_file(%s, %s, %s, true)", (path, offset, length)).fetchone()
        except errors.InsufficientPrivilege:
            raise ReviewFailed(
                f'role "{user}" may not read the server log files: GRANT pg_read_server_files TO "{user}"; '
                f'(or GRANT EXECUTE ON FUNCTION pg_read_binary_file(text, bigint, bigint, boolean) TO "{user}")'
            ) from None
        except errors.UndefinedFunction:
            raise ReviewFailed(_NO_FILE_ACCESS) from None
        chunk = row[0] if row else None
        if not chunk:
            return  # removed by rotation while we read, or shorter than listed
        yield bytes(chunk)
        offset += len(chunk)


_NO_FILE_ACCESS = (
    "this server does not offer pg_ls_logdir() / pg_read_binary_file() (a managed service?); "
    "export its logs to the worker host and use the `file` source"
)
