"""SQLSTATE classes, and SQLSTATEs inferred from well-known messages.

csvlog and jsonlog carry the SQLSTATE of every error; stderr logs only do with %e in the
prefix. Without it, the commonest messages still map to their code (texts from PostgreSQL's
source, English messages), and the rest are grouped under "unknown" by message.
"""

from __future__ import annotations

CLASS_NAMES = {
    "00": "successful completion",
    "01": "warning",
    "02": "no data",
    "03": "SQL statement not yet complete",
    "08": "connection exception",
    "09": "triggered action exception",
    "0A": "feature not supported",
    "0B": "invalid transaction initiation",
    "0F": "locator exception",
    "0L": "invalid grantor",
    "0P": "invalid role specification",
    "0Z": "diagnostics exception",
    "20": "case not found",
    "21": "cardinality violation",
    "22": "data exception",
    "23": "integrity constraint violation",
    "24": "invalid cursor state",
    "25": "invalid transaction state",
    "26": "invalid SQL statement name",
    "27": "triggered data change violation",
    "28": "invalid authorization specification",
    "2B": "dependent privilege descriptors still exist",
    "2D": "invalid transaction termination",
    "2F": "SQL routine exception",
    "34": "invalid cursor name",
    "38": "external routine exception",
    "39": "external routine invocation exception",
    "3B": "savepoint exception",
    "3D": "invalid catalog name",
    "3F": "invalid schema name",
    "40": "transaction rollback",
    "42": "syntax error or access rule violation",
    "44": "WITH CHECK OPTION violation",
    "53": "insufficient resources",
    "54": "program limit exceeded",
    "55": "object not in prerequisite state",
    "57": "operator intervention",
    "58": "system error",
    "72": "snapshot failure",
    "F0": "configuration file error",
    "HV": "foreign data wrapper error",
    "P0": "PL/pgSQL error",
    "XX": "internal error",
}

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
