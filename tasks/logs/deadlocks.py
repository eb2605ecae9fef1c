"""What a "deadlock detected" entry says about the deadlock: the locks each process waited for,
the relations involved and the statements, from its DETAIL (and CONTEXT and STATEMENT) lines:

    ERROR:  deadlock detected
    DETAIL:  Process 25954 waits for ShareLock on transaction 729; blocked by process 25953.
            Process 25953 waits for ShareLock on transaction 730; blocked by process 25954.
            Process 25954: UPDATE t SET v = v + 1 WHERE id = 1
            Process 25953: UPDATE t SET v = v + 1 WHERE id = 2
    CONTEXT:  while updating tuple (0,1) in relation "t"

Row-lock deadlocks wait on transactions, so the tables come from the statements (pglast reads
their relations; a statement cut at track_activity_query_size falls back to a pattern) and the
CONTEXT line. Relation locks are logged by OID ("relation 16384 of database 5"): they are kept
as numbers, with the query that names them in the remedy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

MAX_RELATIONS = 10  # per deadlock
MAX_STATEMENTS = 5

_WAITS = re.compile(r"Process \d+ waits for (\S+) on (.+?); blocked by process \d+\.?$")
# "Process 25954: UPDATE ..." — the word is translated with lc_messages, the shape is not.
_STATEMENT = re.compile(r"\w+ \d+: (.*)$")
_RELATION_OID = re.compile(r"relation (\d+) of database (\d+)")
_OBJECT_KIND = re.compile(r"([a-z][a-z ]*?)(?: \d| \(|$)")
_CONTEXT_RELATION = re.compile(r' in relation "([^"]+)"')
# Tables after the keywords that name them, for statements pglast cannot parse (cut short).
_NAMED_TABLE = re.compile(
    r"\b(?:update|into|from|join|lock\s+table|lock)\s+(?:only\s+)?"
    r'((?:"[^"]+"|[a-z_][\w$]*)(?:\.(?:"[^"]+"|[a-z_][\w$]*))?)',
    re.IGNORECASE,
)
_NOT_TABLES = frozenset({"select", "lateral", "unnest", "generate_series", "values", "only"})


@dataclass
class Deadlock:
    locks: list[str] = field(default_factory=list)  # "ShareLock on transaction", ...
    relations: list[str] = field(default_factory=list)  # names, sorted
    relation_oids: list[tuple[str, str]] = field(default_factory=list)  # (relation, database)
    statements: list[str] = field(default_factory=list)  # as logged, one per process

    @property
    def key(self) -> str:
        """What tells one kind of deadlock from another: the relations involved."""
        names = self.relations or [f"relation {rel} of database {db}" for rel, db in self.relation_oids]
        return ", ".join(names[:MAX_RELATIONS]) or "(relations not logged)"


def parse_deadlock(detail: str | None, context: str | None = None, statement: str | None = None) -> Deadlock:
    found = Deadlock()
    statements: list[str] = []
    for line in (detail or "").split("\n"):
        m = _WAITS.match(line)
        if m:
            mode, target = m.group(1), m.group(2)
            kind = _OBJECT_KIND.match(target)
            found.locks.append(f"{mode} on {kind.group(1) if kind else target}")
            for oids in _RELATION_OID.findall(target):
                if oids not in found.relation_oids:
                    found.relation_oids.append(oids)
            continue
        m = _STATEMENT.match(line)
        if m:
            statements.append(m.group(1))
        elif statements and line:
            statements[-1] += "\n" + line  # a statement of several lines
    if statement and statement not in statements:
        statements.append(statement)
    names: set[str] = set()
    for text in statements:
        names.update(statement_relations(text))
    if context:
        names.update(_CONTEXT_RELATION.findall(context))
    found.relations = sorted(names)[:MAX_RELATIONS]
    found.statements = statements[:MAX_STATEMENTS]
    return found


@lru_cache(maxsize=512)
def statement_relations(sql: str) -> frozenset[str]:
    """The tables and views a statement names (CTE names excluded)."""
    # Imported on the first deadlock: pglast's parser costs ~5 MB of memory that a log without
    # deadlocks need not pay.
    from pglast.parser import ParseError
    from pglast.visitors import referenced_relations

    try:
        return frozenset(referenced_relations(sql))
    except (ParseError, ValueError, RecursionError):
        return frozenset(
            name.replace('"', "")
            for name in _NAMED_TABLE.findall(sql)
            if name.lower().split(".")[-1] not in _NOT_TABLES
        )
