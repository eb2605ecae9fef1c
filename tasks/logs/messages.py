"""The English messages log analysis reads, in one place.

PostgreSQL writes its log in the language of `lc_messages`: each message is the translation of
an English printf format (the msgid of its gettext catalog, `postgres-NN.mo`). The detectors,
the SQLSTATE inference and the workload report read English messages, so a translated log is
rewritten to English first (tasks.logs.language) — only the messages listed here: the rest
stay as logged, still counted by severity and SQLSTATE.

Each item of MESSAGE_STARTS is the start of msgids, as written in PostgreSQL's source: it
stands for every catalog message that starts with it, so "duration: %s ms" covers the bare
duration and its statement / execute / parse / bind forms, in every server version. A detector
that matches a new message adds its start here (a test checks that every literal the detectors
and sqlstates.py match is covered).
"""

from __future__ import annotations

# Statements, sessions, checkpoints, vacuum, temporary files: what the detectors and the
# workload report count.
ACTIVITY = (
    "duration: %s ms",
    "statement: %s",
    "%s %s%s%s: %s",  # "execute <name>: ...": the verb is a word of its own (ARGUMENTS)
    "parse %s: %s",
    "bind %s%s%s: %s",
    "connection received: host=%s",
    "connection authorized: user=%s",
    "replication connection authorized: user=%s",
    "disconnection: session time: ",
    "checkpoint starting:",
    "checkpoint complete: ",
    "restartpoint starting:",
    "restartpoint complete: ",
    "checkpoints are occurring too frequently",
    "automatic vacuum",
    "automatic aggressive vacuum",
    "automatic analyze of table",
    # the later lines of an autovacuum report, each its own msgid
    "pages: %u removed",
    "tuples: %lld removed",
    "buffer usage: ",
    "avg read rate: ",
    "WAL usage: ",
    "system usage: %s",
    "temporary file: path",
    "process %d still waiting for",
    "process %d acquired",
    "process %d detected deadlock while waiting for",
    "process %d avoided deadlock",
    "process %d failed to acquire",
    "database system is ready to accept connections",
    "database system was shut down at",
    "database system was not properly shut down",
    "database system was interrupted",
    "%s (PID %d)",  # a crashed process: "server process (PID 12) was terminated by signal 9: Killed"
    "terminating any other active server processes",
    "all server processes terminated; reinitializing",
    "could not fork",
    "sending cancel to blocking autovacuum PID",
)

# Data corruption: checksum failures, damaged pages and TOAST, broken visibility information.
# A literal start of each message (none has a format before its first word), so the
# corruption detector matches these same strings in an English or rewritten log.
CORRUPTION = (
    "page verification failed",
    "invalid page in block",
    "unexpected zero page at block",
    "could not read block",
    "missing chunk number",
    "found xmin",
    "found xmax",
    "uncommitted xmin",
)

# Errors and warnings the detectors sort into categories.
PROBLEMS = (
    "deadlock detected",
    "Process %d waits for %s on %s; blocked by process %d.",  # deadlock DETAIL lines
    "Process %d: %s",
    "canceling statement due to",
    "canceling autovacuum task",
    "out of memory",
    "Failed on request of size",  # out-of-memory DETAIL
    "sorry, too many clients already",
    "remaining connection slots are reserved",
    "too many connections for",
    "password authentication failed for user",
    "authentication failed for user",
    "Ident authentication failed for user",
    "Peer authentication failed for user",
    "LDAP authentication failed for user",
    "PAM authentication failed for user",
    "RADIUS authentication failed for user",
    "GSSAPI authentication failed for user",
    "SSPI authentication failed for user",
    "BSD authentication failed for user",
    "certificate authentication failed for user",
    '"trust" authentication failed for user',
    "no pg_hba.conf entry for",
    "pg_hba.conf rejects",
    'role "%s" does not exist',
    *CORRUPTION,
    "database is not accepting commands",
    'database "%s" must be vacuumed',
    "database with OID %u must be vacuumed",
    "oldest xmin is far in the past",
    # CONTEXT lines naming the table of a cancelled autovacuum
    "while scanning block",
    "while vacuuming",
    "while cleaning up index",
    "while truncating relation",
)

# Messages sqlstates.infer_sqlstate knows (stderr logs without %e).
INFERRED = (
    'duplicate key value violates unique constraint "%s"',
    "division by zero",
    '%s at or near "%s"',  # "syntax error at or near ...": the first part is a word (ARGUMENTS)
    "%s at end of input",
    "current transaction is aborted",
    "could not serialize access",
    "could not obtain lock",
    "invalid input syntax",
    "null value in column",
    "value too long for type",
    "permission denied",
    "must be owner of",
    "too many connections",
    "could not resize shared memory",
    "could not extend file",
    "terminating connection due to",
    "the database system is",
    "insert or update on table",
    "update or delete on table",
    "new row for relation",
    'relation "%s" does not exist',
    'column "%s" does not exist',
    'column "%s" of relation "%s" does not exist',
    "function %s does not exist",
    "operator does not exist",
    'database "%s" does not exist',
    'schema "%s" does not exist',
    'type "%s" does not exist',
)

MESSAGE_STARTS = ACTIVITY + PROBLEMS + INFERRED

# Arguments that are words translated on their own (msgids with no argument): matched as one
# of their translations and written back in English. {msgid start: {argument index: words}}.
_EXECUTE = ("execute", "execute fetch from")
_PROCESSES = (
    "server process",
    "startup process",
    "background writer process",
    "checkpointer process",
    "WAL writer process",
    "WAL receiver process",
    "autovacuum launcher process",
    "archiver process",
    "system logger process",
    "parallel worker",
)
_SCANNER = ("syntax error", "unterminated quoted string", "unterminated dollar-quoted string")
WORD_ARGUMENTS: dict[str, dict[int, tuple[str, ...]]] = {
    "%s %s%s%s: %s": {0: _EXECUTE},
    "duration: %s ms  %s %s%s%s: %s": {1: _EXECUTE},
    "%s (PID %d)": {0: _PROCESSES},
    '%s at or near "%s"': {0: _SCANNER},
    "%s at end of input": {0: _SCANNER},
}

# Arguments that are messages of their own (lock tags, CPU usage):
# rewritten with NESTED_MESSAGES. {msgid start: argument indexes}.
NESTED_ARGUMENTS: dict[str, tuple[int, ...]] = {
    "process %d still waiting for": (2,),
    "process %d acquired": (2,),
    "process %d detected deadlock while waiting for": (2,),
    "process %d avoided deadlock": (2,),
    "process %d failed to acquire": (2,),
    "Process %d waits for %s on %s; blocked by process %d.": (2,),
    "system usage: %s": (0,),
}
NESTED_MESSAGES = (
    # lock tags (lmgr's DescribeLockTag)
    "relation %u of database %u",
    "extension of relation %u of database %u",
    "pg_database.datfrozenxid of database %u",
    "page %u of relation %u of database %u",
    "tuple (%u,%u) of relation %u of database %u",
    "transaction %u",
    "virtual transaction %d/%u",
    "speculative token %u of transaction %u",
    "object %u of class %u of database %u",
    "user lock [%u,%u,%u]",
    "advisory lock [%u,%u,%u,%u]",
    "remote transaction %u of subscription %u of database %u",
    "CPU: user: ",
)

# Messages written as a first part and optional parts appended to it, each its own msgid:
# "connection authorized: user=%s" + " database=%s" + " application_name=%s" ...
COMPOSED: dict[str, tuple[str, ...]] = {
    "connection authorized: user=%s": (
        " database=%s",
        " application_name=%s",
        " SSL enabled (protocol=%s, cipher=%s, bits=%d)",
        " GSS (authenticated=%s, encrypted=%s, principal=%s)",
        " GSS (authenticated=%s, encrypted=%s)",
    ),
    "replication connection authorized: user=%s": (
        " application_name=%s",
        " SSL enabled (protocol=%s, cipher=%s, bits=%d)",
        " GSS (authenticated=%s, encrypted=%s, principal=%s)",
        " GSS (authenticated=%s, encrypted=%s)",
    ),
}

# The severities (error_severity()) and the labels of the lines that continue an entry in a
# stderr log, as msgids. A label's msgid carries its separator ("DETAIL:  "); LOCATION's its
# arguments too.
SEVERITIES = ("DEBUG", "LOG", "INFO", "NOTICE", "WARNING", "ERROR", "FATAL", "PANIC")
LABELS = {
    "DETAIL:  ": "DETAIL",
    "HINT:  ": "HINT",
    "QUERY:  ": "QUERY",
    "CONTEXT:  ": "CONTEXT",
    "STATEMENT:  ": "STATEMENT",
    "LOCATION:  %s, %s:%d\n": "LOCATION",
    "LOCATION:  %s:%d\n": "LOCATION",
}

# Frequent messages whose translated start tells the language of a log (with the severities).
MARKERS = (
    "duration: %s ms  statement: %s",
    "statement: %s",
    "connection received: host=%s port=%s",
    "connection authorized: user=%s",
    "disconnection: session time: ",
    "checkpoint starting:",
    "checkpoint complete: ",
    "database system is ready to accept connections",
    "automatic vacuum of table",
    "automatic analyze of table",
    "temporary file: path",
)
