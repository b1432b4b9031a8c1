"""Each export format on small fixtures: what lands in which table, typed and complete."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from irreport.errors import SourceError
from irreport.sources.local import open_path

FIXTURES = Path(__file__).parent / "fixtures" / "exports"


def _rows(source, sql: str) -> list[tuple]:
    return source.con.execute(sql).fetchall()


def _one(source, sql: str):
    return source.con.execute(sql).fetchone()[0]


@pytest.fixture
def per_table_folder(tmp_path) -> Path:
    """The per-table fixture folder plus a Parquet file written here with DuckDB."""
    folder = tmp_path / "per-table"
    shutil.copytree(FIXTURES / "per-table", folder)
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT TIMESTAMP '2024-10-09 14:38:00.250' AS Timestamp,
                               'dev-fixture-01' AS DeviceId, 'ws-fixture-01' AS DeviceName,
                               'LogonSuccess' AS ActionType, 'alice' AS AccountName,
                               'Interactive' AS LogonType, 12::BIGINT AS ReportId,
                               TRUE AS IsLocalAdmin)
                    TO '{folder / "DeviceLogonEvents.parquet"}' (FORMAT parquet)""")
    con.close()
    return folder


@pytest.fixture
def per_table(per_table_folder):
    source = open_path(per_table_folder)
    yield source
    source.close()


def test_folder_loads_csv_jsonl_parquet(per_table):
    assert per_table.row_counts == {"DeviceProcessEvents": 2, "DeviceNetworkEvents": 3,
                                    "DeviceLogonEvents": 1}
    assert per_table.inferred == {}
    assert per_table.warnings == []


def test_csv_with_bom_keeps_first_column(per_table):
    assert _one(per_table, 'SELECT count("Timestamp") FROM "DeviceProcessEvents"') == 2


def test_csv_multiline_command_line(per_table):
    command = _one(per_table, """SELECT "ProcessCommandLine" FROM "DeviceProcessEvents"
                                 WHERE "FileName" = 'powershell.exe'""")
    assert command == ('powershell.exe -NoProfile -Command "Get-Process\r\n'
                       '| Select-Object -First 1"')


def test_csv_missing_column_is_typed_null(per_table):
    row = per_table.con.execute(
        'SELECT "SHA1", typeof("FileSize"), "FileSize" FROM "DeviceProcessEvents" LIMIT 1'
    ).fetchone()
    assert row == (None, "BIGINT", None)


def test_csv_unknown_column_kept_as_text(per_table):
    notes = _rows(per_table, 'SELECT "CollectorNote" FROM "DeviceProcessEvents" ORDER BY 1')
    assert notes == [("exported by hand",), (None,)]


def test_csv_newer_process_columns_typed(per_table):
    row = per_table.con.execute(
        """SELECT "ProcessUniqueId", "CreatedProcessSessionId", "IsProcessRemoteSession"
           FROM "DeviceProcessEvents" WHERE "FileName" = 'powershell.exe'""").fetchone()
    assert row == (281474976710700, 2, False)


def test_seven_digit_fraction_truncated_to_microseconds(per_table):
    stamp = _one(per_table, """SELECT "Timestamp" FROM "DeviceProcessEvents"
                               WHERE "FileName" = 'powershell.exe'""")
    assert stamp == datetime(2024, 10, 9, 14, 39, 25, 123456)
    rounded = _one(per_table, """SELECT "Timestamp" FROM "DeviceNetworkEvents"
                                 WHERE "ActionType" = 'InboundConnectionAccepted'""")
    assert rounded == datetime(2024, 10, 9, 14, 40, 2, 999999)


def test_epoch_seconds_and_milliseconds(per_table):
    stamps = dict(_rows(per_table, 'SELECT "ActionType", "Timestamp" FROM "DeviceNetworkEvents"'))
    assert stamps["ConnectionSuccess"] == datetime(2024, 10, 9, 14, 40, 0)
    assert stamps["ConnectionFailed"] == datetime(2024, 10, 9, 14, 40, 1, 250000)


def test_jsonl_object_becomes_json_text(per_table):
    fields = _one(per_table, """SELECT "AdditionalFields" FROM "DeviceNetworkEvents"
                                WHERE "ActionType" = 'ConnectionFailed'""")
    assert fields == '{"Direction":"Out"}'
    port = _one(per_table, """SELECT "RemotePort" FROM "DeviceNetworkEvents"
                              WHERE "ActionType" = 'ConnectionFailed'""")
    assert port == 8080


def test_parquet_keeps_types(per_table):
    row = per_table.con.execute(
        'SELECT "Timestamp", "ReportId", "IsLocalAdmin" FROM "DeviceLogonEvents"').fetchone()
    assert row == (datetime(2024, 10, 9, 14, 38, 0, 250000), 12, True)


def test_streaming_batch_routes_by_category():
    source = open_path(FIXTURES / "streaming" / "eventhub-batch.json")
    try:
        assert source.row_counts == {"DeviceEvents": 1, "DeviceProcessEvents": 1,
                                     "EmailEvents": 1}
        detection = source.con.execute(
            'SELECT "AdditionalFields", "ReportId", "TenantId" FROM "DeviceEvents"').fetchone()
        assert detection[0] == '{"ThreatName":"Virus:Win32/Fixture.A","WasRemediated":true}'
        assert detection[1] == 31
        assert detection[2] == "00000000-0000-0000-0000-00000000f1a7"
        process = source.con.execute(
            'SELECT "Timestamp", "ProcessUniqueId" FROM "DeviceProcessEvents"').fetchone()
        # This record has no Timestamp property, so the envelope's time is used.
        assert process == (datetime(2024, 10, 9, 14, 41, 5), 281474976710900)
        assert any("EmailEvents" in w for w in source.warnings)
    finally:
        source.close()


def test_large_streaming_batch_read(tmp_path):
    import json

    from irreport.sources.streaming import FIRST_OBJECT_BYTES

    # One `{"records": [...]}` batch is one JSON value, here over three times the first limit.
    records = [{"time": "2024-10-09T14:00:00Z", "category": "AdvancedHunting-DeviceEvents",
                "properties": {"DeviceName": "pc1", "ActionType": "PowerShellCommand",
                               "AdditionalFields": "y" * (FIRST_OBJECT_BYTES // 2)}}
               for _ in range(7)]
    path = tmp_path / "PT1H.json"
    path.write_text(json.dumps({"records": records}), encoding="utf-8")
    source = open_path(path)
    try:
        assert source.row_counts == {"DeviceEvents": 7}
    finally:
        source.close()


def test_azure_storage_folder_walked_recursively():
    source = open_path(FIXTURES / "azure-storage")
    try:
        assert source.row_counts == {"DeviceLogonEvents": 2, "DeviceEvents": 1}
        assert len(source.files) == 2
        assert _one(source, """SELECT "Timestamp" FROM "DeviceLogonEvents"
                               WHERE "ActionType" = 'LogonSuccess'""") == \
            datetime(2024, 10, 9, 14, 42, 0, 500000)
    finally:
        source.close()


def test_sentinel_exports_route_by_type():
    source = open_path(FIXTURES / "sentinel")
    try:
        assert source.row_counts == {"DeviceEvents": 1, "DeviceLogonEvents": 1,
                                     "DeviceFileEvents": 1}
        logon = source.con.execute(
            'SELECT "Timestamp", "TimeGenerated", "TenantId" FROM "DeviceLogonEvents"').fetchone()
        # The row has no Timestamp, so TimeGenerated ("[UTC]" in the header) is used.
        assert logon[0] == datetime(2024, 10, 9, 14, 46)
        assert logon[1] == datetime(2024, 10, 9, 14, 46)
        assert logon[2] == "00000000-0000-0000-0000-00000000f1a7"
        event = source.con.execute(
            'SELECT "Timestamp", "AdditionalFields", "MachineGroup" FROM "DeviceEvents"'
        ).fetchone()
        assert event == (datetime(2024, 10, 9, 14, 45), '{"Sid":"S-1-5-21-1-2-3-1010"}',
                         "Fixture")
        file_event = source.con.execute(
            'SELECT "Timestamp", "AdditionalFields" FROM "DeviceFileEvents"').fetchone()
        assert file_event == (datetime(2024, 10, 9, 14, 47, 0, 123456),
                              '{"FileType":"PortableExecutable"}')
        # LogonType, filled only by the logon row, is not added to DeviceEvents.
        columns = {r[0] for r in _rows(source, 'DESCRIBE "DeviceEvents"')}
        assert "LogonType" not in columns
        assert "TimeGenerated" in columns
    finally:
        source.close()


def test_portal_local_time_uses_timezone():
    source = open_path(FIXTURES / "portal-local-time.csv", timezone_name="Europe/Berlin")
    try:
        assert source.inferred == {"DeviceEvents": 1, "DeviceLogonEvents": 1}
        # 2:39:25 PM in Berlin on 9 October 2024 (summer time, UTC+2) is 12:39:25 UTC.
        assert _one(source, 'SELECT "Timestamp" FROM "DeviceEvents"') == \
            datetime(2024, 10, 9, 12, 39, 25)
        assert _one(source, 'SELECT "Timestamp" FROM "DeviceLogonEvents"') == \
            datetime(2024, 10, 9, 9, 5)
        assert source.provenance()["timezone"] == "Europe/Berlin"
    finally:
        source.close()


def test_portal_local_time_without_timezone_fails():
    with pytest.raises(SourceError, match="pass --timezone") as caught:
        open_path(FIXTURES / "portal-local-time.csv")
    assert "Oct 9, 2024 2:39:25 PM" in str(caught.value)
    assert "portal-local-time.csv" in str(caught.value)


def test_union_unplaced_rows_are_warned(tmp_path):
    path = tmp_path / "union.csv"
    path.write_text(
        "Timestamp,DeviceName,ActionType,RemoteIP,RegistryKey,SomethingNew\n"
        "2024-10-09T14:00:00Z,pc1,ConnectionSuccess,192.0.2.1,,\n"
        # A network ActionType filling a registry column fits no table.
        "2024-10-09T14:00:01Z,pc1,ConnectionSuccess,192.0.2.1,HKLM\\Software,\n"
        # An unlisted ActionType filling a column no table documents is not DeviceEvents.
        "2024-10-09T14:00:02Z,pc1,BrandNewEvent,,,value\n",
        encoding="utf-8")
    source = open_path(path)
    try:
        assert source.inferred == {"DeviceNetworkEvents": 1}
        assert len(source.warnings) == 1
        assert "2 rows were not loaded" in source.warnings[0]
        assert "BrandNewEvent (1)" in source.warnings[0]
        assert "ConnectionSuccess (1)" in source.warnings[0]
    finally:
        source.close()


def test_utf16_csv_is_read(tmp_path):
    path = tmp_path / "DeviceEvents.csv"
    text = "Timestamp,DeviceName,ActionType\n2024-10-09T14:00:00Z,pc-ü,TamperingAttempt\n"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    source = open_path(path)
    try:
        assert _one(source, 'SELECT "DeviceName" FROM "DeviceEvents"') == "pc-ü"
    finally:
        source.close()


def test_gzip_jsonl_is_read(tmp_path):
    import gzip

    path = tmp_path / "DeviceEvents.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"Timestamp": "2024-10-09T14:00:00Z", "DeviceName": "pc1", '
                     '"ActionType": "ScheduledTaskCreated"}\n')
    source = open_path(path)
    try:
        assert source.row_counts == {"DeviceEvents": 1}
    finally:
        source.close()


def test_large_jsonl_line_read(tmp_path):
    from irreport.sources.streaming import FIRST_OBJECT_BYTES

    # DuckDB accepted a 32 MiB line under a 16 MiB limit, so this line is over three times it.
    command_line = "x" * (3 * FIRST_OBJECT_BYTES + 1)
    path = tmp_path / "DeviceProcessEvents.jsonl"
    path.write_text(
        '{"Timestamp": "2024-10-09T14:00:00Z", "DeviceName": "pc1", "ProcessId": 4, '
        f'"ProcessCommandLine": "{command_line}"}}\n'
        '{"Timestamp": "2024-10-09T14:00:01Z", "DeviceName": "pc1", "ProcessId": 8, '
        '"ProcessCommandLine": "short"}\n', encoding="utf-8")
    source = open_path(path)
    try:
        lengths = _rows(source, "SELECT ProcessId, length(ProcessCommandLine) "
                                "FROM DeviceProcessEvents ORDER BY ProcessId")
        assert lengths == [(4, len(command_line)), (8, 5)]
    finally:
        source.close()


def test_missing_tables_reported_not_empty(per_table, pack):
    from irreport.collect import collect
    from irreport.timerange import TimeRange

    window = TimeRange(datetime.fromisoformat("2024-10-01T00:00:00+00:00"),
                       datetime.fromisoformat("2024-11-01T00:00:00+00:00"))
    collection = collect(pack, per_table, ["ws-fixture-01"], window,
                         only=["run-keys", "process-events", "lsass-access", "telemetry-coverage"])
    run_keys = collection.results["run-keys"]
    assert run_keys.status == "not-available"
    assert "DeviceRegistryEvents: not in the loaded data" in run_keys.message
    assert collection.results["process-events"].ok
    assert not [w for w in collection.results["process-events"].warnings
                if "not in the loaded data" in w]
    # No rows with one of its tables absent cannot mean that nothing happened.
    lsass = collection.results["lsass-access"]
    assert lsass.status == "not-available"
    assert lsass.message.startswith("no rows, and DeviceEvents: not in the loaded data")
    coverage = collection.results["telemetry-coverage"]
    assert coverage.ok
    assert coverage.rows
    assert any(w.startswith("DeviceEvents: not in the loaded data") for w in coverage.warnings)


def test_missing_columns_noted_per_query(per_table, pack):
    from irreport.collect import collect
    from irreport.timerange import TimeRange

    window = TimeRange(datetime.fromisoformat("2024-10-01T00:00:00+00:00"),
                       datetime.fromisoformat("2024-11-01T00:00:00+00:00"))
    collection = collect(pack, per_table, ["ws-fixture-01"], window,
                         only=["process-events", "lsass-access"])
    # process-events names MD5 only to drop it with project-away, so it reads none of them.
    assert "MD5" in per_table.provenance()["missing_columns"]["DeviceProcessEvents"]
    assert collection.results["process-events"].warnings == []
    # lsass-access makes its own ProcessId from InitiatingProcessId, so it reads none.
    named = [column for note in collection.results["lsass-access"].warnings if " lacks " in note
             for column in note.split(" lacks ")[1].split(" in the loaded data")[0].split(", ")]
    assert "InitiatingProcessId" in named
    assert "ProcessId" not in named


def test_project_away_reads_no_column():
    from irreport.collect import reads_column

    body = "DeviceProcessEvents\n| project-away MD5,\n    SHA256\n| where FileName == 'a.exe'"
    assert not reads_column(body, "MD5")
    assert not reads_column(body, "SHA256")
    assert reads_column(body, "FileName")


@pytest.mark.parametrize("select, columnar", [
    ("SELECT * FROM (VALUES (1::BIGINT, NULL::TIMESTAMP, 'a', TRUE, 1.5::DOUBLE),"
     " (NULL, TIMESTAMP '2026-12-02 14:42:05.123456', NULL, NULL, NULL)) t(i, t, s, b, d)", True),
    # Times without NULL, before the epoch and at both ends of what datetime holds.
    ("SELECT * FROM (VALUES (TIMESTAMP '0001-01-01 00:00:00'), (TIMESTAMP '1969-12-31 23:59:59"
     ".999999'), (TIMESTAMP '9999-12-31 23:59:59.999999')) t(t)", True),
    # DECIMAL, LIST and a time Python's datetime cannot hold (fetchall gives it as text) go
    # row by row.
    ("SELECT 1.25::DECIMAL(5, 2) AS x, [1, 2] AS l", False),
    ("SELECT TIMESTAMP '12000-01-01 00:00:00' AS t", False),
])
def test_columnar_fetch_matches_fetchall(select, columnar):
    import duckdb

    from irreport.sources.local import _fetch, _row_dict

    con = duckdb.connect()
    relation = con.sql(select)
    columns, types = relation.columns, [str(t) for t in relation.types]
    rows, arrays = _fetch(relation, columns, types)
    assert rows == [_row_dict(columns, row) for row in con.sql(select).fetchall()]
    assert bool(arrays) is columnar
    times = [value for row in rows for value in row.values() if isinstance(value, datetime)]
    assert all(moment.tzinfo is timezone.utc for moment in times)
