"""The real Advanced Hunting union export: rows placed per table and the pack run over it."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from irreport.collect import collect
from irreport.sources.local import open_path

# Counted by hand from the file's ActionType column: two rows per event type, one
# UntrustedWifiConnection.
EXPECTED_PER_TABLE = {
    "DeviceEvents": 63,
    "DeviceNetworkEvents": 32,
    "DeviceRegistryEvents": 10,
    "DeviceFileEvents": 8,
    "DeviceLogonEvents": 6,
    "UrlClickEvents": 6,
    "DeviceImageLoadEvents": 2,
    "DeviceProcessEvents": 2,
}


def _table_by_simple_rule(action_type: str) -> str:
    """Name the table of an ActionType by its wording, independently of irreport's rule."""
    if action_type.endswith("Inspected") or action_type.startswith("Connection") \
            or action_type in ("InboundConnectionAccepted", "ListeningConnectionCreated"):
        return "DeviceNetworkEvents"
    for prefix, table in (("Registry", "DeviceRegistryEvents"), ("File", "DeviceFileEvents"),
                          ("Logon", "DeviceLogonEvents"), ("Click", "UrlClickEvents"),
                          ("UrlErrorPage", "UrlClickEvents"),
                          ("ImageLoaded", "DeviceImageLoadEvents"),
                          ("ProcessCreated", "DeviceProcessEvents")):
        if action_type.startswith(prefix) and action_type != "ProcessCreatedUsingWmiQuery":
            return table
    return "DeviceEvents"


@pytest.fixture(scope="module")
def export_source(shared_export):
    source = open_path(shared_export)
    yield source
    source.close()


def test_union_rows_per_table_match_file(shared_export, export_source):
    with shared_export.open(encoding="utf-8-sig", newline="") as handle:
        counted = Counter(_table_by_simple_rule(row["ActionType"])
                          for row in csv.DictReader(handle))
    assert dict(counted) == EXPECTED_PER_TABLE
    assert export_source.inferred == EXPECTED_PER_TABLE
    assert export_source.row_counts == EXPECTED_PER_TABLE


def test_union_provenance_lists_inference(export_source):
    provenance = export_source.provenance()
    assert provenance["inferred"] == EXPECTED_PER_TABLE
    assert provenance["row_counts"] == EXPECTED_PER_TABLE
    assert any("UrlClickEvents" in w for w in provenance["warnings"])


def test_union_report_id_merged(export_source):
    report_ids = export_source.con.execute(
        'SELECT count(*), count("ReportId") FROM "DeviceEvents"').fetchone()
    assert report_ids[0] == report_ids[1]
    click_ids = export_source.con.execute(
        'SELECT count("ReportId") FROM "UrlClickEvents"').fetchone()[0]
    assert click_ids == 6


def test_union_timestamps_keep_microseconds(export_source):
    first = export_source.con.execute(
        """SELECT "Timestamp" FROM "DeviceEvents" WHERE "ActionType" = 'AntivirusDetection'
           ORDER BY 1 DESC LIMIT 1""").fetchone()[0]
    # The file writes 2023-12-21T19:04:59.0109752Z; DuckDB keeps microseconds.
    assert first.isoformat() == "2023-12-21T19:04:59.010975"


def test_malicious_activity_over_whole_export(pack, export_source):
    collection = collect(pack, export_source, ["test-hostname"], export_source.data_range(),
                         only=["malicious-activity"])
    result = collection.results["malicious-activity"]
    assert result.ok, result.message
    by_type = Counter(row["ActionType"] for row in result.rows)
    details = {row["Detail"] for row in result.rows}
    assert "Virus:Win32/Virut.BN" in details
    assert sum(n for kind, n in by_type.items() if kind.startswith("Asr")) == 12
    assert by_type["SmartScreenAppWarning"] == 2
    assert by_type["SmartScreenUrlWarning"] == 2
    assert by_type["TamperingAttempt"] == 2
    categories = {row["Category"] for row in result.rows}
    assert categories == {"Antivirus", "Attack surface reduction", "SmartScreen", "Tampering"}
