"""Every pack query on the bundled incident returns the rows its story implies."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from irreport.collect import collect

ATTACKER_IP = "203.0.113.77"
SCRIPT_SHA1 = "5c1e7f1a2b3d4e5f60718293a4b5c6d7e8f90123"
DROPPED_SHA1 = "9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3"
DEVICES = ["testmachine3"]


@pytest.fixture(scope="module")
def collection(pack, sample_source):
    return collect(pack, sample_source, DEVICES, sample_source.default_range())


@pytest.fixture(scope="module")
def fleet_collection(pack, sample_source):
    devices = ["testmachine3", "srv-files01", "wks-finance02", "wks-hr01", "wks-dev04",
               "srv-app02", "laptop-sales07"]
    return collect(pack, sample_source, devices, sample_source.default_range())


def test_every_query_succeeds(collection, pack):
    assert set(collection.results) == {q.id for q in pack}
    failed = {q: (r.status, r.message) for q, r in collection.results.items() if not r.ok}
    assert failed == {}


def test_every_query_returns_rows(collection):
    empty = [q for q, r in collection.results.items() if not r.rows]
    assert empty == []


def test_inbound_then_logon_finds_attacker(collection):
    rows = collection.rows("inbound-then-logon")
    public = [r for r in rows if r["RemoteIPType"] == "Public"]
    assert len(public) == 1
    row = public[0]
    assert row["RemoteIP"] == ATTACKER_IP
    assert row["AccountName"] == "administrator1"
    assert row["LogonType"] == "RemoteInteractive"
    assert row["DelaySeconds"] == 92
    assert row["LocalPort"] == 3389


def test_inbound_then_logon_honours_delay(pack, sample_source):
    shorter = collect(pack, sample_source, DEVICES, sample_source.default_range(),
                      {"MaxDelaySeconds": 60}, only=["inbound-then-logon"])
    rows = shorter.rows("inbound-then-logon")
    assert ATTACKER_IP not in {r["RemoteIP"] for r in rows}


def test_inbound_connections_from_many_addresses(collection):
    rows = [r for r in collection.rows("inbound-connections")
            if r["LocalPort"] == 3389 and r["RemoteIPType"] == "Public"]
    assert len({r["RemoteIP"] for r in rows}) >= 40
    assert ATTACKER_IP in {r["RemoteIP"] for r in rows}
    for row in rows:
        assert row["FirstSeen"] <= row["LastSeen"]


def test_failed_logons_are_hundreds(collection):
    rows = collection.rows("failed-logons")
    assert sum(r["Attempts"] for r in rows if r["RemoteIPType"] == "Public") >= 500
    assert "administrator1" in {r["AccountName"] for r in rows if r["RemoteIP"] == ATTACKER_IP}


def test_file_analysis_by_script_sha1(pack, sample_source):
    result = collect(pack, sample_source, DEVICES, sample_source.default_range(),
                     {"Sha1s": [SCRIPT_SHA1]}, only=["file-analysis"])
    rows = result.rows("file-analysis")
    names = {r["FileName"] for r in rows if r["Evidence"] == "File"}
    assert {"VeryCoolScript.txt", "VeryCoolScript.cmd"} <= names
    children = [r for r in rows if r["Evidence"] == "Child process"]
    child_names = {r["FileName"].lower() for r in children}
    assert {"findstr.exe", "whoami.exe", "net.exe", "systeminfo.exe"} <= child_names
    findstr = [r for r in children if r["FileName"].lower() == "findstr.exe"]
    assert any("password" in r["ProcessCommandLine"].lower() for r in findstr)
    assert all(r["InitiatingProcessFileName"].lower() == "cmd.exe" for r in children)


def test_file_analysis_by_file_name(pack, sample_source):
    result = collect(pack, sample_source, DEVICES, sample_source.default_range(),
                     {"FileNames": ["VeryCoolScript.cmd"], "Sha1s": []}, only=["file-analysis"])
    rows = result.rows("file-analysis")
    assert {r["SHA1"] for r in rows if r["Evidence"] == "File"} == {SCRIPT_SHA1}
    assert "VeryCoolScript.txt" in {r["FileName"] for r in rows}


def test_file_analysis_fed_by_alerts(collection):
    names = collection.results["file-names"]
    assert SCRIPT_SHA1 in names.parameters["Sha1s"]
    assert DROPPED_SHA1 in names.parameters["Sha1s"]
    analysis = collection.results["file-analysis"]
    assert {"VeryCoolScript.txt", "VeryCoolScript.cmd", "odupdate.exe"} <= set(
        analysis.parameters["Names"])


def test_run_keys_persistence_only_on_testmachine3(fleet_collection):
    rows = fleet_collection.rows("run-keys")
    persistence = [r for r in rows if r["RegistryValueName"] == "OneDriveUpdate"]
    assert {r["DeviceName"] for r in persistence} == {"testmachine3"}
    assert persistence[0]["RegistryValueData"] == r"C:\Users\Public\Libraries\odupdate.exe"
    assert persistence[0]["DevicesWithValue"] == 1
    benign_devices = {r["DeviceName"] for r in rows if r["RegistryValueName"] != "OneDriveUpdate"}
    assert len(benign_devices) >= 2


def test_malicious_activity_has_every_category(collection):
    categories = {r["Category"] for r in collection.rows("malicious-activity")}
    assert categories == {"Attack surface reduction", "SmartScreen", "Antivirus", "Tampering",
                          "Exploit Guard", "AMSI"}
    tampering = [r for r in collection.rows("malicious-activity") if r["Category"] == "Tampering"]
    assert tampering[0]["Outcome"] == "Blocked"
    antivirus = [r for r in collection.rows("malicious-activity") if r["Category"] == "Antivirus"]
    assert any("Mimikatz" in (r["Detail"] or "") for r in antivirus)


def test_process_events_include_script_children(collection):
    rows = collection.rows("process-events")
    script = [r for r in rows if "VeryCoolScript.cmd" in (r["InitiatingProcessCommandLine"] or "")]
    assert len(script) >= 10
    times = sorted(r["Timestamp"] for r in script)
    assert (times[-1] - times[0]).total_seconds() < 5


def test_outbound_connections_of_dropped_binary(collection):
    rows = [r for r in collection.rows("outbound-connections")
            if r["InitiatingProcessFileName"] == "odupdate.exe"]
    assert {r["RemoteIP"] for r in rows} >= {ATTACKER_IP, "198.51.100.200"}


def test_user_writable_files_include_drops(collection):
    names = {r["FileName"] for r in collection.rows("user-writable-files")}
    assert {"odupdate.exe", "m.exe", "VeryCoolScript.cmd"} <= names


def test_scheduled_task_created(collection):
    rows = collection.rows("scheduled-tasks-services")
    assert any("OneDrive Sync Check" in (r["Name"] or "") for r in rows)
    # The typed command names the task without its quotes, and keeps its real ActionType.
    (typed,) = [r for r in rows if r["InitiatingProcessFileName"] == "schtasks.exe"
                and r["ActionType"] == "ProcessCreated"]
    assert typed["Name"] == "OneDrive Sync Check"


def test_local_accounts_support_svc(collection):
    rows = collection.rows("local-accounts")
    assert {"UserAccountCreated", "UserAccountAddedToLocalGroup"} <= {r["ActionType"] for r in rows}
    assert "support_svc" in {r["AccountName"] for r in rows}


def test_powershell_tampering_command(collection):
    commands = [r["Command"] for r in collection.rows("powershell-commands")]
    assert any("DisableRealtimeMonitoring" in (c or "") for c in commands)


def test_lsass_access_by_mimikatz(collection):
    rows = collection.rows("lsass-access")
    assert "m.exe" in {r["ProcessFileName"] for r in rows}


def test_lateral_movement_to_file_server(collection):
    rows = [r for r in collection.rows("lateral-movement")
            if r["TargetDevice"] and r["RemotePort"] == 3389]
    assert len(rows) == 1
    assert rows[0]["TargetDevice"] == "srv-files01"
    assert rows[0]["AccountName"] == "administrator1"
    assert rows[0]["RemotePort"] == 3389


def test_lateral_movement_lists_each_connection_once(collection):
    rows = collection.rows("lateral-movement")
    connections = [(r["ConnectionTime"], r["TargetIP"], r["RemotePort"]) for r in rows]
    assert len(connections) == len(set(connections))
    # Every remote-access connection in the sample led to a logon on srv-files01.
    assert {r["TargetDevice"] for r in rows} == {"srv-files01"}


def test_lateral_movement_keeps_connection_without_logon(pack, sample_source):
    # The RDP logon came 10 s after its connection, the SMB ones within a second.
    shorter = collect(pack, sample_source, DEVICES, sample_source.default_range(),
                      {"MaxDelaySeconds": 5}, only=["lateral-movement"])
    rows = shorter.rows("lateral-movement")
    rdp = [r for r in rows if r["RemotePort"] == 3389]
    assert len(rdp) == 1
    assert (rdp[0]["TargetDevice"], rdp[0]["AccountName"], rdp[0]["LogonType"]) == ("", "", "")
    assert rdp[0]["LogonTime"] is None
    assert all(r["TargetDevice"] == "srv-files01" for r in rows if r["RemotePort"] == 445)


def test_alert_evidence_has_nineteen_alerts(fleet_collection):
    rows = fleet_collection.rows("alert-evidence")
    titles = {r["Title"] for r in rows}
    assert len({r["AlertId"] for r in rows}) == 19
    assert {"Password stealing from files", "Anomaly detected in ASEP registry"} <= titles


def test_alert_evidence_of_one_device(collection):
    rows = collection.rows("alert-evidence")
    alerts = {r["AlertId"] for r in rows}
    on_device = {r["AlertId"] for r in rows
                 if r["EntityType"] == "Machine" and r["DeviceName"] == "testmachine3"}
    assert len(alerts) == 18
    assert on_device == alerts


def test_device_info_of_testmachine3(collection):
    rows = collection.rows("device-info")
    assert len(rows) == 1
    assert rows[0]["IsInternetFacing"] is True
    assert rows[0]["OnboardingStatus"] == "Onboarded"


def test_secure_configuration_gaps(fleet_collection):
    rows = fleet_collection.rows("secure-configuration")
    failing = {(r["DeviceName"], r["ConfigurationId"]) for r in rows if r["IsCompliant"] is False}
    assert failing == {("testmachine3", "scid-96"), ("testmachine3", "scid-2505"),
                       ("wks-hr01", "scid-2003")}


def test_telemetry_coverage_counts_tables(collection):
    tables = {r["Table"] for r in collection.rows("telemetry-coverage")}
    assert {"DeviceProcessEvents", "DeviceNetworkEvents", "DeviceLogonEvents",
            "DeviceEvents", "DeviceFileEvents", "DeviceRegistryEvents", "DeviceInfo"} <= tables


def test_range_outside_data_returns_nothing(pack, sample_source):
    from irreport.timerange import TimeRange

    empty = TimeRange(datetime(2020, 1, 1, tzinfo=timezone.utc),
                      datetime(2020, 1, 2, tzinfo=timezone.utc))
    result = collect(pack, sample_source, DEVICES, empty, only=["logons"])
    assert result.results["logons"].status == "empty"


def test_hostile_device_name_matches_nothing(pack, sample_source):
    hostile = 'x"; DeviceInfo | take 1 //'
    result = collect(pack, sample_source, [hostile], sample_source.default_range(),
                     only=["device-info"])
    assert result.results["device-info"].ok
    assert result.rows("device-info") == []


def test_summary_queries_order_rows_fully(collection):
    # Evidence files must be the same on every run, so ties in the main sort key are broken.
    failed = collection.results["failed-logons"].rows
    assert failed == sorted(failed, key=lambda r: (-r["Attempts"], r["FirstSeen"], r["DeviceName"],
                                                   r["RemoteIP"], r["AccountName"], r["LogonType"]))
    assert len({r["Attempts"] for r in failed}) < len(failed)
    inbound = collection.results["inbound-connections"].rows
    assert inbound == sorted(inbound, key=lambda r: (-r["Connections"], r["FirstSeen"],
                                                     r["DeviceName"], r["RemoteIP"], r["LocalPort"]))
