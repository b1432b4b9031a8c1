"""Pack queries run with DuckDB-bound parameters return exactly the rows of their let-bound text."""

from __future__ import annotations

from collections import Counter

import pytest

from irreport.collect import collect
from irreport.pack import QueryPack
from irreport.sources.local import open_sample

PACK = QueryPack.load()
FLEET = ["testmachine3", "srv-files01", "wks-finance02", "wks-hr01", "wks-dev04", "srv-app02",
         "laptop-sales07"]
# (devices, parameter overrides) of each collection compared.
RUNS = {
    "incident": (["testmachine3"], {}),
    "fleet": (FLEET, {}),
    "device group": (FLEET, {"DeviceGroups": ["Servers - Critical"]}),
}


@pytest.fixture(scope="module")
def source():
    """The sample of this module alone, because a test counts the translations it made."""
    opened = open_sample()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def collections(source):
    return {name: collect(PACK, source, devices, source.default_range(), overrides)
            for name, (devices, overrides) in RUNS.items()}


def _multiset(rows: list[dict]) -> Counter:
    return Counter(repr(sorted(row.items())) for row in rows)


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("query_id", [query.id for query in PACK])
def test_rows_equal_let_bound(collections, source, run, query_id):
    collection = collections[run]
    result = collection.results[query_id]

    let_bound = source.run(query_id, result.text, collection.time_range)

    assert result.ok, result.message
    assert let_bound.ok, let_bound.message
    assert result.columns == let_bound.columns
    assert result.types == let_bound.types
    assert _multiset(result.rows) == _multiset(let_bound.rows)


def test_incident_rows_not_empty(collections):
    empty = [query_id for query_id, result in collections["incident"].results.items()
             if not result.rows]
    assert empty == []


def test_each_text_translated_once(collections, source):
    parameterised = [query for query in PACK if query.parameterisable]
    counts = source.translations.counts

    assert [query.id for query in PACK if not query.parameterisable] == ["file-analysis"]
    assert counts["translated"] + counts["disk"] + counts["bundled"] == len(parameterised)
    assert counts["memory"] == (len(RUNS) - 1) * len(parameterised)


def test_result_records_let_bound_text(collections):
    result = collections["incident"].results["inbound-then-logon"]

    assert result.text == PACK.get("inbound-then-logon").bind(result.parameters)
    assert result.text.startswith('let Devices = dynamic(["testmachine3"]);\n')
    assert "declare query_parameters" not in result.text


def test_hostile_device_binds_as_value(source):
    hostile = ['x"; DeviceInfo | take 1 //', "testmachine3\") or true or (\"", "TESTMACHINE3"]

    collection = collect(PACK, source, hostile, source.default_range(), only=["device-info"])

    result = collection.results["device-info"]
    assert result.ok, result.message
    assert [row["DeviceName"] for row in result.rows] == ["testmachine3"]
