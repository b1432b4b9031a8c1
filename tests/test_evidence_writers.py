"""The column-at-a-time evidence writers against the cell-at-a-time functions they replace.

Each test draws values of every type a result can hold, salted with text that CSV, JSON or XML
would act on. The fast writer must produce exactly the text of the reference. The references
are the csv module with `csv_cell` per cell, json.dumps of `json_ready` per row, and networkx's
reader for the graph files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irreport import output
from irreport.analysis.graph_files import write_graphml, write_node_link_json
from irreport.output import (json_objects, result_json, write_csv, write_csv_columns,
                             write_result_files, write_result_json)
from irreport.sources import QueryResult
from irreport.textsafe import TextColumn, csv_cell, json_ready, json_text

FRAGMENTS = ["", "=", "+", "-", "@", "\t", "\r", "\n", "'", ",", '"', "\x00", "\x0b",
             "\ud800", "\udce9", "\\u0000", "\\", "&", "<", ">", "%s", "%", "\u2028", "\ufffe",
             "é", "\u202e"]
ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
TEXT = st.lists(st.one_of(st.text(ANY_CHARACTER, max_size=6), st.sampled_from(FRAGMENTS)),
                max_size=5).map("".join)
ZONES = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=5, minutes=30)),
                         timezone(-timedelta(hours=3)), ZoneInfo("Europe/Berlin")])
TIMES = st.builds(lambda moment, zone: moment.replace(tzinfo=zone),
                  st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 1, 1)),
                  ZONES)
SCALARS = {
    "text": TEXT,
    "int": st.integers(min_value=-2**70, max_value=2**70),
    "float": st.floats(allow_nan=True, allow_infinity=True),
    "bool": st.booleans(),
    "time": TIMES,
    "naive time": st.datetimes(),
    "utc time": st.datetimes(timezones=st.just(timezone.utc)),
    "date": st.dates(),
    "decimal": st.decimals(allow_nan=False, places=3),
    "bytes": st.binary(max_size=6),
    "list": st.lists(st.one_of(TEXT, st.integers()), max_size=3),
    "dict": st.dictionaries(st.one_of(TEXT, st.integers()), TEXT, max_size=2),
}


@st.composite
def columns(draw) -> list:
    """Draw one column: values of one or two kinds, with or without None."""
    kinds = draw(st.lists(st.sampled_from(sorted(SCALARS)), min_size=1, max_size=2))
    value = st.one_of(*(SCALARS[kind] for kind in kinds))
    if draw(st.booleans()):
        value = st.one_of(value, st.none())
    if draw(st.booleans()):
        # A repeated value takes the path for columns whose values are all equal.
        return [draw(value)] * draw(st.integers(min_value=1, max_value=4))
    return draw(st.lists(value, max_size=8))


def reference_json(value) -> str:
    return json.dumps(json_ready(value), ensure_ascii=False)


def outcome(function, value):
    """Return what *function* returns for *value*, or the type of the error it raises."""
    try:
        return function(value)
    except Exception as exc:  # the reference raises TypeError, ValueError or OverflowError
        return type(exc)


@settings(max_examples=400)
@given(columns())
def test_text_column_matches_cell_functions(values):
    assert outcome(lambda v: TextColumn(v).csv(), values) == outcome(
        lambda v: [csv_cell(x) for x in v], values)
    assert outcome(lambda v: TextColumn(v).json(), values) == outcome(
        lambda v: [reference_json(x) for x in v], values)


def test_text_column_times_as_iso_time():
    berlin = ZoneInfo("Europe/Berlin")
    values = [datetime(2026, 10, 25, 2, 30, tzinfo=berlin),
              datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=1),
              datetime(5, 1, 2, 3, 4, 5, 600, tzinfo=timezone.utc),
              datetime(2026, 12, 1, 10, 0, 0, 120000, tzinfo=timezone.utc)]

    assert TextColumn(values).csv() == ["2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z",
                                        "5-01-02T03:04:05.000600Z", "2026-12-01T10:00:00.120Z"]


def test_text_column_neutralises_negative_numbers():
    assert TextColumn([5, -5, None]).csv() == ["5", "'-5", ""]
    assert TextColumn([1.5, -math.inf, math.nan]).csv() == ["1.5", "'-inf", "nan"]
    assert TextColumn([-math.inf, math.nan]).json() == ["-Infinity", "NaN"]


def reference_csv(result: QueryResult) -> str:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in result.columns])
    for row in result.rows:
        writer.writerow([csv_cell(row.get(c)) for c in result.columns])
    return stream.getvalue()


def reference_result_json(result: QueryResult) -> str:
    document = result_json(result)
    rows = document.pop("rows")
    header = json.dumps(document, ensure_ascii=False, indent=1)
    body = ",\n  ".join(json.dumps(row, ensure_ascii=False) for row in rows)
    return header[:-2] + ',\n "rows": [' + ("\n  " + body + "\n ]\n}" if rows else "]\n}")


@st.composite
def results(draw) -> QueryResult:
    """Draw a result whose rows mostly have the columns as keys, in order, but not always."""
    names = draw(st.lists(st.one_of(st.sampled_from(["Timestamp", "Value", "id"]), TEXT),
                          max_size=4, unique=True))
    names = [name for name in names if not any("\ud800" <= c <= "\udfff" for c in name)]
    values = [draw(columns()) for _ in names]
    count = max(map(len, values), default=draw(st.integers(min_value=0, max_value=3)))
    rows = []
    for index in range(count):
        row = {name: column[index % len(column)] if column else None
               for name, column in zip(names, values)}
        shape = draw(st.sampled_from(["same", "same", "missing", "extra", "reversed"]))
        if shape == "missing" and row:
            row.pop(next(iter(row)))
        elif shape == "extra":
            row["extra"] = draw(TEXT)
        elif shape == "reversed":
            row = dict(reversed(row.items()))
        rows.append(row)
    return QueryResult(query_id="q", columns=names, types=["VARCHAR"] * len(names), rows=rows)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(results())
def test_result_files_match_reference(monkeypatch, result):
    # Blocks of two rows, so that rows of every draw cross block boundaries.
    monkeypatch.setattr(output, "BLOCK_ROWS", 2)
    json_stream, csv_stream = io.StringIO(), io.StringIO()

    written = outcome(lambda r: write_result_files(r, json_stream, csv_stream), result)
    expected_csv = outcome(reference_csv, result)
    expected_json = outcome(reference_result_json, result)

    if isinstance(expected_csv, type) or isinstance(expected_json, type):
        assert written in (expected_csv, expected_json)
        return
    assert csv_stream.getvalue() == expected_csv
    assert json_stream.getvalue() == expected_json


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(results())
def test_single_writers_match_reference(monkeypatch, result):
    monkeypatch.setattr(output, "BLOCK_ROWS", 3)
    json_stream, csv_stream = io.StringIO(), io.StringIO()

    json_written = outcome(lambda r: write_result_json(r, json_stream), result)
    csv_written = outcome(lambda r: write_csv(r, csv_stream), result)

    if not isinstance(json_written, type):
        assert json_stream.getvalue() == reference_result_json(result)
    if not isinstance(csv_written, type):
        assert csv_stream.getvalue() == reference_csv(result)


def test_csv_quotes_single_empty_field():
    result = QueryResult(query_id="q", columns=["Value"],
                         rows=[{"Value": ""}, {"Value": None}, {"Value": "a,b"}])
    stream = io.StringIO()

    write_csv(result, stream)

    assert stream.getvalue() == 'Value\r\n""\r\n""\r\n"a,b"\r\n'


def test_csv_columns_match_write_csv():
    names = ["time", "details", "alert"]
    blocks = [[[datetime(2026, 12, 1, tzinfo=timezone.utc), None], ["=cmd", 'a "b", c'],
               [True, False]],
              [[datetime(2026, 12, 2, 1, 2, 3, 4000)], ["\r"], [False]]]
    rows = [{"time": t, "details": d, "alert": a}
            for block in blocks for t, d, a in zip(*block)]
    expected = reference_csv(QueryResult(query_id="timeline", columns=names, rows=rows))
    stream = io.StringIO()

    write_csv_columns(names, blocks, stream)

    assert stream.getvalue() == expected


def test_json_objects_groups_rows_by_keys():
    rows = [{"a": 1, "b": "x"}, {"b": "y", "a": 2}, {"a": 3, "b": "z"}, {1: "number key"},
            {"a": datetime(2026, 1, 1)}]

    assert json_objects(rows) == [reference_json(row) for row in rows]


NESTED = st.recursive(
    st.one_of(TEXT, st.integers(), st.floats(), st.none(), st.booleans(), st.dates(),
              st.datetimes(), st.binary(max_size=4), st.decimals(allow_nan=False, places=2)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.tuples(inner, inner),
        st.dictionaries(st.one_of(TEXT, st.integers(), st.booleans(), st.none(), st.floats()),
                        inner, max_size=3)),
    max_leaves=12)


@settings(max_examples=300)
@given(NESTED)
def test_json_text_matches_json_ready(value):
    assert outcome(json_text, value) == outcome(reference_json, value)


def test_json_text_on_cycle_and_shared_list():
    shared = [1, "x"]
    cycle: list = []
    cycle.append(cycle)

    assert json_text({"a": shared, "b": [shared]}) == reference_json({"a": shared, "b": [shared]})
    assert outcome(json_text, cycle) == outcome(reference_json, cycle)


HOSTILE_NAMES = ["cmd.exe", 'a"b\'c.exe', "<x>&y", "tab\tnew\nline", "nul\x00bell\x07",
                 "half\ud800", "\ufffe", "plain"]


def hostile_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for index, name in enumerate(HOSTILE_NAMES):
        attributes = {"name": name, "pid": index - 2, "marked": index % 2 == 0,
                      "score": index / 3, "created": datetime(2026, 12, 1) if index == 3 else ""}
        if index == 4:
            attributes = {"pid": 4, "name": name}
        if index == 5:
            attributes = {}
        graph.add_node(f"dev:{index}:{name}", **attributes)
    nodes = list(graph)
    graph.add_edges_from(zip(nodes, nodes[1:]))
    graph.graph["attachments"] = {nodes[0]: [{"time": "2026-12-01T10:00:00Z",
                                              "details": "x\ud800"}],
                                  nodes[1]: [{"when": datetime(2026, 12, 1, 10)}]}
    return graph


def xml_ready(value):
    """Return *value* as the GraphML writer stores it: characters XML cannot carry as U+FFFD."""
    if not isinstance(value, str):
        return value
    return "".join("\ufffd" if ord(c) < 32 and c not in "\t\n\r" or 0xD800 <= ord(c) <= 0xDFFF
                   or c in "\ufffe\uffff" else c for c in value)


@pytest.mark.parametrize("block_rows", [2, 10_000])
def test_graphml_round_trip_hostile(tmp_path: Path, monkeypatch, block_rows):
    monkeypatch.setattr("irreport.analysis.graph_files.BLOCK_ROWS", block_rows)
    graph = hostile_graph()
    path = tmp_path / "graph.graphml"

    write_graphml(graph, path, {"title": "<t>", "nodes": graph.number_of_nodes()})
    loaded = nx.read_graphml(path)

    assert list(loaded) == [xml_ready(node) for node in graph]
    assert list(loaded.edges) == [(xml_ready(s), xml_ready(t)) for s, t in graph.edges]
    for node, attributes in graph.nodes(data=True):
        kept = {name: xml_ready(value) for name, value in attributes.items()
                if type(value) in (str, int, float, bool)}
        assert loaded.nodes[xml_ready(node)] == kept
    assert loaded.graph["title"] == "<t>"
    assert loaded.graph["nodes"] == graph.number_of_nodes()


@pytest.mark.parametrize("block_rows", [2, 10_000])
def test_node_link_json_matches_networkx(tmp_path: Path, monkeypatch, block_rows):
    monkeypatch.setattr("irreport.analysis.graph_files.BLOCK_ROWS", block_rows)
    graph = hostile_graph()
    path = tmp_path / "graph.json"

    write_node_link_json(graph, path)

    expected = json_ready(nx.node_link_data(graph, edges="edges"))
    assert json.loads(path.read_text(encoding="utf-8")) == expected


def test_node_link_json_id_attribute(tmp_path: Path):
    graph = nx.DiGraph()
    graph.add_node("n1", id="attribute", name="x")
    graph.add_node("n2", name="y")
    graph.nodes["n2"][7] = "number key"
    path = tmp_path / "graph.json"

    write_node_link_json(graph, path)

    text = path.read_text(encoding="utf-8")
    assert '{"id": "n1", "name": "x"}' in text
    assert json.loads(text) == json_ready(nx.node_link_data(graph, edges="edges"))


def test_text_column_keeps_decimal_and_date():
    values = [Decimal("1.50"), date(2026, 12, 1), None]

    assert TextColumn(values).json() == ["1.5", '"2026-12-01"', "null"]
    assert TextColumn(values).csv() == ["1.50", "2026-12-01", ""]
