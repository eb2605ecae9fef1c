"""Rewrite translated log messages to their English originals, with a PostgreSQL catalog.

Each message of tasks.logs.messages becomes a template per translated form: a regex built from
the translation (literals escaped, each printf conversion a group) and the English msgid to
write the match back into. Translations reorder arguments (`%2$s ... %1$s`), choose plural forms
(ngettext: the English form is chosen by the count again), and some arguments are words or
messages of their own ("execute", lock tags): all are put back in their English places.

Matching stays cheap and linear: templates are dispatched on the literal start of their
translation and tried only when their longest literal is in the message; a text argument runs
to the first occurrence of the literal after it and never backtracks (an atomic group).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polib

from tasks.logs import messages


def read_catalog(path: str) -> dict[str, polib.MOEntry]:
    """msgid -> entry, for the translated messages of a .mo file."""
    out = {}
    for entry in polib.mofile(path):
        if entry.msgid and (entry.msgstr or any(entry.msgstr_plural.values())):
            out[entry.msgid] = entry
    return out


def translation(entries: Mapping[str, polib.MOEntry], msgid: str) -> str:
    entry = entries.get(msgid)
    return entry.msgstr if entry is not None and entry.msgstr else msgid


_CONVERSION = re.compile(
    r"%(?:(\d+)\$)?[-+ #0']*(\d+|\*)?(?:\.(\d*|\*))?(?:hh|h|ll|l|L|q|j|z|Z|t)?([diouxXeEfFgGaAcspm%])"
)
_KIND = {**dict.fromkeys("diu", "int"), **dict.fromkeys("oxX", "hex"), **dict.fromkeys("eEfFgGaA", "float")}
_KIND.update(c="char", s="text", p="text", m="text")
_GROUP = {
    "int": r"( *[-+]?\d+)",
    "hex": r"([0-9A-Fa-f]+)",
    "float": r"( *[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|inf|nan|-inf))",
    "char": r"(.)",
    "text": r"(.*?)",
}
_ERRNO = -1  # %m, the errno text: no argument of its own


def parse_format(fmt: str) -> list[str | tuple[int, str]]:
    """A printf format as literal strings and (argument index, kind) conversions."""
    out: list[str | tuple[int, str]] = []
    pos = 0
    following = 0  # the next sequential argument
    literal = ""
    for m in _CONVERSION.finditer(fmt):
        literal += fmt[pos : m.start()]
        pos = m.end()
        conv = m.group(4)
        if conv == "%":
            literal += "%"
            continue
        if literal:
            out.append(literal)
            literal = ""
        if conv == "m":
            out.append((_ERRNO, "text"))
            continue
        following += (m.group(2) == "*") + (m.group(3) == "*")  # a '*' width takes an argument
        index = int(m.group(1)) - 1 if m.group(1) else following
        following = index + 1
        out.append((index, _KIND[conv]))
    literal += fmt[pos:]
    if literal:
        out.append(literal)
    return out


@dataclass(frozen=True)
class _Part:
    """One msgid of a template (a composed message has several): its English output."""

    group: int | None  # the group that tells whether an optional part is present
    english: str  # str.format string, one {} per English conversion
    plural: str | None  # the plural English form, for ngettext messages
    count: int | None  # the argument that chooses between them
    args: tuple[int, ...]  # the argument of each {} of english


class _Template:
    """One translated form of one message: its regex, and how to write the match in English."""

    __slots__ = ("prefix", "needle", "regex", "parts", "groups", "fixed", "words", "nested", "weight", "simple")

    def __init__(self, prefix, needle, regex, parts, groups, fixed, words, nested, weight) -> None:
        self.prefix = prefix  # literal start of the translation: the dispatch key
        self.needle = needle  # its longest literal, for templates without a literal start
        self.regex = regex
        self.parts = parts
        self.groups = groups  # (part, argument) -> regex group
        self.fixed = fixed  # (part, argument) -> English value (a word expanded into the prefix)
        self.words = words  # (part, argument) -> {translated word: English}
        self.nested = nested  # (part, argument) pairs rewritten as messages of their own
        self.weight = weight  # literal characters: the more specific template is tried first
        # Most templates (durations, statements): one part, each argument straight from a group.
        self.simple = None
        part = parts[0]
        if len(parts) == 1 and part.plural is None and not fixed and not words and not nested:
            keys = [(0, arg) for arg in part.args]
            if all(key in groups for key in keys):
                self.simple = (part.english, tuple(groups[key] for key in keys))

    def render(self, m: re.Match, nested: MessageRewriter | None) -> str:
        simple = self.simple
        if simple is not None:
            english, groups = simple
            if len(groups) == 1:
                return english.format(m.group(groups[0]))
            return english.format(*m.group(*groups)) if groups else english
        out = []
        for index, part in enumerate(self.parts):
            if part.group is not None and m.group(part.group) is None:
                continue
            values = [self._value(m, index, arg, nested) for arg in part.args]
            english = part.english
            if part.plural is not None:
                count = self._value(m, index, part.count, None).strip()
                english = part.english if count in ("1", "-1") else part.plural
            out.append(english.format(*values))
        return "".join(out)

    def _value(self, m: re.Match, part: int, arg: int | None, nested: MessageRewriter | None) -> str:
        key = (part, arg)
        fixed = self.fixed.get(key)
        if fixed is not None:
            return fixed
        group = self.groups.get(key)
        if group is None:
            return "?"  # the translation leaves this argument out
        value = m.group(group) or ""
        words = self.words.get(key)
        if words is not None:
            return words.get(value, value)
        if key in self.nested and nested is not None:
            return nested.rewrite(value) or value
        return value


def _english_format(pieces: list[str | tuple[int, str]]) -> tuple[str, tuple[int, ...]]:
    fmt, args = [], []
    for piece in pieces:
        if isinstance(piece, str):
            fmt.append(piece.replace("{", "{{").replace("}", "}}"))
        else:
            fmt.append("{}")
            args.append(piece[0])
    return "".join(fmt), tuple(args)


def _count_argument(singular: str, plural: str) -> int | None:
    """The argument that chooses between two English forms: the last number before the first
    difference between them ("(%d second apart)" / "(%d seconds apart)")."""
    same = os.path.commonprefix([singular, plural])
    count = None
    for piece in parse_format(same):
        if not isinstance(piece, str) and piece[1] == "int":
            count = piece[0]
    if count is None:
        count = next((p[0] for p in parse_format(singular) if not isinstance(p, str) and p[1] == "int"), None)
    return count


class _Builder:
    """Builds the regex of a translated template part by part, numbering its groups."""

    def __init__(self) -> None:
        self.pattern: list[str] = []
        self.group = 0
        self.groups: dict[tuple[int, int], int] = {}

    def add(self, part: int, pieces: list, words: Mapping[int, Mapping[str, str]], last: bool = False) -> None:
        """Add a part; `last`: nothing follows it but the end of the message."""
        pending: list[str] = []  # conversions since the last literal
        pending_text = False
        last_text = -1  # index in pending of a text conversion just before
        for piece in pieces:
            if isinstance(piece, str):
                literal = re.escape(piece)
                if pending_text:
                    # A text argument runs to the first occurrence of the literal after it and
                    # never gives it back: matching stays linear in the message.
                    self.pattern.append("(?>" + "".join(pending) + literal + ")")
                else:
                    self.pattern.append("".join(pending) + literal)
                pending, pending_text, last_text = [], False, -1
                continue
            arg, kind = piece
            self.group += 1
            self.groups[(part, arg)] = self.group
            if arg in words:
                alternatives = sorted(words[arg], key=len, reverse=True)
                pending.append("(" + "|".join(re.escape(w) for w in alternatives) + ")")
                last_text = -1
                continue
            if kind == "text":
                if last_text >= 0:
                    # Adjacent text arguments cannot be told apart: all but the last are empty
                    # (written back in the same order, the text is the same).
                    pending[last_text] = "()"
                last_text = len(pending)
                pending_text = True
            else:
                last_text = -1
            pending.append(_GROUP[kind])
        if last and pending_text and last_text == len(pending) - 1:
            pending[last_text] = "(.*)"  # runs to the end: greedy is the same match, found at once
        self.pattern.append("".join(pending))

    def optional(self, part: int, pieces: list, words) -> int:
        self.group += 1
        wrapper = self.group
        self.pattern.append("(")
        self.add(part, pieces, words)
        self.pattern.append(")?")
        return wrapper


def _templates_for(
    msgid: str,
    entry: polib.MOEntry,
    entries: Mapping[str, polib.MOEntry],
    words_of: Mapping[int, tuple[str, ...]],
    nested_args: tuple[int, ...],
) -> list[_Template]:
    """The templates of one catalog message: one per plural form, one per word it starts with."""
    words = {
        arg: {**{translation(entries, w): w for w in english_words}, **{w: w for w in english_words}}
        for arg, english_words in words_of.items()
    }
    extra = [(m, entries.get(m)) for m in messages.COMPOSED.get(msgid, ())]
    if entry.msgid_plural:
        forms = [text for _, text in sorted(entry.msgstr_plural.items()) if text]
        english, args = _english_format(parse_format(msgid))
        plural, plural_args = _english_format(parse_format(entry.msgid_plural))
        if plural_args != args:
            return []
        first = _Part(None, english, plural, _count_argument(msgid, entry.msgid_plural), args)
    else:
        forms = [entry.msgstr]
        english, args = _english_format(parse_format(msgid))
        first = _Part(None, english, None, None, args)
    out = []
    for form in dict.fromkeys(forms):
        if form == msgid and not words and not nested_args:
            continue  # written as in English
        pieces = parse_format(form)
        variants: list[tuple[list, dict]] = [(pieces, {})]
        head = pieces[0] if pieces else None
        if isinstance(head, tuple) and head[0] in words:
            # A leading word becomes the literal start of one variant per translation of it,
            # so the template is found by its start like the others.
            variants = []
            for translated, english_word in words[head[0]].items():
                rest = pieces[1:]
                if rest and isinstance(rest[0], str):
                    variant = [translated + rest[0], *rest[1:]]
                else:
                    variant = [translated, *rest]
                variants.append((variant, {(0, head[0]): english_word}))
        for variant, fixed in variants:
            template = _compile(variant, fixed, first, extra, entries, words, nested_args)
            if template is not None:
                out.append(template)
    return out


def _compile(pieces, fixed, first, extra, entries, words, nested_args) -> _Template | None:
    builder = _Builder()
    builder.add(0, pieces, {arg: w for arg, w in words.items() if (0, arg) not in fixed}, last=not extra)
    parts = [first]
    literals = [p for p in pieces if isinstance(p, str)]
    for index, (msgid, entry) in enumerate(extra, start=1):
        translated = entry.msgstr if entry is not None and entry.msgstr else msgid
        wrapper = builder.optional(index, parse_format(translated), {})
        english, args = _english_format(parse_format(msgid))
        parts.append(_Part(wrapper, english, None, None, args))
    builder.pattern.append(r"\Z")
    try:
        regex = re.compile("".join(builder.pattern), re.DOTALL)
    except re.error:
        return None
    prefix = pieces[0] if pieces and isinstance(pieces[0], str) else ""
    after = [p for p in pieces[1:] if isinstance(p, str)]
    return _Template(
        prefix=prefix,
        needle=max(after or literals or [""], key=len),
        regex=regex,
        parts=tuple(parts),
        groups=builder.groups,
        fixed=fixed,
        words={(0, arg): w for arg, w in words.items()},
        nested=frozenset((0, arg) for arg in nested_args),
        weight=sum(len(p) for p in literals),
    )


_KEY = 5  # characters of a message that pick its candidate templates


class MessageRewriter:
    """Rewrites translated messages to English. Templates are dispatched on the literal start of
    their translation, so a message costs a dict lookup or two and the regexes of the few
    templates that start like it, never a try of every template."""

    def __init__(
        self, templates: Iterable[_Template], nested: MessageRewriter | None = None, position: str | None = None
    ) -> None:
        self.nested = nested
        # stderr logs end a message with the error's position: " at character 15", translated.
        self._position = None
        if position:
            before, _, after = position.partition("%d")
            self._position = re.compile(re.escape(before) + r"(\d+)" + re.escape(after) + r"\Z")
        long: dict[str, list[_Template]] = {}
        short: dict[int, dict[str, list[_Template]]] = {}
        bare: list[_Template] = []
        count = 0
        for template in templates:
            count += 1
            prefix = template.prefix
            if len(prefix) >= _KEY:
                long.setdefault(prefix[:_KEY], []).append(template)
            elif prefix:
                short.setdefault(len(prefix), {}).setdefault(prefix, []).append(template)
            else:
                bare.append(template)
        order = lambda t: (-len(t.prefix), -t.weight)  # noqa: E731
        self._long = {key: sorted(group, key=order) for key, group in long.items()}
        self._short = [
            (length, {key: sorted(group, key=order) for key, group in groups.items()})
            for length, groups in sorted(short.items(), reverse=True)
        ]
        self._bare = sorted(bare, key=order)
        self.size = count

    def rewrite(self, message: str) -> str | None:
        """The English form of `message`, or None when it is not a known translated message."""
        # A template is tried only when its start and its longest other literal are in the
        # message (two C-speed tests): a regex that cannot match is never run.
        group = self._long.get(message[:_KEY])
        if group is not None:
            for template in group:
                if message.startswith(template.prefix) and template.needle in message:
                    m = template.regex.match(message)
                    if m is not None:
                        return template.render(m, self.nested)
        for length, groups in self._short:
            group = groups.get(message[:length])
            if group is not None:
                for template in group:
                    if template.needle in message:
                        m = template.regex.match(message)
                        if m is not None:
                            return template.render(m, self.nested)
        for template in self._bare:
            if template.needle in message:
                m = template.regex.match(message)
                if m is not None:
                    return template.render(m, self.nested)
        if self._position is not None:
            m = self._position.search(message)
            if m is not None:
                inner = self.rewrite(message[: m.start()])
                if inner is not None:
                    return f"{inner} at character {m.group(1)}"
        return None

    def rewrite_lines(self, text: str) -> str | None:
        """`text` rewritten whole, or else line by line (DETAIL and CONTEXT hold several
        messages); None when nothing in it is known."""
        whole = self.rewrite(text)
        if whole is not None or "\n" not in text:
            return whole
        lines = text.split("\n")
        changed = False
        for index, line in enumerate(lines):
            new = self.rewrite(line)
            if new is not None:
                lines[index] = new
                changed = True
        return "\n".join(lines) if changed else None


def _argument_map(table: Mapping[str, object], msgid: str):
    for start, value in table.items():
        if msgid.startswith(start):
            return value
    return None


def build_rewriter(entries: Mapping[str, polib.MOEntry]) -> MessageRewriter:
    """The rewriter of every message of tasks.logs.messages a catalog translates."""
    nested = MessageRewriter(_templates(entries, messages.NESTED_MESSAGES))
    position = translation(entries, " at character %d")
    return MessageRewriter(_templates(entries, messages.MESSAGE_STARTS), nested, position if "%d" in position else None)


def _templates(entries: Mapping[str, polib.MOEntry], starts: tuple[str, ...]) -> list[_Template]:
    composed_parts = {part for parts in messages.COMPOSED.values() for part in parts}
    out = []
    for msgid, entry in entries.items():
        if not msgid.startswith(starts) or msgid in composed_parts:
            continue
        words = _argument_map(messages.WORD_ARGUMENTS, msgid) or {}
        nested = _argument_map(messages.NESTED_ARGUMENTS, msgid) or ()
        out.extend(_templates_for(msgid.rstrip("\n"), _stripped(entry), entries, words, nested))
    return out


def _stripped(entry: polib.MOEntry) -> polib.MOEntry:
    """The entry without the newline some msgids end with (a line of a composed report)."""
    if not entry.msgid.endswith("\n"):
        return entry
    copy = polib.MOEntry(
        msgid=entry.msgid.rstrip("\n"),
        msgstr=entry.msgstr.rstrip("\n"),
        msgid_plural=entry.msgid_plural.rstrip("\n") if entry.msgid_plural else "",
    )
    copy.msgstr_plural = {k: v.rstrip("\n") for k, v in entry.msgstr_plural.items()}
    return copy
