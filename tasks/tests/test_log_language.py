"""Reading logs in the server's language: PostgreSQL's catalogs mapped back to English (pure
logic, on the catalogs the PostgreSQL server package installs; scripts/ensure-system.sh)."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from tasks.logs import detectors, messages, sqlstates
from tasks.logs.detectors import LogAnalyzer
from tasks.logs.language import (
    check_lc_messages,
    detect_language,
    find_catalog,
    load_language,
    locale_codes,
    major_version,
)
from tasks.logs.language_words import LANGUAGE_WORDS
from tasks.logs.parser import make_parser
from tasks.logs.rewrite import parse_format, read_catalog

ROOT = Path(__file__).resolve().parents[2]
LOCALES = "/usr/share/locale"


@pytest.fixture(scope="module")
def catalogs() -> dict[str, str]:
    """Every postgres-NN.mo of the newest version on this machine, by language."""
    from scripts.generate_language_words import newest_catalogs

    _, found = newest_catalogs()
    assert {"de", "ru"} <= set(found), "install the PostgreSQL server package (its catalogs)"
    return found


@pytest.fixture(scope="module")
def german():
    return load_language("de_DE.UTF-8", 15)


@pytest.fixture(scope="module")
def russian():
    return load_language("ru_RU.UTF-8", 15)


def c_format(fmt: str, values: dict[int, str]) -> str:
    """printf as PostgreSQL's snprintf would, positional arguments (%2$s) included."""
    out = []
    for piece in parse_format(fmt):
        out.append(piece if isinstance(piece, str) else values[piece[0]])
    return "".join(out)


def sample_values(fmt: str) -> dict[int, str]:
    values = {-1: "No such file or directory"}
    for piece in parse_format(fmt):
        if not isinstance(piece, str):
            index, kind = piece
            values[index] = {"int": str(index + 7), "hex": "1F", "float": "2.5", "char": "c"}.get(kind, f"v{index}")
    return values


def test_formats_are_read_with_their_positional_arguments():
    assert parse_format('"%2$s"またはその近辺で%1$s') == ['"', (1, "text"), '"またはその近辺で', (0, "text")]
    assert parse_format("%ld.%03d ms (%.1f%%): %m") == [
        (0, "int"),
        ".",
        (1, "int"),
        " ms (",
        (2, "float"),
        "%): ",
        (-1, "text"),
    ]


def test_every_message_the_analysis_reads_is_written_back_in_english_in_every_language(catalogs):
    """Each msgid of messages.MESSAGE_STARTS, translated and filled in as the server would,
    comes back as the English message with the same arguments."""
    for code, path in catalogs.items():
        language = load_language(code, None, [str(Path(path).parents[2])])
        entries = read_catalog(path)
        translated_alike: dict[str, int] = {}
        for entry in entries.values():
            translated_alike[entry.msgstr] = translated_alike.get(entry.msgstr, 0) + 1
        checked = 0
        for msgid, entry in entries.items():
            if not msgid.startswith(messages.MESSAGE_STARTS) or msgid.endswith("\n") or entry.msgid_plural:
                continue
            words = next((w for s, w in messages.WORD_ARGUMENTS.items() if msgid.startswith(s)), {})
            values = sample_values(msgid)
            for index, english_words in words.items():
                values[index] = english_words[0]
            expected = c_format(msgid, values)
            translated_values = dict(values)
            for index, english_words in words.items():
                word = entries.get(english_words[0])
                translated_values[index] = word.msgstr if word else english_words[0]
            translated = c_format(entry.msgstr, translated_values)
            if translated == expected or translated_alike[entry.msgstr] > 1:
                continue  # as in English; or two messages translated alike, which no one can tell apart
            assert language.rewriter.rewrite(translated) == expected, (code, msgid, entry.msgstr)
            checked += 1
        assert checked > 100, code


def test_plural_messages_take_the_english_form_of_their_count(russian, german):
    warning = "контрольные точки происходят слишком часто (через {} сек.)"
    assert russian.rewriter.rewrite(warning.format(1)) == "checkpoints are occurring too frequently (1 second apart)"
    assert russian.rewriter.rewrite(warning.format(22)) == "checkpoints are occurring too frequently (22 seconds apart)"
    assert german.rewriter.rewrite("Checkpoints passieren zu oft (alle 0 Sekunden)") == (
        "checkpoints are occurring too frequently (0 seconds apart)"
    )


def test_words_and_nested_messages_in_arguments_are_translated_too(german, russian):
    assert (
        german.rewriter.rewrite("Dauer: 0.5 ms  Ausführen S_1: SELECT $1") == "duration: 0.5 ms  execute S_1: SELECT $1"
    )
    assert german.rewriter.rewrite("Ausführen Fetch von S_1/C_2: SELECT 1") == "execute fetch from S_1/C_2: SELECT 1"
    assert german.rewriter.rewrite("Serverprozess (PID 42) wurde von Signal 9 beendet: Getötet") == (
        "server process (PID 42) was terminated by signal 9: Getötet"
    )
    assert russian.rewriter.rewrite(
        'процесс 12 продолжает ожидать в режиме ShareLock блокировку "транзакция 731" в течение 100.153 мс'
    ) == ("process 12 still waiting for ShareLock on transaction 731 after 100.153 ms")
    # A message made of several msgids: the optional parts that are there, in English.
    assert russian.rewriter.rewrite("подключение авторизовано: пользователь=app база=shop приложение=psql") == (
        "connection authorized: user=app database=shop application_name=psql"
    )


def test_the_error_position_stderr_adds_is_kept(german, russian):
    assert german.rewriter.rewrite("storniere Anfrage wegen Zeitüberschreitung einer Sperre bei Zeichen 15") == (
        "canceling statement due to lock timeout at character 15"
    )
    assert russian.rewriter.rewrite('отношение "missing" не существует (символ 17)') == (
        'relation "missing" does not exist at character 17'
    )


def test_detail_and_context_are_rewritten_line_by_line(german):
    detail = (
        "Prozess 7 wartet auf ShareLock-Sperre auf Transaktion 9; blockiert von Prozess 8.\n"
        "Prozess 8 wartet auf ShareLock-Sperre auf Transaktion 10; blockiert von Prozess 7.\n"
        "Prozess 7: UPDATE t SET v = 1\n  WHERE id = 2"
    )
    assert german.rewriter.rewrite_lines(detail) == (
        "Process 7 waits for ShareLock on transaction 9; blocked by process 8.\n"
        "Process 8 waits for ShareLock on transaction 10; blocked by process 7.\n"
        "Process 7: UPDATE t SET v = 1\n  WHERE id = 2"
    )
    report = (
        "automatisches Vacuum der Tabelle »shop.public.orders«: Index-Scans: 0\n"
        "Systembenutzung: CPU: Benutzer: 0,10 s, System: 0,00 s, verstrichen: 75,20 s"
    )
    assert german.rewriter.rewrite_lines(report) == (
        'automatic vacuum of table "shop.public.orders": index scans: 0\n'
        "system usage: CPU: user: 0.10 s, system: 0.00 s, elapsed: 75.20 s"
    )


def test_an_autovacuum_report_is_rewritten_line_by_line_and_fills_the_workload_report(german):
    # As a German server wrote it (lc_messages de_DE.UTF-8, PostgreSQL 15): one message of
    # several msgids, one per line; the lines the analysis does not read stay as logged.
    log = (
        "2026-11-29 10:42:25.413 UTC [26311] LOG:  automatisches Vacuum der Tabelle "
        "»postgres.public.pgbench_accounts«: Index-Scans: 1\n"
        "\tSeiten: 0 entfernt, 16642 verbleiben, 16642 gescannt (100.00% der Gesamtzahl)\n"
        "\tTupel: 13088 entfernt, 1001433 verbleiben, 1561 sind tot aber noch nicht entfernbar\n"
        "\tentfernbare Obergrenze: 36181, was 8806 XIDs alt war als die Operation endete\n"
        "\tdurchschn. Leserate: 5.760 MB/s, durchschn. Schreibrate: 26.292 MB/s\n"
        "\tPuffer-Verwendung: 44154 Treffer, 6546 Verfehlen, 29881 geändert\n"
        "\tSystembenutzung: CPU: Benutzer: 0,35 s, System: 0,10 s, verstrichen: 8,87 s\n"
    ).encode()
    parser = make_parser("stderr", "%m [%p] ", german)
    [entry] = parser.feed(log) + parser.close(partial=True)
    assert entry.message.split("\n") == [
        'automatic vacuum of table "postgres.public.pgbench_accounts": index scans: 1',
        "pages: 0 removed, 16642 remain, 16642 scanned (100.00% of total)",
        "tuples: 13088 removed, 1001433 remain, 1561 are dead but not yet removable",
        "entfernbare Obergrenze: 36181, was 8806 XIDs alt war als die Operation endete",
        "avg read rate: 5.760 MB/s, avg write rate: 26.292 MB/s",
        "buffer usage: 44154 hits, 6546 misses, 29881 dirtied",
        "system usage: CPU: user: 0.35 s, system: 0.10 s, elapsed: 8.87 s",
    ]
    analyzer = LogAnalyzer()
    analyzer.add_all([entry])
    [table] = analyzer.finish().workload["autovacuum"]["by_table"]
    assert (table["table"], table["vacuums"], table["tuples_removed"], table["vacuum_seconds"]) == (
        "postgres.public.pgbench_accounts",
        1,
        13088,
        8.87,
    )


def test_a_message_that_is_not_listed_stays_as_logged(german):
    assert german.rewriter.rewrite("Datenbanksystem wurde heruntergefahren") is None
    assert german.rewriter.rewrite("duration: 1.0 ms  statement: SELECT 1") is None  # English already


def test_a_translated_stderr_log_is_split_counted_and_read_like_english(german):
    log = (
        b"2024-05-01 12:00:00.000 UTC [7] app@shop FEHLER:  Division durch Null\n"
        b"2024-05-01 12:00:00.000 UTC [7] app@shop ANWEISUNG:  SELECT 1/0\n"
        b"2024-05-01 12:00:01.000 UTC [8] app@shop FEHLER:  Verklemmung (Deadlock) entdeckt\n"
        b"2024-05-01 12:00:01.000 UTC [8] app@shop DETAIL:  Prozess 8 wartet auf ShareLock-Sperre auf Transaktion 9; "
        b"blockiert von Prozess 7.\n"
        b"2024-05-01 12:00:01.000 UTC [8] app@shop TIPP:  Einzelheiten zur Anfrage finden Sie im Serverlog.\n"
        b"2024-05-01 12:00:02.000 UTC [9] app@shop LOG:  Dauer: 1500.000 ms  Anweisung: SELECT pg_sleep(1.5)\n"
    )
    parser = make_parser("stderr", "%m [%p] %q%u@%d ", german)
    entries = parser.feed(log) + parser.close(partial=True)
    assert [(e.severity, e.message) for e in entries] == [
        ("ERROR", "division by zero"),
        ("ERROR", "deadlock detected"),
        ("LOG", "duration: 1500.000 ms  statement: SELECT pg_sleep(1.5)"),
    ]
    assert entries[0].statement == "SELECT 1/0"
    assert entries[1].detail == "Process 8 waits for ShareLock on transaction 9; blocked by process 7."
    assert entries[1].hint == "Einzelheiten zur Anfrage finden Sie im Serverlog."  # not read by the analysis: as logged
    analyzer = LogAnalyzer({"slow_query_ms": 1000})
    analyzer.add_all(entries)
    summary = analyzer.finish().summary
    assert summary["categories"] == {"deadlock": 1, "error": 1, "slow_query": 1}
    assert summary["totals"]["errors_by_class"] == {
        "data exception (22)": 1,
        "transaction rollback (40)": 1,
    }  # inferred from the English messages


def test_severities_and_labels_come_from_the_catalog(german, catalogs):
    assert german.severities["FEHLER"] == "ERROR" and german.severities["PANIK"] == "PANIC"
    assert german.tokens["ANWEISUNG:  "] == "STATEMENT" and german.tokens["TIPP:  "] == "HINT"
    french = load_language("fr_FR.UTF-8", 15)
    assert french.tokens["ASTUCE :  "] == "HINT"  # French typography: a space before the colon
    georgian = LANGUAGE_WORDS["ka"]["severities"]
    assert georgian["გაფრთხილება"] == "WARNING"  # NOTICE and WARNING share a word: the more severe


def test_the_shipped_table_of_words_matches_the_catalogs(catalogs):
    from tasks.logs.language import catalog_markers, catalog_words

    assert set(LANGUAGE_WORDS) == set(catalogs)
    for code, path in catalogs.items():
        entries = read_catalog(path)
        severities, tokens = catalog_words(entries)
        assert LANGUAGE_WORDS[code] == {"severities": severities, "tokens": tokens, "markers": catalog_markers(entries)}


def test_without_a_catalog_severities_come_from_the_shipped_table_with_a_warning(tmp_path):
    language = load_language("ru_RU.UTF-8", 15, [str(tmp_path)])
    assert language.rewriter is None
    assert language.severities["ОШИБКА"] == "ERROR" and language.tokens["ОПЕРАТОР:  "] == "STATEMENT"
    assert "ru/LC_MESSAGES/postgres-15.mo" in language.warning
    assert "install the PostgreSQL server package (postgresql-15)" in language.warning
    assert "LOG_LOCALE_DIRS" in language.warning


def test_a_language_postgresql_does_not_ship_is_split_on_the_shape_of_the_line():
    language = load_language("eo.UTF-8", 15, [])  # Esperanto: no PostgreSQL translation
    assert "no translation" in language.warning
    log = (
        b"2024-05-01 12:00:00.000 UTC [7] 22012 ERARO:  divido per nulo\n"
        b"2024-05-01 12:00:00.000 UTC [7] 22012 ORDONO:  SELECT 1/0\n"
        b"2024-05-01 12:00:01.000 UTC [8] 00000 PROTOKOLO:  io\n"
    )
    parser = make_parser("stderr", "%m [%p] %e ", language)
    entries = parser.feed(log) + parser.close(partial=True)
    assert parser.skipped_lines == 0  # nothing dropped
    # The SQLSTATE tells an error from a LOG line; the label of a continuation line is unknown.
    assert [e.severity for e in entries] == ["ERROR", "ERROR", "LOG"]


def test_the_catalog_of_the_servers_version_is_preferred_else_the_nearest(tmp_path):
    target = tmp_path / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    for version in ("13", "16", "17"):
        shutil.copy(f"{LOCALES}/de/LC_MESSAGES/postgres-15.mo", target / f"postgres-{version}.mo")
    dirs = [str(tmp_path)]
    assert find_catalog("de_DE.UTF-8", 16, dirs).endswith("postgres-16.mo")
    assert find_catalog("de_DE.UTF-8", 15, dirs).endswith("postgres-16.mo")  # 14 and 16 are as near: the newer
    assert find_catalog("de_DE.UTF-8", 12, dirs).endswith("postgres-13.mo")
    assert find_catalog("de_DE.UTF-8", None, dirs).endswith("postgres-17.mo")
    assert find_catalog("de_AT.UTF-8@euro", 17, dirs).endswith("postgres-17.mo")  # de_AT, then de
    assert find_catalog("it_IT.UTF-8", 17, dirs) is None


def test_locale_names_and_versions():
    assert locale_codes("de_DE.UTF-8") == ["de_DE", "de"]
    assert locale_codes("zh_CN.utf8") == ["zh_CN", "zh"]
    assert locale_codes("ru") == ["ru"]
    assert major_version(150004) == 15 and major_version(90624) == 9.6


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", None),
        ("C", None),
        ("en_US.UTF-8", None),
        ("de_DE.UTF-8", None),
        ("zh_TW.UTF-8", None),
        ("eo.UTF-8", "PostgreSQL has no translation in that language"),
        ("de DE; drop", "is not a locale name"),
    ],
)
def test_a_configured_lc_messages_is_checked(value, problem):
    found = check_lc_messages(value)
    assert found is None if problem is None else problem in found


def test_the_language_of_a_log_is_detected_from_its_first_lines():
    assert detect_language("2024-05-01 12:00:00 UTC [7] FEHLER:  Division durch Null\n") == "de"
    assert detect_language('{"error_severity":"ОШИБКА","message":"деление на ноль"}\n') == "ru"
    assert detect_language("2024-05-01 12:00:00 UTC [7] LOG:  Dauer: 1.0 ms  Anweisung: SELECT 1\n") == "de"
    assert detect_language("2024-05-01 12:00:00 UTC [7] LOG:  duration: 1.0 ms  statement: SELECT 1\n") is None


def _matched_literals() -> set[str]:
    """The literal message starts detectors.py and sqlstates.py match."""
    found: set[str] = set()
    for module in (detectors, sqlstates):
        tree = ast.parse(Path(module.__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "startswith":
                found |= {
                    n.value for n in ast.walk(node.args[0]) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                }
    found |= set(detectors._SLOT_STARTS) | set(messages.CORRUPTION)
    found |= {start for start, _ in sqlstates._BY_MESSAGE_START}
    return {literal for literal in found if len(literal) > 3}


def test_every_message_the_detectors_match_is_in_the_list_of_messages_rewritten(catalogs):
    entries = read_catalog(catalogs["de"])
    words = tuple(w for arguments in messages.WORD_ARGUMENTS.values() for group in arguments.values() for w in group)
    missing = []
    for literal in _matched_literals():
        for msgid in entries:
            start = msgid.split("%", 1)[0]
            if start and (start.startswith(literal) or (literal.startswith(start) and len(start) >= len(literal) - 2)):
                if not msgid.startswith((*messages.MESSAGE_STARTS, *messages.NESTED_MESSAGES, *words)):
                    missing.append((literal, msgid))
    assert missing == [], "\n".join(map(str, missing))


GERMAN_LOG = (
    "2024-05-01 12:00:00.000 UTC [7] app@shop FEHLER:  Division durch Null\n"
    "2024-05-01 12:00:00.000 UTC [7] app@shop ANWEISUNG:  SELECT 1/0\n"
    "2024-05-01 12:00:01.000 UTC [8] app@shop FEHLER:  Verklemmung (Deadlock) entdeckt\n"
)


@pytest.mark.parametrize("option", [["--lc-messages", "de_DE.UTF-8"], []])
def test_the_command_line_reads_a_translated_log(tmp_path, capsys, option):
    from tasks.logs.__main__ import main

    log = tmp_path / "postgresql.log"
    log.write_text(GERMAN_LOG)
    assert main([str(log), "--prefix", "%m [%p] %q%u@%d ", *option]) == 0  # without the option: detected
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["categories"] == {"deadlock": 1, "error": 1}
    assert summary["lc_messages"] == ("de_DE.UTF-8" if option else "de")


def test_the_command_line_refuses_a_language_postgresql_does_not_speak(tmp_path, capsys):
    from tasks.logs.__main__ import main

    log = tmp_path / "postgresql.log"
    log.write_text(GERMAN_LOG)
    assert main([str(log), "--lc-messages", "eo.UTF-8"]) == 2
    assert "PostgreSQL has no translation in that language" in capsys.readouterr().err
