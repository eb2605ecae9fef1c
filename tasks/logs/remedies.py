"""What to do about each log finding: the `remedy` text it carries (API and console show it,
like the database review's). Text for a DBA to read and copy, never run by the service.

One function per category; each takes what the finding knows (the message, the relations,
the server's settings) so that the advice names the table, the role or the value to set.
"""

from __future__ import annotations

import math
import re

from tasks.logs.sqlstates import sqlstate_label

# --- connections and crashes ------------------------------------------------------------------

_LIMIT = re.compile(r'too many connections for (role|database) "(.*)"')


def connection_slots(message: str) -> str:
    m = _LIMIT.match(message)
    if m:
        kind, name = m.group(1), _ident(m.group(2))
        return (
            f"The {kind}'s CONNECTION LIMIT was reached. Raise it, or pool the {kind}'s connections "
            f"(PgBouncer in transaction mode):\nALTER {kind.upper()} {name} CONNECTION LIMIT 50;  -- -1: no limit"
        )
    return (
        "Every connection slot was taken (max_connections). Put a connection pooler in front of the server "
        "(PgBouncer in transaction mode serves thousands of clients with a few dozen server connections), "
        "or size the applications' pools so that together they stay under max_connections.\n"
        "Raising max_connections needs a restart and costs memory: each connection may use work_mem per "
        "sort or hash, plus a few MB of its own. Keep superuser_reserved_connections (default 3) so that "
        "an administrator can still log in.\n"
        "Who holds the slots: SELECT usename, application_name, client_addr, state, count(*) "
        "FROM pg_stat_activity GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC;"
    )


_OOM_KILLER = (
    "Signal 9 (SIGKILL) is almost always the Linux OOM killer: look at the kernel log of the database "
    "host for that time (dmesg -T | grep -i -E 'out of memory|killed process', or journalctl -k).\n"
    'PostgreSQL\'s advice is to turn memory overcommit off, so that a backend gets an "out of memory" '
    "error instead of the whole server restarting: vm.overcommit_memory = 2 (in /etc/sysctl.d/), with "
    "vm.overcommit_ratio set so that swap + RAM × ratio / 100 covers shared_buffers and the backends.\n"
    "And lower what the server may ask for: work_mem (per sort or hash, per connection), max_connections "
    "(a pooler), maintenance_work_mem — or give the host more memory."
)


_SIGNALS = {"6": "SIGABRT, an abort", "7": "SIGBUS", "11": "SIGSEGV, a segmentation fault", "15": "SIGTERM"}


def crash(causes: dict[str, int] | None, recoveries: int) -> str:
    """`causes`: "server process: signal 9" -> count (what the postmaster logged)."""
    causes = causes or {}
    if not causes:
        return (
            "The server was not shut down cleanly (a crash, the postmaster killed with -9, the host losing "
            "power), so it ran crash recovery. Look at the system log of that time (dmesg -T, journalctl).\n"
            + _OOM_KILLER
        )
    signals = {cause.rsplit("signal ", 1)[1] for cause in causes if "signal " in cause}
    parts = []
    if "9" in signals:
        parts.append(_OOM_KILLER)
    if signals - {"9"}:
        names = ", ".join(f"{n} ({_SIGNALS.get(n, 'signal')})" for n in sorted(signals - {"9"}))
        parts.append(
            f"Signal {names} means a process crashed: a bug in PostgreSQL or in an extension, or faulty "
            "memory. Update to the latest minor release and the extensions; enable core dumps to report it."
        )
    if any(not cause.rsplit(": ", 1)[-1].startswith("signal") for cause in causes):
        parts.append("A process that exited with an error code failed on its own: read the lines before it.")
    parts.append("Each crash disconnects every session and runs crash recovery.")
    return "\n".join(parts)


def out_of_memory(contexts: dict[str, int] | None, could_not_fork: bool) -> str:
    where = f" (memory context {', '.join(sorted(contexts))})" if contexts else ""
    text = (
        f"An allocation failed{where}: a statement asked for more memory than the host would give. Lower "
        "work_mem / maintenance_work_mem for it; look for a hash or an aggregate over far more rows than "
        "estimated (ANALYZE the tables, EXPLAIN ANALYZE) or huge array_agg / string_agg results; check what "
        "else uses the host's memory. With vm.overcommit_memory = 2 this error is what a backend gets "
        "instead of the OOM killer: size vm.overcommit_ratio so that RAM × ratio / 100 + swap covers "
        "shared_buffers and the backends."
    )
    if could_not_fork:
        text += (
            '\n"could not fork": the system refused a new process: free memory, and the service\'s process '
            "limit (ulimit -u, systemd TasksMax)."
        )
    return text


def panic(message: str) -> str:
    if "No space left on device" in message:
        return (
            "A disk filled up and the server stopped. Free space on the file system of pg_wal (never delete "
            "files in pg_wal by hand) and find why WAL piles up: a failing archive_command "
            "(SELECT * FROM pg_stat_archiver;) or an inactive replication slot "
            "(SELECT slot_name, active, restart_lsn FROM pg_replication_slots;)."
        )
    return (
        "The server stopped (PANIC) and restarted with crash recovery. Read the message: I/O errors point at "
        "the disk (dmesg, SMART). Update to the latest minor release; check the data with pg_amcheck."
    )


# --- locks --------------------------------------------------------------------------------------


def deadlock(relations: list[str], relation_oids: list[tuple[str, str]]) -> str:
    """`relations`: names from the statements and CONTEXT; `relation_oids`: (relation OID,
    database OID) of the locks the DETAIL names by number."""
    on = f" on {', '.join(relations)}" if relations else ""
    text = (
        f"Transactions{on} locked the same rows or tables in opposite orders; PostgreSQL rolled one back "
        "(SQLSTATE 40P01) and the application must retry it.\n"
        "Take locks in one order in every transaction: update several rows sorted by key (SELECT … ORDER BY "
        "id FOR UPDATE before updating them), tables always in the same order; keep transactions short; take "
        "the strongest lock first rather than upgrading one."
    )
    for relation, database in relation_oids[:5]:
        text += f"\nSELECT {relation}::regclass;  -- in the database SELECT datname FROM pg_database WHERE oid = {database};"
    return text


LOCK_WAIT = (
    "Sessions waited longer than deadlock_timeout for a lock held by another transaction (the DETAIL "
    "names the holder). Keep transactions short and never idle in a transaction "
    "(idle_in_transaction_session_timeout); run DDL (ALTER TABLE, CREATE INDEX without CONCURRENTLY) "
    "off-peak with a lock_timeout. Who waits for whom now:\n"
    "SELECT pid, pg_blocking_pids(pid), wait_event_type, left(query, 60) FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock';"
)

STATEMENT_TIMEOUT = (
    "The statement ran longer than statement_timeout and was cancelled (SQLSTATE 57014). Make it faster "
    "(EXPLAIN (ANALYZE, BUFFERS), an index), or give the role or job that legitimately runs it more time "
    "(ALTER ROLE … SET statement_timeout = '5min';); the application must expect the error."
)

LOCK_TIMEOUT = (
    "The statement waited longer than lock_timeout for a lock and gave up (SQLSTATE 55P03). Find the long "
    "lock holders (pg_locks, pg_blocking_pids()) and shorten their transactions; for DDL, keep the short "
    "lock_timeout and retry off-peak."
)

# --- queries, temp files, checkpoints ------------------------------------------------------------

SLOW_QUERY = (
    "Run it with typical parameters under EXPLAIN (ANALYZE, BUFFERS) to see where the time goes: a "
    "missing index (a Seq Scan of a big table with a selective filter), wrong estimates (ANALYZE the "
    "tables), a sort or hash that spills to disk. pg_stat_statements shows its cost over time; "
    "auto_explain (auto_explain.log_min_duration) logs the plans of the slow runs."
)


def temp_file(largest: str) -> str:
    return (
        "Sorts and hashes that did not fit in work_mem spilled to disk. Raise work_mem for the statements "
        "listed, per session or role (SET work_mem = '64MB'; or ALTER ROLE … SET work_mem = '64MB';), not "
        "for the whole server: every sort and hash of every connection may use it. Or give them an index "
        f"that avoids the sort. The largest file was {largest}; in memory the same data needs somewhat "
        'more (EXPLAIN (ANALYZE) shows "Sort Method: external merge  Disk: …").'
    )


def checkpoints(mean_gap: float | None, settings: dict | None) -> str:
    """`mean_gap`: seconds between the checkpoints reported; `settings`: the server's
    max_wal_size (max_wal_size_mb) and checkpoint_timeout (checkpoint_timeout_seconds), when the
    log was read through the connection."""
    settings = settings or {}
    size_mb, timeout = settings.get("max_wal_size_mb"), settings.get("checkpoint_timeout_seconds")
    gap = f"every {mean_gap:.0f} s on average" if mean_gap else "too often"
    now = f" (max_wal_size = {settings['max_wal_size']})" if settings.get("max_wal_size") else ""
    text = (
        f"Checkpoints came {gap}, forced by the volume of WAL{now} before checkpoint_timeout was reached: "
        "each writes the dirty pages again and multiplies full-page images in the WAL.\n"
    )
    if size_mb and timeout and mean_gap:
        target = _round_size(size_mb * timeout / mean_gap)
        text += (
            f"Raise max_wal_size to about {target}, the WAL written in checkpoint_timeout "
            f"({settings.get('checkpoint_timeout') or f'{timeout:.0f}s'}) at this rate — it costs disk space "
            "in pg_wal and a longer crash recovery, no restart:\n"
            f"ALTER SYSTEM SET max_wal_size = '{target}'; SELECT pg_reload_conf();"
        )
    else:
        factor = f" about {max(2, math.ceil(300 / mean_gap))} times" if mean_gap else ""
        text += (
            f"Raise max_wal_size{factor} (SHOW max_wal_size; the factor is checkpoint_timeout, by default "
            "5 min, over the gap) — it costs disk space in pg_wal and a longer crash recovery, no restart:\n"
            "ALTER SYSTEM SET max_wal_size = '…'; SELECT pg_reload_conf();"
        )
    return text + "\nA longer checkpoint_timeout (e.g. 15min) spaces time-triggered checkpoints too."


def _round_size(mb: float) -> str:
    """The next power of two, as PostgreSQL writes sizes: '512MB', '4GB'."""
    size = 1 << max(0, math.ceil(math.log2(max(mb, 1))))
    return f"{size // 1024}GB" if size >= 1024 else f"{size}MB"


# --- logins ------------------------------------------------------------------------------------------


def auth_failure(kinds: dict[str, int] | None, user: str, host: str) -> str:
    """`kinds`: how the logins failed ("password", "md5", "pg_hba.conf", "missing role", ...)."""
    kinds = kinds or {}
    who = f"{user} from {host}"
    parts = []
    if kinds.keys() & {"password", "md5", "scram-sha-256"}:
        parts.append(
            f"Logins of {who} failed their password check: update the password the client uses (its "
            "configuration, .pgpass or secret store). If the client should not log in at all, reject it in "
            "pg_hba.conf or the firewall; many failures from one host look like password guessing "
            "(fail2ban on this log)."
        )
    if "pg_hba.conf" in kinds:
        parts.append(
            f"No pg_hba.conf line lets {who} in: add one with the database and method it needs "
            f"(host DATABASE {user} {host}/32 scram-sha-256), then SELECT pg_reload_conf(); — or stop the "
            "client if it should not connect."
        )
    if "missing role" in kinds:
        parts.append(
            f"Role {user} does not exist: create it (CREATE ROLE {_ident(user)} LOGIN;) or fix the user "
            "name in the client's connection string."
        )
    others = sorted(kinds.keys() - {"password", "md5", "scram-sha-256", "pg_hba.conf", "missing role"})
    if others:
        parts.append(
            f"{', '.join(others)} authentication failed for {who}: check that method's set-up for the user "
            "(pg_ident.conf maps, the LDAP or RADIUS server, the client certificate)."
        )
    return "\n".join(parts)


# --- data and maintenance ---------------------------------------------------------------------------

_FILE_PATH = re.compile(r"base/(\d+)/(\d+)")


def data_corruption(message: str) -> str:
    text = (
        "Data is corrupted. Before writing to the table (no VACUUM FULL, no REINDEX yet), take a file-level "
        "copy of the data directory; check the hardware (dmesg, SMART); find the extent with pg_amcheck; "
        "restore the damaged relation from a backup or a replica. zero_damaged_pages loses the damaged "
        "rows: on a copy only, as a last resort."
    )
    m = _FILE_PATH.search(message)
    if m:
        text += (
            f"\nWhich relation: SELECT pg_filenode_relation(0, {m.group(2)});  -- in the database "
            f"SELECT datname FROM pg_database WHERE oid = {m.group(1)};"
        )
    return text


def wraparound(database: str) -> str:
    return (
        f"Transaction IDs of database {database} are close to wraparound: PostgreSQL will stop accepting "
        f"writes to protect the data. Freeze it now (vacuumdb --freeze --jobs 4 -d {_shell_word(database)}, or VACUUM "
        "(FREEZE, VERBOSE) on its oldest tables: SELECT oid::regclass, age(relfrozenxid) FROM pg_class "
        "WHERE relkind IN ('r', 'm', 't') ORDER BY 2 DESC LIMIT 10;) and remove what holds the xmin horizon "
        "back: long or idle-in-transaction sessions (pg_stat_activity.backend_xmin), forgotten prepared "
        "transactions (pg_prepared_xacts), stale replication slots (pg_replication_slots)."
    )


def autovacuum_cancelled(table: str) -> str:
    return (
        f"A lock request (ALTER TABLE, LOCK, TRUNCATE, CREATE INDEX, …) cancelled the autovacuum of {table}; "
        "if it keeps happening the table bloats and its transaction IDs age. Run those commands off-peak, or "
        "vacuum it yourself (a manual VACUUM is not cancelled):\n"
        f"VACUUM (VERBOSE, ANALYZE) {_table(table)};"
    )


def autovacuum_slow(table: str, kind: str) -> str:
    if kind == "analyze":
        return (
            f"Automatic analyze of {table} is slow: a high statistics target on its columns "
            "(ALTER TABLE … ALTER COLUMN … SET STATISTICS) or default_statistics_target makes it read more "
            "rows; lower it where the plans do not need it."
        )
    return (
        f"Let autovacuum work on {table} faster and in smaller steps: it sleeps on its cost limit.\n"
        f"ALTER TABLE {_table(table)} SET (autovacuum_vacuum_cost_limit = 2000, "
        "autovacuum_vacuum_scale_factor = 0.01);\n"
        "If the log shows more than one index scan per run, raise maintenance_work_mem (autovacuum_work_mem)."
    )


def _table(logged: str) -> str:
    """A table as autovacuum logs it ("shop.public.orders": database.schema.table) as SQL names it."""
    parts = logged.split(".")
    return ".".join(parts[1:]) if len(parts) == 3 else logged


def _shell_word(name: str) -> str:
    return name if re.fullmatch(r"[\w.-]+", name) else "'" + name.replace("'", "'\\''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- errors by SQLSTATE -----------------------------------------------------------------------------

_BY_SQLSTATE = {
    "22012": "Guard the divisor in the query: a / NULLIF(b, 0) gives NULL instead of an error.",
    "42P01": (
        "The statement names a table that does not exist here: a migration not applied, a schema missing "
        "from search_path, or a typo. Compare the application's schema with the database (\\dt *.NAME)."
    ),
    "42703": (
        "The statement names a column that does not exist: a migration not applied, or a typo. Compare the "
        "application's schema with the table (\\d TABLE)."
    ),
    "42883": (
        "No function or operator takes these argument types: a missing extension (CREATE EXTENSION), or "
        "arguments that need a cast."
    ),
    "42P07": "The object already exists: CREATE … IF NOT EXISTS, or a migration applied twice.",
    "42601": (
        "A client sends SQL that does not parse; the sample shows the statement. Fix the query or the code "
        "that builds it, and pass values as bind parameters rather than pasting them into the text."
    ),
    "42501": (
        "The role lacks a privilege: GRANT it (GRANT SELECT, INSERT ON … TO ROLE;), or make the application "
        "use the role meant for it."
    ),
    "3D000": (
        "A client connects to a database that does not exist: fix its connection string (dbname) or create "
        "the database."
    ),
    "3F000": "A schema that does not exist: create it, or fix search_path or the qualified name.",
    "23505": (
        "The application inserts a key that already exists: INSERT … ON CONFLICT DO NOTHING / DO UPDATE. If "
        "a serial key collides, the sequence is behind the data: SELECT setval('TABLE_id_seq', "
        "(SELECT max(id) FROM TABLE));"
    ),
    "23503": (
        "A row references a parent that does not exist, or a parent is deleted while children remain: "
        "insert parents first and delete children first, or declare ON DELETE CASCADE."
    ),
    "23502": "A NOT NULL column was left empty: give it a value, or a DEFAULT.",
    "23514": "A value breaks a CHECK constraint: validate it before writing.",
    "22P02": (
        "A value of the wrong type (text for a number, a malformed date): validate input, and pass values as "
        "bind parameters of the right type."
    ),
    "22001": (
        "A value is longer than its column: validate input, or widen the column "
        "(ALTER TABLE … ALTER COLUMN … TYPE text;)."
    ),
    "22003": "A number out of range for its type: widen the column (bigint, numeric).",
    "25P02": (
        "Statements were sent after an error in the same transaction, and refused until ROLLBACK: fix the "
        "first error of that transaction, and make the application roll back (or use savepoints) on errors."
    ),
    "40001": (
        "Serialization failures are expected under REPEATABLE READ and SERIALIZABLE: the application must "
        "retry the transaction."
    ),
    "55P03": (
        "A lock could not be taken at once (NOWAIT, lock_timeout): find the holder (pg_locks, "
        "pg_blocking_pids()) and shorten its transaction."
    ),
    "57014": (
        "Statements cancelled by a client or by pg_cancel_backend(), often an application-side timeout: "
        "find which application (the sample) and why its statements take so long."
    ),
    "57P01": (
        "Sessions ended by pg_terminate_backend() or a fast shutdown: expected around restarts; otherwise "
        "find who terminates them."
    ),
    "57P03": "Clients connected while the server was starting or stopping: let them retry with a back-off.",
    "25P03": (
        "Sessions idle in a transaction longer than idle_in_transaction_session_timeout were closed: fix "
        "the application that leaves transactions open, or raise the timeout for its role."
    ),
    "57P05": (
        "Idle sessions were closed by idle_session_timeout: make the client's pool expect it (a shorter "
        "idle lifetime), or raise the timeout for its role."
    ),
    "53100": (
        "A disk is full: free space on the file system of the data directory or the tablespace (never in "
        "pg_wal by hand), then find what grows."
    ),
    "54000": (
        "A statement hit a hard limit of PostgreSQL (too many columns or arguments, an index row too "
        "large): change the statement or the schema."
    ),
    "0A000": "The statement uses something PostgreSQL does not support in this context: rewrite it.",
    "08P01": (
        "Clients broke the protocol, often load balancers or port scanners that open a TCP connection "
        'without logging in ("invalid length of startup packet"): make health checks use pg_isready or a '
        "real login."
    ),
    "08006": (
        "Connections dropped between client and server: check the network, firewalls or load balancers that "
        "cut idle connections (tcp_keepalives_idle), and clients killed in mid-query."
    ),
    "XX000": (
        "An internal error: a bug or corruption. Update to the latest minor release; if it repeats on one "
        "table, check it with pg_amcheck."
    ),
    "58030": "The server could not read or write a file: check the disk (dmesg, SMART) and the file system.",
    "58P01": "A file the server needs is missing (the message names it): restore it, or the extension it belongs to.",
    "P0001": "Raised by PL/pgSQL code (RAISE EXCEPTION): the function's own check refused the call; see its message.",
    "F0000": (
        "A configuration file has an error: SELECT * FROM pg_file_settings WHERE error IS NOT NULL; "
        "SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL;"
    ),
}
_BY_CLASS = {
    "08": "Connections between clients and the server failed: check the network and the clients.",
    "22": (
        "The application sent a value the operation cannot take: validate input, and pass values as bind "
        "parameters of the right type."
    ),
    "23": "A write broke a constraint: fix the data the application writes.",
    "25": "The application uses transactions wrongly (statements after an error, commands not allowed in one).",
    "28": "Logins were refused: check the client's user, password and the pg_hba.conf line that matches it.",
    "40": "The transaction was rolled back: the application must retry it.",
    "42": (
        "The statement does not fit this database's schema or the role's privileges: compare it with the "
        "schema, GRANT what is missing."
    ),
    "53": "The server ran out of a resource (disk, memory, connections): the message says which.",
    "54": "A statement hit a hard limit of PostgreSQL: change the statement or the schema.",
    "55": "The object was not in the state the command needs (locked, in use): retry later or find what holds it.",
    "57": "Cancels, terminations and shutdowns by an operator or a timeout: expected around restarts, else find who.",
    "58": "The operating system refused an operation (disk, files): check the host.",
    "P0": "Raised by PL/pgSQL code: see its message.",
    "XX": "An internal error: update to the latest minor release and check the data with pg_amcheck.",
}
_UNKNOWN = (
    "These errors were logged without a SQLSTATE and their messages are not known ones: add %e to "
    "log_line_prefix (or log in csvlog or jsonlog) so that each error is grouped by its code. The top "
    "messages say what happened."
)


def sqlstate(state: str) -> str:
    """What to do about errors of one SQLSTATE (the `error` and `fatal` findings)."""
    if state in ("unknown", "", None):
        return _UNKNOWN
    if state == "53200":
        return out_of_memory(None, False)
    if state == "53300":
        return connection_slots("")
    text = _BY_SQLSTATE.get(state) or _BY_CLASS.get(state[:2])
    if text:
        return text
    return f"{sqlstate_label(state)}: the top messages and the sample show which statement failed and why."
