"""Logs in the server's own language, read through PostgreSQL's own gettext catalogs.

With `lc_messages = 'de_DE.UTF-8'` the server writes `FEHLER:  Division durch Null` where an
English server writes `ERROR:  division by zero`. The translations come from the catalog the
server itself uses, `postgres-NN.mo` (Debian's server package installs one per language under
/usr/share/locale/<lang>/LC_MESSAGES/). From it this module builds a `Language`:

- the severities and the stderr labels of continuation lines (`FEHLER` → ERROR, `ANWEISUNG:  `
  → STATEMENT), which the parsers need to split a log at all;
- a `MessageRewriter` (tasks.logs.rewrite), which turns each message of tasks.logs.messages
  back into English, so every detector works the same in every language.

Without the catalog on this host, the severities and labels still come from LANGUAGE_WORDS
(generated from every catalog PostgreSQL ships, scripts/generate_language_words.py): entries
are split and counted by severity and SQLSTATE, and the Language carries a warning naming the
fix. A language PostgreSQL does not ship at all is split on the shape of a stderr line
(`WORD:  message`) and its severities guessed from the SQLSTATE.

Catalogs are read with polib: the English plural msgid is needed to write a plural message
back, and the standard library's gettext drops it when it loads a catalog.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import polib

from tasks.logs import messages
from tasks.logs.entry import CONTEXT, DETAIL, MESSAGE, SEVERITY, LogEntry
from tasks.logs.language_words import LANGUAGE_WORDS, WORDS_FROM
from tasks.logs.rewrite import MessageRewriter, build_rewriter, read_catalog, translation

SQLSTATE = LogEntry._fields.index("sqlstate")
assert SQLSTATE == SEVERITY + 1 and MESSAGE == SQLSTATE + 1  # translate() rebuilds entries around them
DEFAULT_LOCALE_DIRS = "/usr/share/locale:/usr/lib/postgresql/*/share/locale"
SAMPLE_BYTES = 64 * 1024  # of a log's start, to detect its language

_ENGLISH_SEVERITIES = {word: word for word in messages.SEVERITIES}
_ENGLISH_TOKENS = {f"{word}:  ": word for word in (*messages.SEVERITIES, *dict.fromkeys(messages.LABELS.values()))}
_LOCALE_NAME = re.compile(
    r"^(?P<lang>[A-Za-z]{2,8})(?:[_-](?P<region>[A-Za-z0-9]{2,8}))?(?:\.[\w-]{1,20})?(?:@\w{1,20})?$"
)


@dataclass(frozen=True)
class Language:
    """How to read a log written with one lc_messages.

    severities: severity as written (csvlog/jsonlog field, stderr word) -> English.
    tokens: what follows a stderr prefix, separator included ("FEHLER:  ", "TIPP:  ") -> English
        severity or label; None: the language is unknown, any "WORD:  " is split on.
    rewriter: rewrites messages to English; None without a catalog (or for English).
    """

    lc_messages: str
    code: str
    severities: Mapping[str, str]
    tokens: Mapping[str, str] | None
    rewriter: MessageRewriter | None = None
    catalog: str | None = None
    warning: str | None = None

    def __post_init__(self) -> None:
        # translate() reads csvlog/jsonlog severities and the stderr parser's tokens alike.
        object.__setattr__(self, "_lookup", {**(self.tokens or {}), **self.severities})

    @property
    def english(self) -> bool:
        return self.code == "en"

    def translate(self, entries: list[LogEntry]) -> list[LogEntry]:
        """`entries` with English severities and, where known, English messages, DETAIL and CONTEXT."""
        severities = self._lookup
        rewriter = self.rewriter
        if rewriter is None:
            rewrite = rewrite_lines = _unknown
        else:
            rewrite, rewrite_lines = rewriter.rewrite, rewriter.rewrite_lines
        new = tuple.__new__
        out = []
        append = out.append
        for entry in entries:
            severity = entry[SEVERITY]
            english = severities.get(severity)
            if english is None:
                english = _severity_from_state(severity, entry[SQLSTATE])
            message = entry[MESSAGE]
            # A multi-line message (an autovacuum report) is several msgids, one per line.
            new_message = (rewrite_lines(message) if "\n" in message else rewrite(message)) if message else None
            if entry[DETAIL] is None and entry[CONTEXT] is None:
                # Most entries: one line, rebuilt around its severity and message in one step.
                if new_message is None:
                    append(
                        entry if english == severity else new(LogEntry, (*entry[:SEVERITY], english, *entry[SQLSTATE:]))
                    )
                else:
                    append(
                        new(LogEntry, (*entry[:SEVERITY], english, entry[SQLSTATE], new_message, *entry[MESSAGE + 1 :]))
                    )
                continue
            values = list(entry)
            values[SEVERITY] = english
            if new_message is not None:
                values[MESSAGE] = new_message
            for field in (DETAIL, CONTEXT):
                if values[field]:
                    rewritten = rewrite_lines(values[field])
                    if rewritten is not None:
                        values[field] = rewritten
            append(new(LogEntry, values))
        return out


def _unknown(text: str) -> None:
    return None  # without a catalog, messages stay as logged


def _severity_from_state(word: str | None, sqlstate: str | None) -> str | None:
    """A severity word of an unknown language: what its SQLSTATE says (00000 is LOG, class 01 a
    WARNING, others an ERROR), or the word as it is."""
    word = word.rstrip(": ") if word else word  # a stderr token: "WORD:  "
    if not sqlstate or not word:
        return word
    if sqlstate == "00000":
        return "LOG"
    if sqlstate.startswith("01"):
        return "WARNING"
    return "ERROR"


ENGLISH = Language(lc_messages="C", code="en", severities=_ENGLISH_SEVERITIES, tokens=_ENGLISH_TOKENS)


# --- choosing the catalog ------------------------------------------------------------------


def major_version(version_num: int) -> float:
    """The major version of a server_version_num: 150004 -> 15, 90624 -> 9.6."""
    if version_num >= 100000:
        return version_num // 10000
    return version_num // 10000 + version_num // 100 % 100 / 10


def is_english(lc_messages: str) -> bool:
    """Whether the server writes its messages untranslated (C, POSIX, en_*)."""
    value = (lc_messages or "").strip().lower()
    return value in ("c", "posix") or value.startswith(("c.", "en_", "en.", "en@")) or value == "en"


def locale_codes(lc_messages: str) -> list[str]:
    """The catalog directories to look in for `lc_messages`, most specific first:
    'de_DE.UTF-8' -> ['de_DE', 'de'], 'zh_CN.utf8' -> ['zh_CN', 'zh']."""
    m = _LOCALE_NAME.match((lc_messages or "").strip())
    if not m:
        return []
    lang = m.group("lang").lower()
    region = m.group("region")
    return [f"{lang}_{region.upper()}", lang] if region else [lang]


def locale_dirs(value: str | Sequence[str] | None = None) -> list[str]:
    """The directories to search for catalogs: a ':'-separated string or a list, globs
    expanded (/usr/lib/postgresql/*/share/locale); None: DEFAULT_LOCALE_DIRS."""
    if value is None:
        value = DEFAULT_LOCALE_DIRS
    parts = value.split(":") if isinstance(value, str) else list(value)
    out: list[str] = []
    for part in parts:
        if not part:
            continue
        for path in sorted(glob.glob(part)) if glob.has_magic(part) else [part]:
            if path not in out:
                out.append(path)
    return out


_CATALOG_NAME = re.compile(r"^postgres-(\d+(?:\.\d+)?)\.mo$")


def find_catalog(lc_messages: str, major: float | None = None, dirs: Sequence[str] | None = None) -> str | None:
    """The path of postgres-NN.mo for `lc_messages`: the server's major version if there, else
    the nearest one (the newer on a tie); without a version, the newest."""
    for code in locale_codes(lc_messages):
        found: list[tuple[float, str]] = []
        for directory in locale_dirs(dirs):
            for path in glob.glob(os.path.join(glob.escape(directory), code, "LC_MESSAGES", "postgres-*.mo")):
                m = _CATALOG_NAME.match(os.path.basename(path))
                if m:
                    found.append((float(m.group(1)), path))
        if found:
            if major is None:
                return max(found)[1]
            return min(found, key=lambda item: (abs(item[0] - major), -item[0]))[1]
    return None


def known_language(lc_messages: str) -> bool:
    """Whether PostgreSQL writes `lc_messages` in a language it has a translation for (or in English)."""
    return is_english(lc_messages) or any(code in LANGUAGE_WORDS for code in locale_codes(lc_messages))


def check_lc_messages(value: str) -> str | None:
    """Why `value` is not a usable lc_messages for a task's config, or None."""
    if not value or known_language(value):
        return None
    if not locale_codes(value):
        return f"lc_messages {value!r} is not a locale name (like 'de_DE.UTF-8'); give the server's SHOW lc_messages"
    return (
        f"lc_messages {value!r}: PostgreSQL has no translation in that language (it ships "
        f"{', '.join(sorted(LANGUAGE_WORDS))}; any other is written in English); give the server's "
        "SHOW lc_messages, or leave lc_messages empty to detect the language from the log"
    )


def load_language(lc_messages: str, major: float | None = None, dirs: Sequence[str] | None = None) -> Language:
    """The Language of a log written with `lc_messages` by a server of version `major`
    (None: unknown), with the catalogs found in `dirs` (None: DEFAULT_LOCALE_DIRS)."""
    value = (lc_messages or "").strip()
    if is_english(value):
        return Language(value or "C", "en", _ENGLISH_SEVERITIES, _ENGLISH_TOKENS)
    codes = locale_codes(value)
    path = find_catalog(value, major, dirs)
    if path is not None:
        catalog = _catalog(path)
        return Language(value, catalog.code, catalog.severities, catalog.tokens, catalog.rewriter, path)
    code = next((c for c in codes if c in LANGUAGE_WORDS), None)
    version = f"{major:g}" if major is not None else "NN"
    where = ":".join(locale_dirs(dirs)) or "(none)"
    wanted = f"{codes[-1] if codes else '<lang>'}/LC_MESSAGES/postgres-{version}.mo"
    fix = (
        f"install the PostgreSQL server package (postgresql-{version}) on the worker host, or put its "
        f"{wanted} in a directory named by LOG_LOCALE_DIRS (searched: {where}), or set lc_messages = 'C' on the server"
    )
    if code is not None:
        words = LANGUAGE_WORDS[code]
        return Language(
            value,
            code,
            {**_ENGLISH_SEVERITIES, **words["severities"]},
            {**_ENGLISH_TOKENS, **words["tokens"]},
            warning=f"lc_messages is {value!r} and this worker has no PostgreSQL message catalog for it "
            f"({wanted}): entries are counted by severity and SQLSTATE, but findings that read message "
            f"texts (deadlocks, lock waits, slow queries, failed logins, ...) are missed; {fix}",
        )
    return Language(
        value,
        codes[-1] if codes else "",
        _ENGLISH_SEVERITIES,
        None,
        warning=f"lc_messages is {value!r}, a language PostgreSQL {WORDS_FROM} has no translation for: entries "
        "are split as 'WORD:  message' and counted by SQLSTATE, their messages are not read; set "
        "lc_messages = 'C' on the server",
    )


def detect_language(sample: bytes | str) -> str | None:
    """The language (catalog code) the start of a log is written in, from its severities,
    labels and most frequent messages; None when nothing in it is translated."""
    text = sample.decode("utf-8", "replace") if isinstance(sample, bytes) else sample
    best, best_score = None, 0
    for code, needles in _detection_needles().items():
        score = sum(text.count(needle) for needle in needles)
        if score > best_score:
            best, best_score = code, score
    return best


@lru_cache(maxsize=1)
def _detection_needles() -> dict[str, tuple[str, ...]]:
    out = {}
    for code, words in LANGUAGE_WORDS.items():
        needles = [token for token in words["tokens"] if token not in _ENGLISH_TOKENS]
        for word in words["severities"]:
            if word not in _ENGLISH_SEVERITIES:
                needles += [f",{word},", f'"{word}"']
        needles += [marker for marker in words["markers"] if len(marker) >= 6]
        out[code] = tuple(dict.fromkeys(needles))
    return out


# --- reading a catalog ---------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    code: str
    severities: dict[str, str]
    tokens: dict[str, str]
    markers: tuple[str, ...]
    rewriter: MessageRewriter


@lru_cache(maxsize=16)
def _catalog(path: str) -> Catalog:
    code = os.path.basename(os.path.dirname(os.path.dirname(path)))
    entries = read_catalog(path)
    severities, tokens = catalog_words(entries)
    return Catalog(
        code=code,
        severities={**_ENGLISH_SEVERITIES, **severities},
        tokens={**_ENGLISH_TOKENS, **tokens},
        markers=catalog_markers(entries),
        rewriter=build_rewriter(entries),
    )


def catalog_words(entries: Mapping[str, polib.MOEntry]) -> tuple[dict[str, str], dict[str, str]]:
    """(severities, tokens) of a catalog, only those that differ from English. Two severities
    translated alike (Georgian NOTICE and WARNING) read as the more severe."""
    severities: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for word in messages.SEVERITIES:  # least severe first: a shared word ends as the most severe
        translated = translation(entries, word)
        if translated != word:
            severities[translated] = word
            tokens[f"{translated}:  "] = word  # elog.c writes "%s:  " after the translated severity
    for msgid, label in messages.LABELS.items():
        token = translation(entries, msgid).split("%", 1)[0]
        if token and token != f"{label}:  ":
            tokens[token] = label
    return severities, tokens


def catalog_markers(entries: Mapping[str, polib.MOEntry]) -> tuple[str, ...]:
    """The translated starts of frequent messages (messages.MARKERS), for detect_language."""
    out = []
    for start in messages.MARKERS:
        for msgid, entry in entries.items():
            if msgid.startswith(start) and entry.msgstr:
                literal = entry.msgstr.split("%", 1)[0]
                if literal and literal != msgid.split("%", 1)[0]:
                    out.append(literal)
    return tuple(dict.fromkeys(out))
