"""SQLSTATEs in plain words, and SQLSTATEs inferred from well-known messages.

Every code PostgreSQL defines has a name (errcodes.py, generated from its errcodes.txt), with
plainer words where the standard's are jargon: findings say "database does not exist (3D000)",
not "invalid catalog name".

csvlog and jsonlog carry the SQLSTATE of every error; stderr logs only do with %e in the
prefix. Without it, the commonest messages still map to their code (texts from PostgreSQL's
source, English messages), and the rest are grouped under "unknown" by message.
"""

from __future__ import annotations

from tasks.logs.errcodes import CLASSES, NAMES

# Plainer words for the condition names that are jargon to most readers; the rest are
# PostgreSQL's own (errcodes.py, generated from its errcodes.txt).
PLAIN_NAMES = {
    "3D000": "database does not exist",
    "3F000": "schema does not exist",
    "28000": "login not allowed",
    "28P01": "wrong password",
    "53300": "too many connections",
    "57014": "statement cancelled",
    "57P01": "terminated by an administrator",
    "57P02": "terminated by the crash of another process",
    "57P03": "server starting up or shutting down",
    "25P02": "statement in an aborted transaction",
    "42501": "permission denied",
    "23505": "duplicate key",
    "22P02": "invalid input syntax",
    "22001": "value too long",
    "58P01": "file does not exist",
}
PLAIN_CLASSES = {
    "3D": "database does not exist",
    "3F": "schema does not exist",
    "28": "login rejected",
}
CLASS_NAMES = {**CLASSES, **PLAIN_CLASSES}

# (message start, SQLSTATE), most frequent first.
_BY_MESSAGE_START = (
    ("duplicate key value violates unique constraint", "23505"),
    ("division by zero", "22012"),
    ("syntax error at or near", "42601"),
    ("current transaction is aborted", "25P02"),
    ("deadlock detected", "40P01"),
    ("could not serialize access", "40001"),
    ("canceling statement due to statement timeout", "57014"),
    ("canceling statement due to user request", "57014"),
    ("canceling autovacuum task", "57014"),
    ("canceling statement due to lock timeout", "55P03"),
    ("could not obtain lock", "55P03"),
    ("invalid input syntax", "22P02"),
    ("null value in column", "23502"),
    ("value too long for type", "22001"),
    ("permission denied", "42501"),
    ("must be owner of", "42501"),
    ("password authentication failed", "28P01"),
    ("no pg_hba.conf entry", "28000"),
    ("pg_hba.conf rejects connection", "28000"),
    ("sorry, too many clients already", "53300"),
    ("remaining connection slots are reserved", "53300"),
    ("too many connections for", "53300"),
    ("out of memory", "53200"),
    ("could not resize shared memory", "53100"),
    ("could not extend file", "53100"),
    ("terminating connection due to administrator command", "57P01"),
    ("terminating connection due to idle-in-transaction timeout", "25P03"),
    ("terminating connection due to idle-session timeout", "57P05"),
    ("the database system is starting up", "57P03"),
    ("the database system is shutting down", "57P03"),
    ("the database system is in recovery mode", "57P03"),
    ("invalid page in block", "XX001"),
    ("could not read block", "XX001"),
    ("missing chunk number", "XX001"),
    ("database is not accepting commands to avoid wraparound", "54000"),
)
_BY_MESSAGE_PART = (
    ("violates foreign key constraint", "23503"),
    ("violates check constraint", "23514"),
    ("violates not-null constraint", "23502"),
    ("does not exist", "42P01"),  # refined below for columns, functions, databases, roles
)
_DOES_NOT_EXIST = (
    ("column ", "42703"),
    ("function ", "42883"),
    ("operator ", "42883"),
    ("database ", "3D000"),
    ("role ", "28000"),
    ("schema ", "3F000"),
    ("type ", "42704"),
)


def infer_sqlstate(message: str) -> str | None:
    """The SQLSTATE PostgreSQL uses for `message`, when the message is a well-known one."""
    for start, code in _BY_MESSAGE_START:
        if message.startswith(start):
            return code
    for part, code in _BY_MESSAGE_PART:
        if part in message:
            if code == "42P01":
                for start, specific in _DOES_NOT_EXIST:
                    if message.startswith(start):
                        return specific
            return code
    return None


def class_name(sqlstate: str | None) -> str:
    return CLASS_NAMES.get((sqlstate or "")[:2], "unknown")


def sqlstate_name(sqlstate: str | None) -> str:
    """What a SQLSTATE means, in plain words: "22012" -> "division by zero". A code PostgreSQL
    does not list is named by its class; errors logged without one are "SQLSTATE not logged"."""
    if not sqlstate or sqlstate == "unknown":
        return "SQLSTATE not logged"
    name = PLAIN_NAMES.get(sqlstate) or NAMES.get(sqlstate)
    if name:
        return name
    return CLASS_NAMES.get(sqlstate[:2], "unknown code")


def sqlstate_label(sqlstate: str | None) -> str:
    """The plain words with the code after them, as findings and summaries show a SQLSTATE:
    "database does not exist (3D000)"."""
    if not sqlstate or sqlstate == "unknown":
        return sqlstate_name(None)
    return f"{sqlstate_name(sqlstate)} ({sqlstate})"


def class_label(code_class: str) -> str:
    """A SQLSTATE class the same way: "data exception (22)"."""
    if code_class == "??":
        return sqlstate_name(None)
    return f"{CLASS_NAMES.get(code_class, 'unknown class')} ({code_class})"
