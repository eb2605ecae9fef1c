"""redact(): password literals, connection-string passwords, literals quoted back by errors,
and (mode "parameters") bind parameter values, on tricky literals."""

from __future__ import annotations

import time

import pytest

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.entry import SAMPLE_LIMIT
from tasks.logs.parser import make_parser
from tasks.logs.redact import MODES, redact, redact_all


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CREATE ROLE x PASSWORD 'S3cret'", "CREATE ROLE x PASSWORD '[redacted]'"),
        (
            "create role x with login encrypted password 'S3''cr''et' valid until 'infinity'",
            "create role x with login encrypted password '[redacted]' valid until 'infinity'",
        ),
        ("ALTER USER x PASSWORD E'S3\\'cr\\\\et' LOGIN", "ALTER USER x PASSWORD '[redacted]' LOGIN"),
        ("ALTER USER x PASSWORD e'S3''cret'", "ALTER USER x PASSWORD '[redacted]'"),
        ("ALTER ROLE x PASSWORD U&'S3\\0063ret'", "ALTER ROLE x PASSWORD '[redacted]'"),
        ("ALTER ROLE x PASSWORD $$S3cret$$", "ALTER ROLE x PASSWORD '[redacted]'"),
        ("ALTER ROLE x PASSWORD $pw$S3$cr'et$pw$ LOGIN", "ALTER ROLE x PASSWORD '[redacted]' LOGIN"),
        ("ALTER ROLE x PaSsWoRd /* why */ 'S3cret'", "ALTER ROLE x PaSsWoRd /* why */ '[redacted]'"),
        ("ALTER ROLE x PASSWORD -- next line\n  'S3cret'", "ALTER ROLE x PASSWORD -- next line\n  '[redacted]'"),
        ("ALTER ROLE x PASSWORD 'S3cret", "ALTER ROLE x PASSWORD '[redacted]'"),  # cut short: to the end
        ("ALTER ROLE x PASSWORD 'S3cret\nmore\nlines'", "ALTER ROLE x PASSWORD '[redacted]'"),
        ("ALTER ROLE x PASSWORD NULL", "ALTER ROLE x PASSWORD NULL"),
        (
            "CREATE USER MAPPING FOR x SERVER s OPTIONS (user 'x', password 'S3cret')",
            "CREATE USER MAPPING FOR x SERVER s OPTIONS (user 'x', password '[redacted]')",
        ),
        (
            "ALTER USER MAPPING FOR x SERVER s OPTIONS (SET \"password\" 'S3cret')",
            "ALTER USER MAPPING FOR x SERVER s OPTIONS (SET \"password\" '[redacted]')",
        ),
        (
            "SELECT dblink_connect('host=h password=S3cret user=x')",
            "SELECT dblink_connect('host=h password=[redacted] user=x')",
        ),
        (
            "SELECT dblink_connect('host=h password=''S3 cr\\''et'' user=x')",
            "SELECT dblink_connect('host=h password=''[redacted]'' user=x')",
        ),
        (
            "SELECT dblink('dbname=d password = S3''cret', 'SELECT 1')",
            "SELECT dblink('dbname=d password = [redacted]', 'SELECT 1')",
        ),
        (
            "CREATE SUBSCRIPTION s CONNECTION 'host=h user=x password=S3cret dbname=d' PUBLICATION p",
            "CREATE SUBSCRIPTION s CONNECTION 'host=h user=x password=[redacted] dbname=d' PUBLICATION p",
        ),
        (
            'parameter "primary_conninfo" changed to "host=h password=\'S3 cret\' user=x"',
            'parameter "primary_conninfo" changed to "host=h password=\'[redacted]\' user=x"',
        ),
        ("host=h sslpassword=S3cret", "host=h sslpassword=[redacted]"),
        ("dblink_connect('host=h password=first S3cret')", "dblink_connect('host=h password=[redacted]')"),
        ("host=h password=S3 cr et user=x", "host=h password=[redacted] user=x"),
        (
            "SELECT dblink_connect('postgresql://bob:S3cret@h:5432/d')",
            "SELECT dblink_connect('postgresql://bob:[redacted]@h:5432/d')",
        ),
        (
            "syntax error at or near \"'S3cret'\" at character 22",
            "syntax error at or near \"'[redacted]'\" at character 22",
        ),
        ('syntax error at or near "\'S3"cret\'"', "syntax error at or near \"'[redacted]'\""),
        ('unterminated quoted string at or near "\'S3cret"', "unterminated quoted string at or near \"'[redacted]'\""),
        (
            'unterminated dollar-quoted string at or near "$x$S3cret"',
            "unterminated dollar-quoted string at or near \"'[redacted]'\"",
        ),
        ('syntax error at or near "PASSWORD"', 'syntax error at or near "PASSWORD"'),
        (
            'missing "=" after "S3cret" in connection info string',
            'missing "=" after "[redacted]" in connection info string',
        ),
        ("SELECT * FROM t WHERE id = 'kept'", "SELECT * FROM t WHERE id = 'kept'"),
        ("DETAIL:  parameters: $1 = 'kept', $2 = NULL", "DETAIL:  parameters: $1 = 'kept', $2 = NULL"),
    ],
)
def test_passwords_are_masked(text, expected):
    assert redact(text) == expected
    assert "S3" not in redact(text, "parameters")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "parameters: $1 = 'S3cret', $2 = NULL, $3 = 'it''s', $4 = '12'",
            "parameters: $1 = '[redacted]', $2 = NULL, $3 = '[redacted]', $4 = '[redacted]'",
        ),
        ("unnamed portal with parameters: $1 = 'S3cret'", "unnamed portal with parameters: $1 = '[redacted]'"),
        ("portal \"p\" parameter $2 = 'S3cret...'", "portal \"p\" parameter $2 = '[redacted]'"),
        ("parameters: $1 = 'S3cret", "parameters: $1 = '[redacted]'"),  # cut short
    ],
)
def test_parameters_mode_masks_bind_parameter_values(text, expected):
    assert redact(text, "parameters") == expected
    assert redact(text, "passwords") == text


def test_redact_all_reaches_every_string_of_details():
    details = {"top_messages": [{"message": "x PASSWORD 'S3cret'", "count": 2}], "password 'S3cret'": 1, "n": None}

    assert redact_all(details) == {
        "top_messages": [{"message": "x PASSWORD '[redacted]'", "count": 2}],
        "password '[redacted]'": 1,
        "n": None,
    }


def test_findings_are_redacted_where_they_are_built():
    prefix = "%m [%p] %q%u@%d "
    head = "2024-05-01 12:00:00.000 UTC [7] u@d "
    log = (
        f'{head}ERROR:  role "x" already exists\n'
        f"{head}STATEMENT:  CREATE ROLE x PASSWORD '{'S3cret' * 2000}'\n"  # longer than a sample
        f"{head}ERROR:  syntax error at or near \"'S3cret'\" at character 22\n"
        f"{head}STATEMENT:  CREATE ROLE password 'S3cret'\n"
        f"{head}LOG:  duration: 1500.0 ms  execute <unnamed>: SELECT $1::text\n"
        f"{head}DETAIL:  parameters: $1 = 'P4ram'\n"
        f"{head}LOG:  duration: 1500.0 ms  statement: ALTER ROLE x PASSWORD E'S3cret\\''\n"
    ).encode()
    for mode in MODES:
        parser, analyzer = make_parser("stderr", prefix), LogAnalyzer(redact=mode)
        analyzer.add_all(parser.feed(log) + parser.close(partial=True))
        findings = analyzer.finish().findings

        assert {f.category for f in findings} == {"error", "slow_query"}
        text = repr([(f.message, f.sample, f.details) for f in findings])
        assert "S3cret" not in text
        assert ("P4ram" in text) == (mode == "passwords")
        assert all(len(f.sample) <= SAMPLE_LIMIT for f in findings)


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="redact"):
        LogAnalyzer(redact="everything")


ADVERSARIAL = {
    "comments between PASSWORD and nothing": "PASSWORD " + "/* x */ " * 20000,
    "unterminated comments": "PASSWORD " + "/* x " * 20000,
    "line comments": "PASSWORD " + "-- x\n" * 20000,
    "escaped quotes": "PASSWORD E'" + "\\'" * 50000,
    "unfinished conninfo errors": 'missing "=" after "' * 5000,
    "quoted-back errors": "at or near \"'" * 5000,
    "open parameters": "$1 = '" * 20000,
    "conninfo words": "password=a" + " b" * 20000 + "'",
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_no_text_makes_redaction_backtrack(text):
    # A bound on a hang (these ran for minutes when the patterns could re-split a gap), not a
    # speed assertion: each takes milliseconds.
    started = time.monotonic()
    redact(text, "parameters")
    assert time.monotonic() - started < 5
