"""The cache of duckdb-kql translations: hits, misses, damaged files and folders it cannot use."""

from __future__ import annotations

import json
import logging
import stat
from datetime import datetime, timezone

import duckdb_kql
import pytest

from irreport.pack import ParameterisedQuery
from irreport.sources.translation_cache import CACHE_ENV, TranslationCache, cache_folder

QUERY = ("declare query_parameters(Devices:dynamic, StartTime:datetime);\n"
         "DeviceInfo | where Timestamp >= StartTime | where DeviceName in~ (Devices)\n"
         "| project DeviceName")
STATEMENT = ParameterisedQuery(QUERY, {"Devices": ["TESTMACHINE3"],
                                       "StartTime": datetime(2026, 12, 1, tzinfo=timezone.utc)})


@pytest.fixture
def con():
    connection = duckdb_kql.connect()
    connection.execute('CREATE TABLE DeviceInfo ("Timestamp" TIMESTAMP, DeviceName VARCHAR)')
    connection.execute("INSERT INTO DeviceInfo VALUES ('2026-12-01 10:00', 'testmachine3'), "
                       "('2026-12-01 11:00', 'srv-files01'), ('2026-11-01 10:00', 'testmachine3')")
    yield connection
    connection.close()


def _rows(cache: TranslationCache, con, statement=STATEMENT) -> list[tuple]:
    return cache.run(con, statement).fetchall()


def _only_file(folder):
    (path,) = folder.glob("*.json")
    return path


def _edit_entry(folder, **changes) -> None:
    """Change fields of the one cache file in *folder*, keeping it valid JSON."""
    path = _only_file(folder)
    entry = json.loads(path.read_text(encoding="utf-8"))
    entry.update(changes)
    path.write_text(json.dumps(entry), encoding="utf-8")


def test_first_run_translates_then_reuses(con, tmp_path):
    cache = TranslationCache(tmp_path)

    first = _rows(cache, con)
    second = _rows(cache, con)

    assert first == [("testmachine3",)]
    assert second == first
    assert cache.counts == {"translated": 1, "memory": 1}


def test_new_cache_reads_disk(con, tmp_path):
    _rows(TranslationCache(tmp_path), con)
    cache = TranslationCache(tmp_path)

    rows = _rows(cache, con)

    assert rows == [("testmachine3",)]
    assert cache.counts == {"disk": 1}


def test_other_values_reuse_translation(con, tmp_path):
    cache = TranslationCache(tmp_path)
    _rows(cache, con)
    other = ParameterisedQuery(QUERY, {"Devices": ["srv-files01", "testmachine3"],
                                       "StartTime": datetime(2026, 11, 1)})

    rows = _rows(cache, con, other)

    assert sorted(rows) == [("srv-files01",), ("testmachine3",), ("testmachine3",)]
    assert cache.counts == {"translated": 1, "memory": 1}


def test_disk_entry_sql_is_run(con, tmp_path):
    _rows(TranslationCache(tmp_path), con)
    _edit_entry(tmp_path, sql="SELECT 'from the cache file' AS DeviceName", slots=[])

    rows = _rows(TranslationCache(tmp_path), con)

    assert rows == [("from the cache file",)]


def test_schema_change_translates_again(con, tmp_path):
    cache = TranslationCache(tmp_path)
    _rows(cache, con)
    con.execute("ALTER TABLE DeviceInfo ADD COLUMN MachineGroup VARCHAR")

    rows = _rows(cache, con)

    assert rows == [("testmachine3",)]
    assert cache.counts == {"translated": 2}
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_column_type_change_translates_again(con, tmp_path):
    cache = TranslationCache(tmp_path)
    _rows(cache, con)
    con.execute("ALTER TABLE DeviceInfo ALTER DeviceName TYPE TEXT")
    con.execute("ALTER TABLE DeviceInfo ADD COLUMN Extra INTEGER")
    con.execute("ALTER TABLE DeviceInfo DROP COLUMN Extra")
    same_schema = TranslationCache(tmp_path)
    _rows(same_schema, con)
    con.execute("ALTER TABLE DeviceInfo ALTER \"Timestamp\" TYPE TIMESTAMPTZ")

    rows = _rows(same_schema, con)

    assert rows == [("testmachine3",)]
    assert same_schema.counts == {"disk": 1, "translated": 1}


def test_unnamed_table_keeps_translation(con, tmp_path):
    _rows(TranslationCache(tmp_path), con)
    con.execute("CREATE TABLE UrlClickEvents (Url VARCHAR, DeviceName VARCHAR)")
    cache = TranslationCache(tmp_path)

    rows = _rows(cache, con)

    assert rows == [("testmachine3",)]
    assert cache.counts == {"disk": 1}


def test_named_table_loaded_translates_again(con, tmp_path):
    text = ("declare query_parameters(StartTime:datetime);\n"
            "union isfuzzy=true DeviceInfo, DeviceLogonEvents\n"
            "| where Timestamp >= StartTime | project DeviceName")
    statement = ParameterisedQuery(text, {"StartTime": STATEMENT.values["StartTime"]})
    cache = TranslationCache(tmp_path)
    before = sorted(_rows(cache, con, statement))
    con.execute('CREATE TABLE DeviceLogonEvents ("Timestamp" TIMESTAMP, DeviceName VARCHAR)')
    con.execute("INSERT INTO DeviceLogonEvents VALUES ('2026-12-02 09:00', 'dc01')")

    after = sorted(_rows(cache, con, statement))

    assert before == [("srv-files01",), ("testmachine3",)]
    assert after == [("dc01",), ("srv-files01",), ("testmachine3",)]
    assert cache.counts == {"translated": 2}


def test_wildcard_counts_every_table(con, tmp_path):
    text = ("declare query_parameters(StartTime:datetime);\n"
            "union Device* | where Timestamp >= StartTime | project DeviceName")
    statement = ParameterisedQuery(text, {"StartTime": STATEMENT.values["StartTime"]})
    cache = TranslationCache(tmp_path)
    _rows(cache, con, statement)
    con.execute('CREATE TABLE DeviceNetworkEvents ("Timestamp" TIMESTAMP, DeviceName VARCHAR)')
    con.execute("INSERT INTO DeviceNetworkEvents VALUES ('2026-12-02 09:00', 'web01')")

    rows = sorted(_rows(cache, con, statement))

    assert rows == [("srv-files01",), ("testmachine3",), ("web01",)]
    assert cache.counts == {"translated": 2}


def test_other_version_entry_translated_again(con, tmp_path):
    _rows(TranslationCache(tmp_path), con)
    _edit_entry(tmp_path, duckdb_kql="0.0.1")
    cache = TranslationCache(tmp_path)

    rows = _rows(cache, con)

    assert rows == [("testmachine3",)]
    assert cache.counts == {"translated": 1}
    rewritten = json.loads(_only_file(tmp_path).read_text(encoding="utf-8"))
    assert rewritten["duckdb_kql"] == duckdb_kql.__version__


# Damage done to a cache file: bytes that replace it, or fields changed in its JSON.
CORRUPT = {
    "empty": b"",
    "cut short": b'{"format": 1, "sql": "SELE',
    "not UTF-8": b"\xff\xfe\x00{",
    "a list": b"[1, 2]",
    "slot of no parameter": {"slots": ["kqlp9"]},
    "sql not text": {"sql": ["SELECT 1"]},
    "declaration not an object": {"declarations": ["Devices"]},
}


@pytest.mark.parametrize("damage", CORRUPT)
def test_corrupt_file_translated_and_replaced(con, tmp_path, damage):
    _rows(TranslationCache(tmp_path), con)
    if isinstance(CORRUPT[damage], dict):
        _edit_entry(tmp_path, **CORRUPT[damage])
    else:
        _only_file(tmp_path).write_bytes(CORRUPT[damage])
    cache = TranslationCache(tmp_path)

    rows = _rows(cache, con)

    assert rows == [("testmachine3",)]
    assert cache.counts == {"translated": 1}
    assert json.loads(_only_file(tmp_path).read_text(encoding="utf-8"))["text"] == QUERY


def test_unwritable_folder_warns_once(con, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    cache = TranslationCache(blocker / "kql")
    other = ParameterisedQuery(QUERY + "\n| take 1", STATEMENT.values)

    with caplog.at_level(logging.WARNING, logger="irreport.sources.translation_cache"):
        first = _rows(cache, con)
        second = _rows(cache, con, other)
        third = _rows(cache, con)

    assert first == third == [("testmachine3",)]
    assert second == [("testmachine3",)]
    assert cache.counts == {"translated": 2, "memory": 1}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "cannot write the KQL translation cache" in warnings[0]
    assert CACHE_ENV in warnings[0]


def test_created_folder_is_private(con, tmp_path):
    folder = tmp_path / "cache" / "kql"

    _rows(TranslationCache(folder), con)

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(_only_file(folder).stat().st_mode) == 0o600


def test_no_folder_keeps_memory_only(con, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "none")
    cache = TranslationCache(cache_folder())

    _rows(cache, con)
    _rows(cache, con)

    assert cache.folder is None
    assert cache.counts == {"translated": 1, "memory": 1}


def test_cache_folder_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    assert str(cache_folder({CACHE_ENV: "/srv/kql", "XDG_CACHE_HOME": "/xdg"})) == "/srv/kql"
    assert cache_folder({CACHE_ENV: "NONE"}) is None
    assert str(cache_folder({"XDG_CACHE_HOME": "/xdg"})) == "/xdg/irreport/kql"
    assert cache_folder({}) == tmp_path / "home" / ".cache" / "irreport" / "kql"


def test_clock_query_is_not_kept(con, tmp_path):
    pinned = ParameterisedQuery("set query_now = datetime(2026-01-01);\n"
                                "declare query_parameters(Offset:long);\n"
                                "print Now = now(), Offset", {"Offset": 3})
    cache = TranslationCache(tmp_path)

    first = _rows(cache, con, pinned)
    second = _rows(cache, con, pinned)

    assert first == second == [(datetime(2026, 1, 1), 3)]
    assert cache.counts == {"translated": 2}
    assert list(tmp_path.glob("*.json")) == []


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_mistyped_value_rejected(con, tmp_path, warm):
    cache = TranslationCache(tmp_path)
    if warm:
        _rows(cache, con)
    wrong = ParameterisedQuery(QUERY, {"Devices": ["testmachine3"], "StartTime": "yesterday"})

    with pytest.raises(duckdb_kql.KqlSchemaError, match="StartTime"):
        _rows(cache, con, wrong)


HOSTILE = [
    'x"; DeviceInfo | take 1 //',
    "x'); DROP TABLE DeviceInfo; --",
    "$kqlp0",
    "CAST($kqlp1 AS TIMESTAMP)",
    "line\nbreak\r\tand tab",
    "back\\slash\\",
    "bell\x07 and escape\x1b",
    "\u202etxt.exe",
    "[\"a\", \"b\"]",
]


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_hostile_value_matches_only_itself(con, tmp_path, hostile, warm):
    con.execute("INSERT INTO DeviceInfo VALUES ('2026-12-02 10:00', ?)", [hostile])
    cache = TranslationCache(tmp_path / "hostile")
    if warm:
        _rows(cache, con)
    statement = ParameterisedQuery(QUERY, {"Devices": [hostile],
                                           "StartTime": STATEMENT.values["StartTime"]})
    _rows(TranslationCache(tmp_path / "plain"), con)

    rows = _rows(cache, con, statement)

    assert rows == [(hostile,)]
    assert con.execute("SELECT count(*) FROM DeviceInfo").fetchone() == (4,)
    written = _only_file(tmp_path / "hostile")
    assert written.read_bytes() == (tmp_path / "plain" / written.name).read_bytes()


@pytest.mark.parametrize("storage", ["memory", "disk"])
def test_bundle_has_every_pack_translation(monkeypatch, storage):
    """The shipped translations cover the pack on the sample, so a first run translates none."""
    from irreport.collect import collect
    from irreport.pack import QueryPack
    from irreport.sources.database import STORAGE_VARIABLE
    from irreport.sources.local import open_sample

    monkeypatch.setenv(STORAGE_VARIABLE, storage)
    pack = QueryPack.load()
    source = open_sample()
    try:
        # An export can add a table that irreport does not know, which no pack query reads.
        source.con.execute("CREATE TABLE UrlClickEvents (\"Timestamp\" TIMESTAMP, Url VARCHAR)")
        source.translations = TranslationCache(None)
        collection = collect(pack, source, ["testmachine3"], source.default_range())
    finally:
        source.close()
    counts = source.translations.counts
    parameterised = [query_id for query_id, result in collection.results.items()
                     if pack.get(query_id).parameterisable and result.ok]
    assert counts["translated"] == 0, "rerun: python -m irreport.sources.translation_bundle"
    assert counts["bundled"] == len(parameterised)
