"""Every statement of a log into its group, at a cost a busy log can afford.

The workload report puts every statement the log holds in a group: millions of them, where
normalize_query (tasks/logs/normalize.py, about 10 µs) and a parse by PostgreSQL's parser
(pglast's fingerprint, about 5 µs) would cost more than reading the log. So each statement
first gets a *key* made in C: its text with the contents of string literals dropped and
every digit turned into 0 (a bytes.translate), and the key finds the group in a dict. A
statement costs that key and a lookup; only a key never seen before pays for the cheap
form, and only a cheap form never seen before for a fingerprint.

Why a key never puts a statement in the wrong group: two statements with the same key
differ only in the contents of their string literals and in the values of digits. Where a
digit may belong to a name (after a letter or an underscore: `orders_2024`, `t1`, `$1` is
fine; inside a "quoted identifier"), the key is *refined*: such statements also compare
those names (a regex findall, still far cheaper than normalizing). Text whose quoting a
split cannot follow safely (backslash escapes, dollar quoting, comments, quotes of both
kinds out of balance) is normalized the slow way, with the cheap form as its key.

Memory is bounded: at most MAX_GROUPS groups; past that the half with the least total
time is folded into one "(other)" group per kind, and their later statements start new
groups (their counts are then partial). The caches of keys and cheap forms are bounded too
and start afresh when full.
"""

from __future__ import annotations

import re

from tasks.logs.normalize import fingerprint, normalize_query, statement_kind

MAX_GROUPS = 5000  # distinct statements kept (by fingerprint, else by cheap form)
MAX_KEYS = 20_000  # keys (and refined keys) remembered
MAX_CHEAP = 20_000  # cheap forms remembered
MAX_TEXT = 1000  # characters kept of a group's normalized text
OTHER = "(other)"

DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
# In a key: a digit right after a letter or an underscore (a name like t1), or a quoted
# identifier holding a digit: such keys are refined by the names themselves.
_NAME_DIGIT = re.compile(rb'[A-Za-z_\x80-\xff]0|"[^"]*0[^"]*"')
# In a statement: the parts a refined key adds (quoted identifiers, digits in names).
_NAMES = re.compile(r'"(?:[^"]|"")*"|(?<=[^\W\d])\d+')
_UNSAFE = ("\\", "$$", "--", "/*")


class QueryGroup:
    """One normalized statement: how often it ran and for how long (milliseconds)."""

    __slots__ = ("text", "kind", "count", "untimed", "total", "max", "min", "temp_files", "temp_bytes", "temp_max")

    def __init__(self, text: str, kind: str) -> None:
        self.text = text[:MAX_TEXT]
        self.kind = kind
        self.count = 0  # statements, with or without a duration logged
        self.untimed = 0  # statements logged without a duration (log_statement alone)
        self.total = 0.0
        self.max = 0.0
        self.min = float("inf")
        self.temp_files = 0
        self.temp_bytes = 0
        self.temp_max = 0

    @property
    def timed(self) -> int:
        return self.count - self.untimed

    def absorb(self, other: QueryGroup) -> None:
        self.count += other.count
        self.untimed += other.untimed
        self.total += other.total
        self.max = max(self.max, other.max)
        self.min = min(self.min, other.min)
        self.temp_files += other.temp_files
        self.temp_bytes += other.temp_bytes
        self.temp_max = max(self.temp_max, other.temp_max)


class _Refined:
    """A key whose statements may differ in names: the names pick the group."""

    __slots__ = ("by_names",)

    def __init__(self) -> None:
        self.by_names: dict[tuple[str, ...], QueryGroup] = {}


class QueryGroups:
    """Statement text -> its QueryGroup; `group(text)` is the hot call."""

    def __init__(self) -> None:
        self.groups: dict[str, QueryGroup] = {}  # identity (fingerprint, else cheap form) -> group
        self.other: dict[str, QueryGroup] = {}  # kind -> what was folded away
        self.folded = 0  # groups folded into other
        self.keys: dict[bytes | str, QueryGroup | _Refined] = {}  # key -> group (or its refinement)
        self._by_cheap: dict[str, QueryGroup] = {}
        self._refined_keys = 0

    def group(self, text: str) -> QueryGroup:
        """The group of statement `text` (created on first sight)."""
        if "'" in text:
            key = self._quoted_key(text)
        else:
            key = text.encode("utf-8", "surrogatepass").translate(DIGITS_TO_ZERO)
        found = self.keys.get(key)
        if found is None:
            found = self._learn(key, text)
        if found.__class__ is QueryGroup:
            return found
        names = tuple(_NAMES.findall(text))
        group = found.by_names.get(names)
        if group is None:
            group = found.by_names[names] = self._slow(text)
            self._refined_keys += 1
            if self._refined_keys > MAX_KEYS:
                self._forget()
        return group

    def _quoted_key(self, text: str) -> bytes | str:
        """The key of a statement with string literals: the text between them. A quote of the
        other kind must then pair up between every two literals, else (or with backslashes,
        dollar quoting or comments about) the cheap form is the key."""
        for unsafe in _UNSAFE:
            if unsafe in text:
                return normalize_query(text)
        parts = text.split("'")
        outside = parts[::2]
        if '"' in text and any(part.count('"') % 2 for part in outside):
            return normalize_query(text)
        return "'".join(outside).encode("utf-8", "surrogatepass").translate(DIGITS_TO_ZERO)

    def _learn(self, key: bytes | str, text: str) -> QueryGroup | _Refined:
        if len(self.keys) >= MAX_KEYS:
            self._forget()
        if isinstance(key, bytes) and _NAME_DIGIT.search(key):
            found: QueryGroup | _Refined = _Refined()
        else:
            found = self._slow(text, key if isinstance(key, str) else None)
        self.keys[key] = found
        return found

    def _slow(self, text: str, cheap: str | None = None) -> QueryGroup:
        """The group of `text` by its cheap form, then by its fingerprint."""
        if cheap is None:
            cheap = normalize_query(text)
        group = self._by_cheap.get(cheap)
        if group is not None:
            return group
        identity = fingerprint(text) or cheap
        group = self.groups.get(identity)
        if group is None:
            if len(self.groups) >= MAX_GROUPS:
                self._fold()
            group = self.groups[identity] = QueryGroup(cheap, statement_kind(cheap))
        if len(self._by_cheap) >= MAX_CHEAP:
            self._by_cheap.clear()
        self._by_cheap[cheap] = group
        return group

    def _forget(self) -> None:
        """Drop the caches (not the groups): they fill again from the next statements."""
        self.keys.clear()
        self._by_cheap.clear()
        self._refined_keys = 0

    def _fold(self) -> None:
        """Keep the half of the groups with the most total time; fold the rest into "other"."""
        ranked = sorted(self.groups.items(), key=lambda item: -item[1].total)
        keep = MAX_GROUPS // 2
        for _, group in ranked[keep:]:
            other = self.other.get(group.kind)
            if other is None:
                other = self.other[group.kind] = QueryGroup(OTHER, group.kind)
            other.absorb(group)
            self.folded += 1
        self.groups = dict(ranked[:keep])
        self._forget()  # the caches point at folded groups

    def all_groups(self) -> list[QueryGroup]:
        """The kept groups, then the "other" ones."""
        return [*self.groups.values(), *self.other.values()]
