"""The prefilter before duckdb-kql's has tests: same rows as without it, on hostile values."""

from __future__ import annotations

import duckdb_kql
import pytest
from duckdb_kql.engine import schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irreport.sources.has_prefilter import add_has_prefilters

COMMAND_LINES = [
    None, "", "cmd.exe /c m.exe", "CMD.EXE /C M.EXE", "run m.exe2", "xm.exe", "m.exe,x",
    "powershell -enc SQBFAFgA", "a\u00e9m.exe", "\u00e9m.exe", "lsass", "LSASS.dmp", "l\u017fass",
    "it's m.exe", "back\\slash (x) [y] {z} a.b*c+d?e|f^g$h", "tab\tm.exe\nnext",
    "\u212aelvin", "\u0130stanbul", "\x00nul m.exe", "\u0645.exe \u0661",
]


@pytest.fixture
def con():
    connection = duckdb_kql.connect()
    connection.execute("CREATE TABLE P (Id INTEGER, CommandLine VARCHAR, Other VARCHAR, "
                       "Fields JSON)")
    for number, line in enumerate(COMMAND_LINES):
        connection.execute("INSERT INTO P VALUES (?, ?, ?, ?)",
                           [number, line, line, None if line is None else f'"{number}"'])
    yield connection
    connection.close()


def _ids(con, sql: str) -> list[int]:
    return sorted(row[0] for row in con.sql(sql).fetchall())


def _both(con, where: str) -> tuple[str, str]:
    sql = str(duckdb_kql.to_sql(f"P | where {where} | project Id", schema=schema(con)))
    return sql, add_has_prefilters(con, sql)


@pytest.mark.parametrize("where", [
    'CommandLine has_any ("m.exe", "lsass", "(x)", "a.b*c", "it\'s")',
    'not(CommandLine has_any ("m.exe", "lsass"))',
    'CommandLine has_any ("m.exe", "k") or Id == 7',
    'CommandLine has_any ("\u00e9m.exe", "\u0645.exe", "\u0130stanbul", "kelvin", "lsass")',
    'tostring(Fields) has_any ("3", "5")',
    'Fields has_any ("3", "5")',
])
def test_prefilter_keeps_rows(con, where):
    original, rewritten = _both(con, where)

    assert rewritten != original
    assert _ids(con, rewritten) == _ids(con, original)


def test_has_any_joined_behind_prefilter(con):
    _, rewritten = _both(con, 'CommandLine has_any ("m.exe", "lsass", "x")')

    # One alternation, one test and one guard for the VARCHAR branch of duckdb-kql's CASE on
    # the value's type, and the same for its JSON branch.
    assert rewritten.count("'(?i)(?:' || regexp_escape('m.exe')) || '|'") == 2
    assert rewritten.count("'(?i)(?:^|[^\\pL\\pN])(?:' || regexp_escape('m.exe')) || '|'") == 2
    assert rewritten.count("regexp_matches(") == 4
    assert rewritten.count("IS NULL)) THEN (NULL)") == 2


def _case_sensitive_terms(terms: list[str]) -> str:
    """Return SQL with has_cs tests in the form duckdb-kql writes them, joined by OR.

    KQL has no has_any_cs, and duckdb-kql wraps each has_cs of an `or` in its own coalesce,
    so this form is written by hand.
    """
    tests = [f"regexp_matches(CommandLine, '(?:^|[^\\pL\\pN])' || "
             f"regexp_escape('{term.replace(chr(39), chr(39) * 2)}') || '(?:$|[^\\pL\\pN])')"
             for term in terms]
    return "SELECT Id FROM P WHERE " + " OR ".join(tests)


def test_case_sensitive_group_keeps_case(con):
    original = _case_sensitive_terms(["m.exe", "LSASS"])

    rewritten = add_has_prefilters(con, original)

    assert "'(?:' || regexp_escape('m.exe')" in rewritten
    assert "(?i)" not in rewritten
    assert _ids(con, rewritten) == _ids(con, original) == [2, 6, 11, 13, 15, 18]


def test_mixed_case_rules_not_grouped(con):
    sensitive = _case_sensitive_terms(["m.exe"]).split(" WHERE ")[1]
    original = f"{_case_sensitive_terms(['lsass'])} OR {sensitive.replace('(?:^', '(?i)(?:^')}"

    assert add_has_prefilters(con, original) == original


@pytest.mark.parametrize("where", [
    'CommandLine has "m.exe"',
    'CommandLine contains "m.exe" or CommandLine contains "lsass"',
    'CommandLine in~ ("m.exe", "lsass")',
    # duckdb-kql wraps each has of an `or` in its own coalesce, so they form no group.
    'CommandLine has "m.exe" or CommandLine has "LSASS"',
    # An empty term gets another pattern.
    'CommandLine has_any ("", "m.exe")',
])
def test_sql_without_group_unchanged(con, where):
    original, rewritten = _both(con, where)

    assert rewritten == original


def test_term_in_literal_not_rewritten(con):
    # A string literal that spells the SQL of a has test is data, not a test.
    spelled = "regexp_matches(CommandLine, '(?i)(?:^|[^\\\\pL\\\\pN])' || regexp_escape('x'))"
    sql = f"SELECT Id FROM P WHERE CommandLine = '{spelled.replace(chr(39), chr(39) * 2)}'"

    assert add_has_prefilters(con, sql) == sql


def test_unserialisable_sql_unchanged(con):
    sql = "CREATE TABLE Q AS SELECT 1 AS x"

    assert add_has_prefilters(con, sql) == sql


TEXT = st.text(alphabet=st.sampled_from(list("aAkKsS\u017f\u212a\u0130i.-_ ()'\\\u00e9\u0645")),
               max_size=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=8),
       terms=st.lists(TEXT.filter(lambda term: "\n" not in term), min_size=2, max_size=4),
       case_sensitive=st.booleans())
def test_random_values_same_rows(con, lines, terms, case_sensitive):
    con.execute("DELETE FROM P")
    for number, line in enumerate(lines):
        con.execute("INSERT INTO P VALUES (?, ?, ?, NULL)", [number, line, line])
    quoted = ", ".join('"' + term.replace("\\", "\\\\").replace('"', '\\"') + '"'
                       for term in terms)
    if case_sensitive:
        original = _case_sensitive_terms(terms)
        rewritten = add_has_prefilters(con, original)
    else:
        original, rewritten = _both(con, f"CommandLine has_any ({quoted})")

    assert _ids(con, rewritten) == _ids(con, original)
