"""Query normalization groups statements that differ only in their values."""

from __future__ import annotations

from tasks.logs.normalize import normalize_query


def test_it_replaces_numbers_and_strings():
    assert normalize_query("SELECT * FROM t WHERE id = 42 AND name = 'O''Brien'") == (
        "select * from t where id = ? and name = ?"
    )


def test_it_groups_pgbench_updates_with_negative_values():
    a = normalize_query("UPDATE pgbench_accounts SET abalance = abalance + -3208 WHERE aid = 482431;")
    b = normalize_query("update pgbench_accounts set abalance = abalance + 17 where aid = 9;")
    assert a == b == "update pgbench_accounts set abalance = abalance + ? where aid = ?"


def test_it_collapses_lists_and_multi_row_values():
    assert normalize_query("select 1 from t where id in (1, 2, 3)") == "select ? from t where id in (?)"
    assert normalize_query("INSERT INTO t VALUES (1, 'a'), (2, 'b')") == "insert into t values (?)"
    assert normalize_query("SELECT generate_series(1, 5)") == "select generate_series(?, ?)"


def test_it_replaces_parameters_dollar_quotes_and_drops_comments():
    sql = "select $1::int, $$ body $$, $f$ x $f$ -- note\n from t /* c */ where a = 1.5e3"
    assert normalize_query(sql) == "select ?::int, ?, ? from t where a = ?"


def test_it_keeps_quoted_identifiers_and_names_with_digits():
    assert normalize_query('SELECT col1 FROM "Tab1" WHERE t2.c3 = 3') == 'select col1 from "Tab1" where t2.c3 = ?'


def test_it_collapses_whitespace_across_lines():
    assert normalize_query("SELECT *\n\t  FROM t\n WHERE id = 1") == "select * from t where id = ?"
