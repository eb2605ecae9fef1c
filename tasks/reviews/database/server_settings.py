"""Checks of the settings area: settings that risk data, logging that log analysis needs,
and data checksums. All read pg_settings, which every role may read for these settings
(pg_monitor's pg_read_all_settings adds the superuser-only ones, e.g. data_directory)."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings as django_settings

from tasks.logs.language import find_catalog, is_english, major_version
from tasks.reviews.database.check import CLUSTER, Check, CheckContext, MissingPrivilege, Problem

READ_SETTINGS = "GRANT pg_read_all_settings TO {role}"


def settings(ctx: CheckContext, *names: str) -> dict[str, dict[str, str]]:
    """name -> {setting, source} of `names`; a setting pg_settings hides from this role is a missing privilege."""
    rows = ctx.rows("SELECT name, setting, source FROM pg_settings WHERE name = ANY(%s)", (list(names),))
    found = {row["name"]: row for row in rows}
    hidden = [name for name in names if name not in found]
    if hidden:
        raise MissingPrivilege(f"pg_settings does not show {', '.join(hidden)} to this role")
    return found


def _alter(name: str, value: str, restart: bool = False) -> str:
    then = "  -- then restart the server" if restart else "\nSELECT pg_reload_conf();"
    return f"ALTER SYSTEM SET {name} = {value};{then}"


# setting -> (severity, why it is risky when off)
RISKY = {
    "fsync": (
        "critical",
        "an operating-system crash or power loss can leave the cluster corrupt beyond repair",
    ),
    "full_page_writes": (
        "critical",
        "a crash in the middle of a page write (a torn page) can corrupt data that WAL replay cannot repair",
    ),
    "synchronous_commit": (
        "info",
        "a crash loses the transactions committed in the last moments (up to 3 × wal_writer_delay); "
        "no corruption, a deliberate trade of durability for commit speed",
    ),
}


def risky_settings(ctx: CheckContext) -> Iterator[Problem]:
    found = settings(ctx, *RISKY)
    for name, (severity, why) in RISKY.items():
        row = found[name]
        if row["setting"] != "off":
            continue
        yield Problem(
            severity=severity,
            subject=name,
            message=f"{name} = off: {why}",
            remedy=_alter(name, "on"),
            details={"setting": row["setting"], "source": row["source"]},
        )


LOGGING = (
    "logging_collector",
    "log_destination",
    "log_line_prefix",
    "log_min_duration_statement",
    "log_lock_waits",
    "log_temp_files",
    "log_checkpoints",
    "log_autovacuum_min_duration",
    "lc_messages",
)
TIME_ESCAPES, PROCESS_ESCAPES = set("mtn"), set("pc")


def logging_settings(ctx: CheckContext) -> Iterator[Problem]:
    found = settings(ctx, *LOGGING)
    value = {name: row["setting"] for name, row in found.items()}
    destinations = {part.strip() for part in value["log_destination"].split(",")}

    def problem(name: str, message: str, remedy: str, severity: str = "info") -> Problem:
        return Problem(
            severity=severity,
            subject=name,
            message=message,
            remedy=remedy,
            details={"setting": value[name], "source": found[name]["source"]},
        )

    if value["logging_collector"] == "off" and not destinations & {"syslog", "eventlog"}:
        # Info, not warning: packaged servers (Debian's pg_ctlcluster, systemd) often capture
        # stderr into a file of their own; but csvlog/jsonlog and log rotation need the collector.
        yield problem(
            "logging_collector",
            "logging_collector = off: the server log is only the postmaster's stderr (wherever the service manager "
            "puts it), without rotation, and csvlog/jsonlog cannot be written",
            _alter("logging_collector", "on", restart=True),
        )
    if "stderr" in destinations:  # syslog stamps its own time and pid; csvlog/jsonlog have fields for them
        escapes = _escapes(value["log_line_prefix"])
        lacks = [
            what
            for what, wanted in (("time (%m)", TIME_ESCAPES), ("process id (%p)", PROCESS_ESCAPES))
            if not escapes & wanted
        ]
        if lacks:
            prefix = ("%m " if not escapes & TIME_ESCAPES else "") + ("[%p] " if not escapes & PROCESS_ESCAPES else "")
            new = (prefix + value["log_line_prefix"]).replace("'", "''")
            yield problem(
                "log_line_prefix",
                f"log_line_prefix = '{value['log_line_prefix']}' has no {' and no '.join(lacks)}: log lines cannot be "
                "placed in time or tied to a session",
                _alter("log_line_prefix", f"'{new}'"),
            )
    disabled = {
        "log_min_duration_statement": ("-1", "slow statements are not logged", "1000"),
        "log_lock_waits": ("off", "waits longer than deadlock_timeout for a lock are not logged", "on"),
        "log_temp_files": ("-1", "statements spilling sorts and hashes to temporary files are not logged", "0"),
        "log_checkpoints": ("off", "checkpoints and their timing are not logged", "on"),
        "log_autovacuum_min_duration": ("-1", "autovacuum and autoanalyze runs are not logged", "0"),
    }
    for name, (off, what, on) in disabled.items():
        if value[name] == off:
            yield problem(name, f"{name} = {off}: {what}", _alter(name, on))
    messages = value["lc_messages"]
    # '' only as the built-in default: the server's environment decides, which cannot be seen from here.
    # A translated log is fine when this worker has PostgreSQL's catalog for its language.
    if messages and not is_english(messages):
        major = major_version(ctx.server_version)
        # The catalogs log_analysis reads (settings.LOG_LOCALE_DIRS), read at call time.
        if find_catalog(messages, major, getattr(django_settings, "LOG_LOCALE_DIRS", None)) is None:
            yield problem(
                "lc_messages",
                f"lc_messages = '{messages}': the server logs in a language this worker has no PostgreSQL message "
                f"catalog for, so log analysis counts its errors by severity and SQLSTATE only; install the "
                f"PostgreSQL {major:g} server package on the worker host (it ships postgres-{major:g}.mo), or name "
                "the directory of that catalog in LOG_LOCALE_DIRS, or log in English",
                _alter("lc_messages", "'C'"),
            )


def _escapes(prefix: str) -> set[str]:
    """The %-escapes of a log_line_prefix ('%m', '%-10u', '%%' ...), as their letters."""
    letters, i = set(), 0
    while i < len(prefix):
        if prefix[i] == "%":
            i += 1
            while i < len(prefix) and (prefix[i].isdigit() or prefix[i] == "-"):
                i += 1
            if i < len(prefix):
                letters.add(prefix[i])
        i += 1
    return letters


def checksums_disabled(ctx: CheckContext) -> Iterator[Problem]:
    if settings(ctx, "data_checksums")["data_checksums"]["setting"] != "off":
        return
    # Superuser-only: pg_monitor has pg_read_all_settings; without it the remedy names $PGDATA.
    datadir = ctx.value("SELECT setting FROM pg_settings WHERE name = 'data_directory'") or "$PGDATA"
    yield Problem(
        severity="info",
        subject="data_checksums",
        message="data checksums are off: corruption of data pages by storage or memory goes undetected "
        "until it breaks a query",
        remedy=f"pg_ctl stop -D {datadir} -m fast\n"
        f"pg_checksums --enable --progress -D {datadir}  # PostgreSQL 12+; rewrites every data file, with the server down\n"
        f"pg_ctl start -D {datadir}\n"
        "# with streaming replicas: stop every node, enable on each, then start them (or rebuild the replicas)",
        details={"data_directory": datadir},
    )


CHECKS: list[Check] = [
    Check(
        name="risky_setting",
        area="settings",
        scope=CLUSTER,
        run=risky_settings,
        summary="fsync or full_page_writes off (critical: a crash can corrupt the cluster), "
        "synchronous_commit off (info: a crash loses the last commits).",
        grant=READ_SETTINGS,
    ),
    Check(
        name="logging_settings",
        area="settings",
        scope=CLUSTER,
        run=logging_settings,
        summary="Logging that log analysis needs and is off: logging_collector, a log_line_prefix with time and pid, "
        "log_min_duration_statement, log_lock_waits, log_temp_files, log_checkpoints, log_autovacuum_min_duration, "
        "an lc_messages whose message catalog the worker lacks (one info finding per setting).",
        grant=READ_SETTINGS,
    ),
    Check(
        name="checksums_disabled",
        area="settings",
        scope=CLUSTER,
        run=checksums_disabled,
        summary="Data checksums are off (initdb without -k): page corruption goes undetected; "
        "pg_checksums --enable with the server stopped (PostgreSQL 12+).",
        grant=READ_SETTINGS,
    ),
]
