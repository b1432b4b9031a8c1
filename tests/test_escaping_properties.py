"""Properties of the escaping between telemetry and a person's screen.

Each test draws arbitrary text, salted with fragments that markup, CSV or KQL would act on,
passes it through the real code path, and checks that the value came through as data.
"""

from __future__ import annotations

import csv
import unicodedata
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath, PureWindowsPath

import duckdb_kql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irreport import kql
from irreport.build import check_name, folder_name
from irreport.errors import ConfigurationError
from irreport.output import write_csv
from irreport.render.html import environment, visible_text
from irreport.sources import QueryResult
from irreport.textsafe import (FORMULA_PREFIXES, HIDDEN_CATEGORIES, original_csv_cell, visible,
                               without_surrogates)

FRAGMENTS = ["<", ">", "&", '"', "'", "<script>", "</td>", "</p>", "<img src=x>", "&lt;",
             "&#60;", "<!--", "-->", "<![CDATA[", "\u202e", "\u2066", "\x00", "\x1b", "\r",
             "\n", "\t", "{{ 1 }}", "{%", "url(", "=", "+", "-", "@", "'", "..", "/", "\\",
             "\ud800", "\udce9", "$\\alpha$"]

ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                              exclude_categories=())
HOSTILE_TEXT = st.lists(st.one_of(st.text(ANY_CHARACTER, max_size=8), st.sampled_from(FRAGMENTS)),
                        max_size=12).map("".join)


class _Elements(HTMLParser):
    """Collects every element, attribute and text node that an HTML parser reports."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.other.append(f"comment {data!r}")

    def handle_decl(self, decl):
        self.other.append(f"declaration {decl!r}")

    def handle_pi(self, data):
        self.other.append(f"processing instruction {data!r}")

    def unknown_decl(self, data):
        self.other.append(f"unknown declaration {data!r}")


TEMPLATE = '<td>{{ value | visible }}</td><p title="{{ value }}">{{ value }}</p>'


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT)
def test_html_value_never_becomes_markup(value):
    html = environment().from_string(TEMPLATE).render(value=value)
    parser = _Elements()
    parser.feed(html)
    parser.close()

    assert [tag for tag, _ in parser.tags] == ["td", "p"]
    assert parser.tags[0][1] == []
    assert parser.tags[1][1] == [("title", visible(value, keep_breaks=True))]
    assert parser.other == []
    assert "".join(parser.text) == visible_text(value) + visible(value, keep_breaks=True)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT, st.integers(min_value=1, max_value=18))
def test_wrapped_cell_never_becomes_markup(value, word_limit):
    html = environment().from_string("<td>{{ value | with_wrap_points(word_limit) }}</td>").render(
        value=value, word_limit=word_limit)
    parser = _Elements()
    parser.feed(html)
    parser.close()

    assert parser.tags[0] == ("td", [])
    assert {tag for tag, _ in parser.tags[1:]} <= {"wbr"}
    assert all(attributes == [] for _, attributes in parser.tags)
    assert parser.other == []
    assert "".join(parser.text) == visible(value, keep_breaks=True)


@given(HOSTILE_TEXT)
def test_visible_output_has_no_hidden_characters(value):
    shown = visible(value)
    # Unassigned and private-use code points are left alone: they draw a box, not nothing.
    hidden = [ch for ch in shown if unicodedata.category(ch) in HIDDEN_CATEGORIES]
    assert hidden == [], repr(shown)


def _read_back(tmp_path: Path, columns: list[str], values: list[str]) -> list[list[str]]:
    result = QueryResult(query_id="q", columns=columns,
                         rows=[{c: v for c in columns} for v in values])
    path = tmp_path / "cells.csv"
    # Opened as write_evidence opens it: UTF-8, newline="" as the csv module requires.
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_csv(result, handle, for_people=True)
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(HOSTILE_TEXT, min_size=1, max_size=4))
def test_csv_cells_neutralised_and_reversible(tmp_path, values):
    rows = _read_back(tmp_path, ["Value"], values)

    assert len(rows) == len(values) + 1
    for value, row in zip(values, rows[1:]):
        assert len(row) == 1
        cell = row[0]
        assert not cell.startswith(FORMULA_PREFIXES), repr(cell)
        if value.startswith(FORMULA_PREFIXES):
            assert cell.startswith("'")
        assert original_csv_cell(cell) == without_surrogates(value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(HOSTILE_TEXT)
def test_csv_header_neutralised(tmp_path, column):
    rows = _read_back(tmp_path, [column], [])

    assert len(rows) == 1
    assert not rows[0][0].startswith(FORMULA_PREFIXES)
    assert original_csv_cell(rows[0][0]) == without_surrogates(column)


def test_csv_keeps_formula_in_json_evidence(tmp_path):
    from irreport.output import result_json

    formula = '=HYPERLINK("http://127.0.0.1:9/x","open")'
    rows = _read_back(tmp_path, ["Value"], [formula])
    result = QueryResult(query_id="q", columns=["Value"], rows=[{"Value": formula}])

    assert rows[1][0] == "'" + formula
    assert result_json(result)["rows"][0]["Value"] == formula


NO_KQL_CONTROLS = st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                exclude_categories=("Cs",),
                                exclude_characters="".join(
                                    chr(c) for c in [*range(0, 9), 0x0b, 0x0c, *range(0x0e, 0x20),
                                                     0x7f]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(NO_KQL_CONTROLS, max_size=8),
                          st.sampled_from(['"', "\\", "'", "//", "|", ";", "\n", "\r", "\t",
                                           '\\"', "\"; DeviceInfo | take 1 //"])),
                max_size=10).map("".join))
def test_kql_list_literal_matches_only_value(value):
    con = duckdb_kql.connect()
    con.execute("CREATE TABLE DeviceInfo (DeviceName VARCHAR)")
    con.execute("INSERT INTO DeviceInfo VALUES ('testmachine3'), ('other'), (?)", [value])
    text = (kql.let_statement("Devices", kql.string_list_literal([value])) +
            "\nDeviceInfo | where DeviceName in (Devices) | project DeviceName")
    rows = duckdb_kql.kql(con, text).fetchall()
    expected = [(value,)] + [(value,)] * (value in ("testmachine3", "other"))
    assert rows == expected


DEVICE_NAMES = st.lists(HOSTILE_TEXT, max_size=4)


@given(DEVICE_NAMES)
def test_folder_name_stays_inside_output(devices):
    end = datetime(2026, 12, 3, tzinfo=timezone.utc)
    name = folder_name(devices, end)
    out = Path("/tmp/irreport-out")

    assert "/" not in name
    assert "\\" not in name
    assert "\x00" not in name
    assert ".." not in name
    assert not name.startswith(".")
    assert PurePosixPath(name).name == name
    assert PureWindowsPath(name).name == name
    assert (out / name).resolve().parent == out.resolve()
    assert check_name(name) == name


def test_check_name_rejects_paths():
    for bad in ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "x\x00y", "/abs"]:
        try:
            check_name(bad)
        except ConfigurationError:
            continue
        raise AssertionError(f"{bad!r} was accepted as a folder name")
