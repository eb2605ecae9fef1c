"""Secrets out of log text: nothing a finding keeps of a log may carry a password.

PostgreSQL writes a failing statement verbatim (`STATEMENT:  CREATE ROLE app PASSWORD '…'`),
and with log_statement / log_min_duration_statement every statement; findings keep samples,
messages and details of those entries, and every API reader sees them. `redact(text, mode)`
masks, in any text:

- the literal after the word PASSWORD: `CREATE|ALTER ROLE|USER … [ENCRYPTED] PASSWORD '…'`,
  postgres_fdw's `OPTIONS (… password '…')`, in any case, with '' and backslash escapes,
  E'…' and U&'…' strings, dollar quoting ($$…$$, $tag$…$tag$), comments before the literal,
  and a literal cut short (a truncated sample) up to the end of the text;
- `password=…` in connection strings (dblink, CREATE SUBSCRIPTION … CONNECTION, a
  primary_conninfo): bare (with the words after it up to the next keyword=value: a password
  with an unquoted space), single-quoted, or quoted inside an SQL literal (''…''), and so
  sslpassword=…; the password of a postgresql://user:password@host URI;
- a string literal that an error message quotes back (`syntax error at or near "'…'"`,
  `unterminated quoted string at or near "'…"`), and libpq's `missing "=" after "…" in
  connection info string`: either may be a piece of a password;
- with mode "parameters", also the values of bind parameters (`parameters: $1 = '…'`,
  `… with parameters: $1 = '…'`, `portal … parameter $1 = '…'`).

Masking errs on the side of hiding: a backslash before a quote ends nothing, so with
standard_conforming_strings on, `'a\\' … 'b'` hides everything between the quotes.
"""

from __future__ import annotations

import re
from typing import Any

MODES = ("passwords", "parameters")
MASK = "[redacted]"

# An SQL string literal, or what is left of one at the end of a cut text.
_SQL_STRING = r"""(?:[eE]|[uU]&)?'(?:[^'\\]|''|\\.)*'?|\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?(?:\$(?P=tag)\$|\Z)"""
# A connection string's value: quoted inside an SQL literal, quoted, or bare — and then the
# words after it up to the next keyword=value, should the password hold a space unquoted.
_BARE = r"""(?:[^\s'\\]|\\.|'')+"""
_CONNINFO_VALUE = rf"""''(?:\\''|\\.|[^'])*?''|'(?:[^'\\]|''|\\.)*'?|{_BARE}(?:\s+(?:[^\s'=\\]|\\.|'')+(?=\s|'|\Z))*"""
# Blanks and comments. Atomic and possessive: a comment ends at its first */, and the gap is
# never re-split, so "PASSWORD /* x */ /* x */ …" costs linear time, not exponential.
_GAP = r"""(?>\s|/\*.*?\*/|--[^\n]*+(?:\n|\Z))*+"""

_PASSWORD_LITERAL = re.compile(
    rf"""(?P<keep>password"?{_GAP})(?P<secret>{_SQL_STRING})""",
    re.IGNORECASE | re.DOTALL,
)
_PASSWORD_SETTING = re.compile(
    rf"""(?P<keep>password"?\s*=\s*)(?P<secret>{_CONNINFO_VALUE})""",
    re.IGNORECASE | re.DOTALL,
)
_URI = re.compile(r"(?P<keep>postgres(?:ql)?://[^\s/@:'\"]*:)(?P<secret>[^\s@'\"/]*)(?=@)", re.IGNORECASE)
_QUOTED_BACK = re.compile(
    r"""(?P<keep>at or near ")(?P<secret>(?:[eE]|[uU]&)?'.*?|\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$.*?)(?="(?: at character \d+)?$|$)""",
    re.MULTILINE,
)
# The quoted token is bounded and stays on its line, so a text full of unterminated copies
# cannot cost quadratic time.
_CONNINFO_SYNTAX = re.compile(
    r"""(?P<keep>missing "=" after ")(?P<secret>[^\n]{0,1024}?)(?=" in connection info string)"""
)
_PARAMETER = re.compile(r"""(?P<keep>\$\d+ = )(?P<secret>'(?:[^']|'')*'?)""")


def _mask(m: re.Match[str]) -> str:
    secret = m.group("secret")
    if secret.startswith("''"):
        return f"{m.group('keep')}''{MASK}''"  # quoted inside an SQL literal
    if secret.startswith(("'", "$", "E'", "e'", "U&", "u&")):
        return f"{m.group('keep')}'{MASK}'"
    return m.group("keep") + MASK


def redact(text: str, mode: str = "passwords") -> str:
    """`text` with its passwords (and, in mode "parameters", bind parameter values) masked."""
    if not text:
        return text
    for pattern in (_PASSWORD_LITERAL, _PASSWORD_SETTING, _URI, _QUOTED_BACK, _CONNINFO_SYNTAX):
        text = pattern.sub(_mask, text)
    if mode == "parameters":
        text = _PARAMETER.sub(_mask, text)
    return text


def redact_all(value: Any, mode: str = "passwords") -> Any:
    """Every string in `value` (a finding's details: dicts, lists, keys too) redacted."""
    if isinstance(value, str):
        return redact(value, mode)
    if isinstance(value, dict):
        return {redact_all(key, mode): redact_all(item, mode) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_all(item, mode) for item in value]
    return value
