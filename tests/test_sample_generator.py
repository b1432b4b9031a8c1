"""Tests for the sample incident generator against the contract in docs/sample-incident.md."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from irreport.sample.generate import DEFAULT_OUT, write_sample
from irreport.sample.rows import load_table_columns

ATTACKER_IP = "203.0.113.77"
PROCESS_TABLES = [
    "DeviceProcessEvents",
    "DeviceNetworkEvents",
    "DeviceFileEvents",
    "DeviceRegistryEvents",
    "DeviceEvents",
    "DeviceLogonEvents",
]

Rows = list[dict[str, object]]


def parse_time(value: object) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample(out)
    return out


@pytest.fixture(scope="module")
def tables(generated: Path) -> dict[str, Rows]:
    loaded = {}
    for path in sorted(generated.glob("*.jsonl")):
        loaded[path.stem] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return loaded


def test_regenerated_files_match_committed(generated: Path) -> None:
    committed = sorted(path.name for path in DEFAULT_OUT.iterdir())
    assert sorted(path.name for path in generated.iterdir()) == committed
    for name in committed:
        assert (generated / name).read_bytes() == (DEFAULT_OUT / name).read_bytes(), (
            f"{name} differs; rerun python -m irreport.sample.generate"
        )


def test_columns_exist_in_schema(tables: dict[str, Rows]) -> None:
    schema = load_table_columns()
    for table, rows in tables.items():
        assert table in schema, table
        allowed = set(schema[table])
        for row in rows:
            unknown = set(row) - allowed
            assert not unknown, f"{table} row has columns outside the schema: {sorted(unknown)}"


def test_keys_follow_schema_order(tables: dict[str, Rows]) -> None:
    schema = load_table_columns()
    for table, rows in tables.items():
        position = {name: index for index, name in enumerate(schema[table])}
        for row in rows:
            indexes = [position[name] for name in row]
            assert indexes == sorted(indexes), f"{table} row keys out of order: {list(row)}"


def test_rows_sorted_and_inside_anchor(generated: Path, tables: dict[str, Rows]) -> None:
    anchor = json.loads((generated / "anchor.json").read_text(encoding="utf-8"))
    start, end = parse_time(anchor["start"]), parse_time(anchor["end"])
    pattern = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    for table, rows in tables.items():
        stamps = [str(row["Timestamp"]) for row in rows if "Timestamp" in row]
        assert stamps == sorted(stamps), f"{table} is not sorted by Timestamp"
        for stamp in stamps:
            assert pattern.match(stamp), f"{table} timestamp {stamp} is not ISO 8601 with milliseconds and Z"
            assert start <= parse_time(stamp) < end, f"{table} timestamp {stamp} is outside the anchor"


def test_device_ids_are_40_hex_and_fixed(tables: dict[str, Rows]) -> None:
    ids_by_name = defaultdict(set)
    for rows in tables.values():
        for row in rows:
            if "DeviceName" in row and "DeviceId" in row:
                ids_by_name[row["DeviceName"]].add(row["DeviceId"])
    assert sorted(ids_by_name) == sorted(
        ["testmachine3", "srv-files01", "wks-finance02", "wks-hr01", "wks-dev04", "srv-app02", "laptop-sales07"]
    )
    for name, ids in ids_by_name.items():
        assert len(ids) == 1, f"{name} has several DeviceIds"
        assert re.fullmatch(r"[0-9a-f]{40}", next(iter(ids))), name


def test_nineteen_alerts_with_evidence(tables: dict[str, Rows]) -> None:
    alerts = tables["AlertInfo"]
    assert len(alerts) == 19
    assert len({row["AlertId"] for row in alerts}) == 19
    titles = {row["Title"] for row in alerts}
    assert "Password stealing from files" in titles
    assert "Anomaly detected in ASEP registry" in titles
    evidence_ids = {row["AlertId"] for row in tables["AlertEvidence"]}
    for alert in alerts:
        assert str(alert["AlertId"]).startswith("da638")
        assert "15:05:00" <= str(alert["Timestamp"])[11:19] <= "15:40:00"
        assert alert["Severity"] in {"High", "Medium", "Low", "Informational"}
        assert json.loads(str(alert["AttackTechniques"])), alert["Title"]
        assert alert["AlertId"] in evidence_ids, f"alert {alert['Title']} has no evidence"


def test_logon_92_seconds_after_connection(tables: dict[str, Rows]) -> None:
    inbound = [
        row
        for row in tables["DeviceNetworkEvents"]
        if row["ActionType"] == "InboundConnectionAccepted" and row.get("RemoteIP") == ATTACKER_IP
    ]
    assert len(inbound) == 1
    assert inbound[0]["Timestamp"] == "2026-12-02T14:35:40.000Z"
    assert inbound[0]["DeviceName"] == "testmachine3"
    assert inbound[0]["LocalPort"] == 3389
    successes = [
        row
        for row in tables["DeviceLogonEvents"]
        if row["ActionType"] == "LogonSuccess" and row.get("RemoteIP") == ATTACKER_IP
    ]
    assert len(successes) == 1
    success = successes[0]
    assert success["LogonType"] == "RemoteInteractive"
    assert success["AccountName"] == "administrator1"
    assert (parse_time(success["Timestamp"]) - parse_time(inbound[0]["Timestamp"])).total_seconds() == 92


def test_only_one_public_logon_success(tables: dict[str, Rows]) -> None:
    public = [
        row
        for row in tables["DeviceLogonEvents"]
        if row["ActionType"] == "LogonSuccess" and row.get("RemoteIPType") == "Public"
    ]
    assert len(public) == 1


def test_brute_force_shape(tables: dict[str, Rows]) -> None:
    failures = [row for row in tables["DeviceLogonEvents"] if row["ActionType"] == "LogonFailed"]
    assert 570 <= len(failures) <= 630
    assert len({row["RemoteIP"] for row in failures}) == 40
    for row in failures:
        assert row["DeviceName"] == "testmachine3"
        assert row["LogonType"] == "Network"
        assert row["Protocol"] == "NTLM"
        assert row["RemoteIPType"] == "Public"
        assert row["FailureReason"] in {"InvalidUserNameOrPassword", "UnknownUser"}
        assert re.match(r"^(192\.0\.2|198\.51\.100|203\.0\.113)\.", str(row["RemoteIP"])), row["RemoteIP"]
    attacker_failures = [row for row in failures if row["RemoteIP"] == ATTACKER_IP]
    assert 1 <= len(attacker_failures) <= 5
    rdp_inbound = [
        row
        for row in tables["DeviceNetworkEvents"]
        if row["ActionType"] == "InboundConnectionAccepted"
        and row.get("LocalPort") == 3389
        and row.get("RemoteIPType") == "Public"
    ]
    assert len(rdp_inbound) >= len(failures) - len(attacker_failures)


def test_lan_inbound_smb_on_file_server(tables: dict[str, Rows]) -> None:
    smb = [
        row
        for row in tables["DeviceNetworkEvents"]
        if row["DeviceName"] == "srv-files01"
        and row["ActionType"] == "InboundConnectionAccepted"
        and row.get("LocalPort") == 445
    ]
    assert smb
    assert all(str(row["RemoteIP"]).startswith("10.0.") for row in smb)


def test_script_children_within_two_seconds(tables: dict[str, Rows]) -> None:
    processes = tables["DeviceProcessEvents"]
    script = [
        row
        for row in processes
        if "VeryCoolScript.cmd" in str(row["ProcessCommandLine"]) and row["FileName"] == "cmd.exe"
    ]
    assert len(script) == 1
    assert script[0]["Timestamp"] == "2026-12-02T14:42:05.120Z"
    assert script[0]["InitiatingProcessFileName"] == "explorer.exe"
    children = [
        row
        for row in processes
        if row["InitiatingProcessId"] == script[0]["ProcessId"]
        and row["InitiatingProcessCreationTime"] == script[0]["ProcessCreationTime"]
        and row["DeviceId"] == script[0]["DeviceId"]
        and row["FileName"] != "conhost.exe"
    ]
    names = [row["FileName"] for row in children]
    assert names == [
        "whoami.exe",
        "net.exe",
        "net.exe",
        "nltest.exe",
        "ipconfig.exe",
        "systeminfo.exe",
        "tasklist.exe",
        "netstat.exe",
        "findstr.exe",
        "findstr.exe",
    ]
    started = parse_time(script[0]["Timestamp"])
    gaps = []
    previous = started
    for child in children:
        moment = parse_time(child["Timestamp"])
        assert (moment - started).total_seconds() <= 2.0
        gaps.append((moment - previous).total_seconds())
        previous = moment
    assert all(0.04 <= gap <= 0.2 for gap in gaps[1:]), gaps


def test_console_tools_have_conhost_and_net1(tables: dict[str, Rows]) -> None:
    processes = tables["DeviceProcessEvents"]
    children = defaultdict(list)
    for row in processes:
        children[(row["DeviceId"], row["InitiatingProcessId"], row["InitiatingProcessCreationTime"])].append(
            row["FileName"]
        )
    victim_tools = [
        row
        for row in processes
        if row["DeviceName"] == "testmachine3"
        and "2026-12-02T14:42" <= str(row["Timestamp"]) < "2026-12-02T14:51"
        and row["FileName"]
        in {
            "whoami.exe",
            "net.exe",
            "findstr.exe",
            "certutil.exe",
            "reg.exe",
            "schtasks.exe",
            "powershell.exe",
            "m.exe",
        }
    ]
    # The script starts whoami, two net and two findstr. The interactive shell starts two certutil,
    # reg, schtasks, two net, two powershell and m.exe.
    assert len(victim_tools) == 14
    for row in victim_tools:
        own = children[(row["DeviceId"], row["ProcessId"], row["ProcessCreationTime"])]
        assert "conhost.exe" in own, row["ProcessCommandLine"]
        if row["FileName"] == "net.exe":
            assert "net1.exe" in own, row["ProcessCommandLine"]


def test_run_key_value_only_on_testmachine3(tables: dict[str, Rows]) -> None:
    values = [row for row in tables["DeviceRegistryEvents"] if row.get("RegistryValueName") == "OneDriveUpdate"]
    assert len(values) == 1
    assert values[0]["DeviceName"] == "testmachine3"
    assert values[0]["RegistryValueData"] == "C:\\Users\\Public\\Libraries\\odupdate.exe"
    assert values[0]["InitiatingProcessFileName"] == "reg.exe"
    benign_run_values = {
        row["RegistryValueName"]
        for row in tables["DeviceRegistryEvents"]
        if str(row["RegistryKey"]).endswith("\\CurrentVersion\\Run")
    }
    assert {"OneDrive", "SecurityHealth", "ms-teams"} <= benign_run_values


def test_initiating_fields_match_creation_rows(tables: dict[str, Rows]) -> None:
    created = {
        (row["DeviceId"], row["ProcessId"], row["ProcessCreationTime"]): row for row in tables["DeviceProcessEvents"]
    }
    pairs = [
        ("InitiatingProcessFileName", "FileName"),
        ("InitiatingProcessCommandLine", "ProcessCommandLine"),
        ("InitiatingProcessSHA1", "SHA1"),
        ("InitiatingProcessAccountName", "AccountName"),
        ("InitiatingProcessAccountSid", "AccountSid"),
        ("InitiatingProcessUniqueId", "ProcessUniqueId"),
        ("InitiatingProcessParentId", "InitiatingProcessId"),
        ("InitiatingProcessParentFileName", "InitiatingProcessFileName"),
        ("InitiatingProcessParentCreationTime", "InitiatingProcessCreationTime"),
    ]
    matched = 0
    for table in PROCESS_TABLES:
        for row in tables.get(table, []):
            key = (row["DeviceId"], row.get("InitiatingProcessId"), row.get("InitiatingProcessCreationTime"))
            parent = created.get(key)
            if parent is None:
                continue
            matched += 1
            for initiating, own in pairs:
                if initiating in row:
                    assert row[initiating] == parent[own], f"{table} {initiating} differs from the creation row"
            assert str(row["InitiatingProcessFolderPath"]) == str(parent["FolderPath"]).lower()
    assert matched > 1000


def test_process_rows_fill_identity_columns(tables: dict[str, Rows]) -> None:
    required = [
        "FileName",
        "FolderPath",
        "SHA1",
        "SHA256",
        "MD5",
        "ProcessId",
        "ProcessCommandLine",
        "ProcessCreationTime",
        "AccountDomain",
        "AccountName",
        "AccountSid",
        "ProcessUniqueId",
        "InitiatingProcessFileName",
        "InitiatingProcessFolderPath",
        "InitiatingProcessId",
        "InitiatingProcessCommandLine",
        "InitiatingProcessCreationTime",
        "InitiatingProcessUniqueId",
        "InitiatingProcessParentId",
        "InitiatingProcessParentFileName",
        "InitiatingProcessParentCreationTime",
        "InitiatingProcessAccountName",
        "InitiatingProcessSHA1",
    ]
    for row in tables["DeviceProcessEvents"]:
        assert row["ActionType"] == "ProcessCreated"
        missing = [name for name in required if name not in row]
        assert not missing, f"{row['FileName']} at {row['Timestamp']} lacks {missing}"
        assert row["ProcessCreationTime"] == row["Timestamp"]


def test_parents_start_before_children(tables: dict[str, Rows]) -> None:
    for table in PROCESS_TABLES:
        for row in tables.get(table, []):
            if "InitiatingProcessCreationTime" not in row:
                continue
            assert row["InitiatingProcessCreationTime"] <= row["Timestamp"], f"{table} row precedes its process: {row}"
            if "InitiatingProcessParentCreationTime" in row:
                assert row["InitiatingProcessParentCreationTime"] <= row["InitiatingProcessCreationTime"], (
                    f"{table} process precedes its parent: {row}"
                )


def test_process_id_reused_on_one_device(tables: dict[str, Rows]) -> None:
    starts = defaultdict(set)
    for row in tables["DeviceProcessEvents"]:
        starts[(row["DeviceName"], row["ProcessId"])].add((row["ProcessCreationTime"], row["FileName"]))
    reused = {key: value for key, value in starts.items() if len(value) > 1}
    assert [device for device, _pid in reused] == ["wks-finance02"]
    programs = {name for _time, name in next(iter(reused.values()))}
    assert "notepad.exe" in programs
    assert len(programs) == 2


def test_defender_families_present(tables: dict[str, Rows]) -> None:
    actions = Counter(row["ActionType"] for row in tables["DeviceEvents"])
    for action in [
        "AntivirusDetection",
        "AsrLsassCredentialTheftBlocked",
        "SmartScreenUrlWarning",
        "SmartScreenAppWarning",
        "ExploitGuardNetworkProtectionBlocked",
        "TamperingAttempt",
        "AmsiScriptDetection",
        "PowerShellCommand",
        "ScheduledTaskCreated",
        "UserAccountCreated",
        "UserAccountAddedToLocalGroup",
        "OpenProcessApiCall",
        "AsrPsexecWmiChildProcessAudited",
    ]:
        assert actions[action] >= 1, action
    for row in tables["DeviceEvents"]:
        if "AdditionalFields" in row:
            json.loads(str(row["AdditionalFields"]))
    lsass_rule = [row for row in tables["DeviceEvents"] if row["ActionType"] == "AsrLsassCredentialTheftBlocked"]
    assert json.loads(str(lsass_rule[0]["AdditionalFields"])) == {
        "IsAudit": False,
        "RuleId": "9e6c4e1f-7d60-472f-ba1a-a39ef669e4b2",
    }
    outside_incident = [
        row
        for row in tables["DeviceEvents"]
        if row["ActionType"] == "AntivirusDetection" and row["DeviceName"] != "testmachine3"
    ]
    assert outside_incident


def test_secure_configuration_contract(tables: dict[str, Rows]) -> None:
    rows = tables["DeviceTvmSecureConfigurationAssessment"]
    expected_ids = {"scid-2003", "scid-2010", "scid-2011", "scid-2012", "scid-2016", "scid-96"} | {
        f"scid-{n}" for n in range(2500, 2515)
    }
    by_device = defaultdict(set)
    for row in rows:
        by_device[row["DeviceName"]].add(row["ConfigurationId"])
        json.loads(str(row["Context"]))
    assert all(ids == expected_ids for ids in by_device.values())
    assert len(by_device) == 7
    failing = {(row["DeviceName"], row["ConfigurationId"]) for row in rows if not row["IsCompliant"]}
    assert failing == {("testmachine3", "scid-96"), ("testmachine3", "scid-2505"), ("wks-hr01", "scid-2003")}
    assert {row["ConfigurationId"] for row in tables["DeviceTvmSecureConfigurationAssessmentKB"]} == expected_ids


def test_device_info_health_and_exposure(tables: dict[str, Rows]) -> None:
    rows = tables["DeviceInfo"]
    facing = {row["DeviceName"] for row in rows if row["IsInternetFacing"]}
    assert facing == {"testmachine3"}
    impaired = [row for row in rows if row["SensorHealthState"] != "Active"]
    assert impaired
    assert {row["DeviceName"] for row in impaired} == {"laptop-sales07"}
    assert {row["SensorHealthState"] for row in impaired} == {"ImpairedCommunication"}
    last_laptop = [row for row in rows if row["DeviceName"] == "laptop-sales07"][-1]
    assert last_laptop["SensorHealthState"] == "ImpairedCommunication"
    for row in rows:
        json.loads(str(row["LoggedOnUsers"]))
