"""Query normalization: statements that differ only in literal values group together.

String, numeric, bit/hex and dollar-quoted literals and bind parameters ($1) become `?`,
comments go, whitespace collapses, case folds outside quoted identifiers, and lists of
values (`IN (?, ?, ?)`, `VALUES (?, ?), (?, ?)`) shrink to `(?)`, so
`SELECT * FROM t WHERE id IN (1, 2)` and `select * from t where id in (7)` are one query.
Only statements that need grouping (slow ones, timeouts) are normalized: it is the
costliest step per statement, and the log's fast path never calls it.
"""

from __future__ import annotations

import re

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
