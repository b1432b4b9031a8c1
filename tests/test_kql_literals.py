"""KQL literal escaping: hostile values must never change the query around them."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb_kql
import pytest
from hypothesis import given
from hypothesis import strategies as st

from irreport import kql
from irreport.errors import ParameterError

HOSTILE = [
    'x"; DeviceInfo | take 1 //',
    "back\\slash\\",
    "line\nbreak",
    "tab\there",
    "quote'single",
    "C:\\Users\\admin\\Desktop\\a.cmd",
    '\\"',
    "\u202etxt.exe",
]


def _round_trip(value: str) -> str:
    con = duckdb_kql.connect()
    rows = duckdb_kql.kql(con, f"print v = {kql.string_literal(value)}").fetchall()
    return rows[0][0]


@pytest.mark.parametrize("value", HOSTILE)
def test_string_literal_round_trips(value):
    assert _round_trip(value) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_device_list_keeps_query_shape(value):
    con = duckdb_kql.connect()
    con.execute("CREATE TABLE DeviceInfo (DeviceName VARCHAR)")
    con.execute("INSERT INTO DeviceInfo VALUES ('testmachine3'), (?)", [value])
    text = (kql.let_statement("Devices", kql.string_list_literal([value])) +
            "\nDeviceInfo | where DeviceName in (Devices) | project DeviceName")
    rows = duckdb_kql.kql(con, text).fetchall()
    assert rows == [(value,)]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters="\x00\x01\x02\x03\x04\x05\x06\x07"
                                      "\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17"
                                      "\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"), max_size=40))
def test_string_literal_property(value):
    literal = kql.string_literal(value)
    assert literal.startswith('"') and literal.endswith('"')
    inner = literal[1:-1]
    # Every quote inside the literal is escaped, so none can close it early.
    index = 0
    while index < len(inner):
        if inner[index] == "\\":
            index += 2
            continue
        assert inner[index] != '"'
        assert inner[index] not in "\n\r"
        index += 1
    assert _round_trip(value) == value


@pytest.mark.parametrize("value", ["nul\x00", "bell\x07", "esc\x1b[31m", "del\x7f"])
def test_control_characters_rejected(value):
    with pytest.raises(ParameterError, match="control character"):
        kql.string_literal(value)


def test_datetime_literal_is_absolute_utc():
    value = datetime(2026, 12, 2, 14, 37, 12, 500000, tzinfo=timezone.utc)
    assert kql.datetime_literal(value) == "datetime(2026-12-02T14:37:12.500000Z)"


def test_let_statement_rejects_bad_name():
    with pytest.raises(ParameterError):
        kql.let_statement("x; DeviceInfo", "1")
