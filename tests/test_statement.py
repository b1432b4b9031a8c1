"""ExecutedStatement: one execution, the relation API's names and types, and a second read."""

from __future__ import annotations

import duckdb
import pytest

from irreport.sources.statement import ExecutedStatement

SQL = ("SELECT i AS Id, 'host' || i AS DeviceName, TIMESTAMP '2026-12-01 10:00' AS Ts, "
       "[i, i] AS Pair, {'k': i} AS Fields FROM range(3) t(i) WHERE i >= $low ORDER BY i")


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_names_and_types_match_relation(con):
    relation = con.sql(SQL, params={"low": 0})
    expected_columns, expected_types = relation.columns, [str(t) for t in relation.types]
    relation.fetchall()

    statement = ExecutedStatement(con, SQL, {"low": 0})

    assert statement.columns == expected_columns
    assert statement.types == expected_types
    statement.fetchall()


def test_parameters_bound(con):
    rows = ExecutedStatement(con, SQL, {"low": 2}).fetchall()

    assert [row[0] for row in rows] == [2]


def test_second_read_executes_again(con):
    statement = ExecutedStatement(con, SQL, {"low": 1})

    columns = statement.fetchnumpy()
    rows = statement.fetchall()

    assert list(columns["Id"]) == [1, 2]
    assert [row[1] for row in rows] == ["host1", "host2"]


def test_statement_without_parameters(con):
    statement = ExecutedStatement(con, "SELECT 42 AS answer")

    assert statement.columns == ["answer"]
    assert statement.fetchall() == [(42,)]
