"""Query normalization: statements that differ only in literal values group together.

`normalize_query` is the cheap form, and the text people read: string, numeric, bit/hex and
dollar-quoted literals and bind parameters ($1) become `?`, comments go, whitespace
collapses, case folds outside quoted identifiers, and lists of values (`IN (?, ?, ?)`,
`VALUES (?, ?), (?, ?)`) shrink to `(?)`, so `SELECT * FROM t WHERE id IN (1, 2)` and
`select * from t where id in (7)` are one query. It never keeps a literal: a statement's
values can be secrets.

`fingerprint` is PostgreSQL's own parser (pglast, which embeds it) hashing the statement's
parse tree without its constants: it also groups what the cheap form tells apart
(`= ANY(ARRAY[1, 2])` and `= ANY(ARRAY[1, 2, 3])`, `LIMIT 10` and `LIMIT $1`). It costs a
parse (about 5 µs), so callers fingerprint each distinct cheap form once
(tasks/logs/query_groups.py); text it cannot parse (cut short, not SQL, newer syntax than
the parser's PostgreSQL) has no fingerprint and groups by its cheap form.

`statement_kind` sorts a normalized statement into the query mix (select, insert, ...).
"""

from __future__ import annotations

import re
from functools import cache

# One pass over the tokens that matter; anything else is copied.
_TOKENS = re.compile(
    r"""
      (?P<ident>"(?:[^"]|"")*")                       # quoted identifier: kept as is
    | (?P<string>[eEbBxXnN]?'(?:[^'\\]|''|\\.)*'?)    # string / bit / hex literal
    | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*)?\$.*?(?:\$(?P=tag)?\$|$))  # dollar-quoted
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))           # comments
    | (?P<param>\$\d+)                                # bind parameter
    | (?P<number>(?<![\w$.])-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w$]))
    """,
    re.VERBOSE | re.DOTALL,
)
_SPACES = re.compile(r"\s+")
_ROW = r"\(\s*\?(?:\s*,\s*\?)*\s*\)"
_IN_LIST = re.compile(r"\bin ?\(\s*\?(?:\s*,\s*\?)+\s*\)")
_VALUES_ROWS = re.compile(rf"\bvalues {_ROW}(?:\s*,\s*{_ROW})*")

MAX_NORMALIZED = 2000  # characters kept of a normalized statement


def _replace(m: re.Match[str]) -> str:
    kind = m.lastgroup
    if kind == "ident":
        return m.group()
    if kind == "comment":
        return " "
    return "?"


def normalize_query(sql: str) -> str:
    """The statement with literals replaced, e.g. "select * from t where id = ?"."""
    sql = sql[: MAX_NORMALIZED * 4]  # bound the work on giant statements
    parts = []
    pos = 0
    for m in _TOKENS.finditer(sql):
        parts.append(sql[pos : m.start()].lower())
        parts.append(_replace(m))
        pos = m.end()
    parts.append(sql[pos:].lower())
    text = _SPACES.sub(" ", "".join(parts)).strip().rstrip(";").rstrip()
    text = _IN_LIST.sub("in (?)", text)
    text = _VALUES_ROWS.sub("values (?)", text)
    return text[:MAX_NORMALIZED]


# Statements longer than this are not parsed for a fingerprint (they group by their cheap
# form): parsing is linear, but a multi-megabyte statement would hold the loop up.
MAX_FINGERPRINT_CHARS = 100_000


def fingerprint(sql: str) -> str | None:
    """PostgreSQL's fingerprint of `sql` (the same for statements that differ only in their
    constants), or None when the parser cannot read it."""
    if len(sql) > MAX_FINGERPRINT_CHARS:
        return None
    try:
        return _pg_fingerprint()(sql)
    except Exception:  # pglast raises ParseError, or ValueError on text it cannot encode
        return None


@cache
def _pg_fingerprint():
    """pglast's fingerprint, imported on first use: importing the parser costs ~50 ms, which
    an analysis without the workload report need not pay."""
    from pglast.parser import fingerprint as pg_fingerprint

    return pg_fingerprint


# The query mix. DDL is what changes the schema or its privileges; TCL the transaction
# statements; cursor the statements that drive a cursor. What none of them names (SET, SHOW,
# VACUUM, CALL, DO, MERGE, LOCK, PREPARE, EXPLAIN without ANALYZE, ...) is "other".
KINDS = ("select", "insert", "update", "delete", "copy", "ddl", "tcl", "cursor", "other")
_FIRST_WORD = {
    "select": "select",
    "values": "select",
    "table": "select",
    "insert": "insert",
    "update": "update",
    "delete": "delete",
    "copy": "copy",
    "create": "ddl",
    "alter": "ddl",
    "drop": "ddl",
    "truncate": "ddl",
    "comment": "ddl",
    "grant": "ddl",
    "revoke": "ddl",
    "import": "ddl",  # IMPORT FOREIGN SCHEMA
    "security": "ddl",  # SECURITY LABEL
    "begin": "tcl",
    "start": "tcl",
    "commit": "tcl",
    "end": "tcl",
    "rollback": "tcl",
    "abort": "tcl",
    "savepoint": "tcl",
    "release": "tcl",
    "declare": "cursor",
    "fetch": "cursor",
    "move": "cursor",
    "close": "cursor",
}
_WORD = re.compile(r"[a-z_]+")
_EXPLAIN_ANALYZE = re.compile(
    r"explain\s+(?:\((?:[^()]*\banaly[sz]e\b(?!\s+(?:false|off|0)\b))|(?:verbose\s+)?analy[sz]e\b)"
)
_EXPLAINED = re.compile(r"explain\s+(?:\([^()]*\)|(?:analy[sz]e|verbose)\b\s*)*")


def statement_kind(normalized: str) -> str:
    """The kind of a normalized statement (lower case, as normalize_query writes it):
    a WITH query counts as its main statement (`WITH x AS (...) UPDATE ...` is an update),
    EXPLAIN ANALYZE as the statement it runs, plain EXPLAIN as other; PREPARE TRANSACTION,
    COMMIT PREPARED and ROLLBACK PREPARED are TCL."""
    text = normalized.lstrip(" (")
    m = _WORD.match(text)
    if not m:
        return "other"
    word = m.group()
    if word == "with":
        return _main_statement_kind(text[m.end() :])
    if word == "explain":
        if not _EXPLAIN_ANALYZE.match(text):
            return "other"
        return statement_kind(text[_EXPLAINED.match(text).end() :])
    if word == "prepare":
        return "tcl" if text.startswith("prepare transaction") else "other"
    return _FIRST_WORD.get(word, "other")


def _main_statement_kind(rest: str) -> str:
    """After WITH: skip the common table expressions (everything in parentheses at depth 0
    is a CTE's body; literals are already `?`, so a parenthesis is never inside a string)
    and classify the first statement word at depth 0."""
    depth = 0
    start = 0
    for index, char in enumerate(rest):
        if char == "(":
            if depth == 0:
                for m in _WORD.finditer(rest, start, index):
                    if m.group() in ("select", "insert", "update", "delete", "values", "merge"):
                        return _FIRST_WORD.get(m.group(), "other")
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                start = index + 1
    for m in _WORD.finditer(rest, start):
        if m.group() in ("select", "insert", "update", "delete", "values", "merge"):
            return _FIRST_WORD.get(m.group(), "other")
    return "other"
