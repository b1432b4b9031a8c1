"""Finding rules: each turns query results into statements with their evidence rows.

A rule is a function from a Collection to findings, registered with `@rule`. Rules read only
the pack's result columns, so they work the same on every source.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

from irreport.analysis.model import Evidence, Finding
from irreport.collect import Collection
from irreport.plural import counted, pluralize
from irreport.textsafe import shorten

Rule = Callable[[Collection], list[Finding]]
RULES: list[Rule] = []

DISCOVERY_TOOLS = {
    "whoami.exe": "T1033", "net.exe": "T1087.001", "net1.exe": "T1087.001",
    "nltest.exe": "T1482", "ipconfig.exe": "T1016", "systeminfo.exe": "T1082",
    "tasklist.exe": "T1057", "netstat.exe": "T1049", "quser.exe": "T1033", "arp.exe": "T1016",
    "route.exe": "T1016", "dsquery.exe": "T1087.002", "query.exe": "T1033",
    "hostname.exe": "T1082", "nslookup.exe": "T1016",
}
SHELLS = {"cmd.exe", "powershell.exe", "pwsh.exe", "wscript.exe", "cscript.exe"}
CREDENTIAL_WORDS = re.compile(r"(?i)\b(password|passwd|passw|pwd|credential|secret)s?\b")
SEARCH_TOOLS = {"findstr.exe", "select-string", "grep.exe"}
USER_WRITABLE = re.compile(r"(?i)\\(users\\public|appdata|temp|programdata|downloads)\\")
BRUTE_FORCE_MIN_ATTEMPTS = 20
_MAX_TIME = datetime.max.replace(tzinfo=timezone.utc)
DISCOVERY_WINDOW = timedelta(seconds=60)
DISCOVERY_MIN_TOOLS = 4


def rule(function: Rule) -> Rule:
    RULES.append(function)
    return function


def run_rules(collection: Collection) -> list[Finding]:
    """Run every rule and return the findings, most severe and earliest first."""
    findings = [finding for check in RULES for finding in check(collection)]
    return sorted(findings, key=lambda f: (-f.rank, f.first_seen or _MAX_TIME))


def is_public(row: dict[str, Any], column: str = "RemoteIP",
              type_column: str = "RemoteIPType") -> bool:
    """Tell whether the row's address is on the internet, by Defender's own type where it has one."""
    kind = (row.get(type_column) or "").lower()
    if kind:
        return kind == "public"
    return is_internet_address(row.get(column))


_LAN_NETWORKS = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
    "100.64.0.0/10", "0.0.0.0/8", "::1/128", "fc00::/7", "fe80::/10")]


def is_internet_address(value: Any) -> bool:
    """Tell whether *value* is an IP address outside private, loopback and link-local ranges.

    Documentation ranges count as internet addresses so that the bundled sample, which uses
    them in place of real hosts, reads as it would with real ones.
    """
    try:
        address = ipaddress.ip_address(str(value or "").strip())
    except ValueError:
        return False
    return not any(address in network for network in _LAN_NETWORKS
                   if network.version == address.version)


def _evidence(query_id: str, rows: list[dict[str, Any]], collection: Collection) -> Evidence:
    result = collection.results.get(query_id)
    columns = result.columns if result else sorted({k for r in rows for k in r})
    return Evidence(query_id, rows, columns)


def _finding_over_rows(collection: Collection, query_id: str, rows: list[dict[str, Any]],
                       account_column: str = "AccountName", **fields: Any) -> Finding:
    """Return a Finding whose times, devices, accounts and evidence are those of *rows*.

    *fields* gives the rest: rule, title, statement, severity, techniques, phase and facts.
    """
    times = _times(rows, "Timestamp")
    return Finding(
        first_seen=times[0] if times else None, last_seen=times[-1] if times else None,
        devices=_names(r.get("DeviceName") for r in rows),
        accounts=_names(r.get(account_column) for r in rows),
        evidence=[_evidence(query_id, rows, collection)], **fields)


def _times(rows: Iterable[dict[str, Any]], *columns: str) -> list:
    return sorted(r[c] for r in rows for c in columns if r.get(c))


def _names(values: Iterable[str | None]) -> list[str]:
    return sorted({v for v in values if v})


def _lower(value: Any) -> str:
    return str(value or "").lower()


@rule
def rdp_brute_force(collection: Collection) -> list[Finding]:
    """Find many failed logons from internet addresses against one device."""
    findings = []
    by_device: dict[str, list[dict]] = defaultdict(list)
    for row in collection.rows("failed-logons"):
        if is_public(row):
            by_device[row["DeviceName"]].append(row)
    succeeded = {(r["DeviceName"], r["RemoteIP"]) for r in collection.rows("inbound-then-logon")}
    for device, rows in sorted(by_device.items()):
        attempts = sum(int(r.get("Attempts") or 0) for r in rows)
        if attempts < BRUTE_FORCE_MIN_ATTEMPTS:
            continue
        addresses = _names(r.get("RemoteIP") for r in rows)
        accounts = _names(r.get("AccountName") for r in rows)
        winners = sorted(ip for ip in addresses if (device, ip) in succeeded)
        times = _times(rows, "FirstSeen", "LastSeen")
        statement = (
            f"{device} recorded {counted(attempts, 'failed logon')} from "
            f"{counted(len(addresses), 'internet address')} against "
            f"{counted(len(accounts), 'account name')} between "
            f"{_when(times[0])} and {_when(times[-1])}."
        )
        if winners:
            statement += (f" {', '.join(winners)} later logged on successfully, so the guessing "
                          "succeeded.")
        findings.append(Finding(
            rule="rdp-brute-force", title="Password guessing from the internet",
            statement=statement, severity="High" if winners else "Medium",
            techniques=["T1110.001"] + (["T1110.003"] if len(accounts) > 5 else []),
            phase="detection-analysis", first_seen=times[0], last_seen=times[-1],
            devices=[device], accounts=accounts,
            evidence=[_evidence("failed-logons", sorted(
                rows, key=lambda r: -int(r.get("Attempts") or 0)), collection)],
            facts={"attempts": attempts, "addresses": addresses, "successful_addresses": winners},
        ))
    return findings


@rule
def logon_after_inbound(collection: Collection) -> list[Finding]:
    """Find a successful logon from an internet address soon after its inbound connection."""
    findings = []
    for row in collection.rows("inbound-then-logon"):
        if not is_public(row):
            continue
        account = qualified_account(row)
        statement = (
            f"{account} logged on to {row['DeviceName']} ({row.get('LogonType')}) from "
            f"{row['RemoteIP']} at {_when(row['LogonTime'])}, {row['DelaySeconds']} s after that "
            f"address's inbound connection to port {row.get('LocalPort')}."
        )
        findings.append(Finding(
            rule="logon-after-inbound", title="Logon from an internet address after its connection",
            statement=statement, severity="High", techniques=["T1078", "T1133", "T1021.001"],
            phase="detection-analysis", first_seen=row["ConnectionTime"],
            last_seen=row["LogonTime"], devices=[row["DeviceName"]],
            accounts=[row["AccountName"]],
            evidence=[_evidence("inbound-then-logon", [row], collection)],
            facts={"remote_ip": row["RemoteIP"], "delay_seconds": row["DelaySeconds"],
                   "account": row["AccountName"], "logon_time": row["LogonTime"]},
        ))
    return findings


def qualified_account(row: dict[str, Any]) -> str:
    """Return a row's account as DOMAIN\\name, or the name alone when it has no domain."""
    domain = row.get("AccountDomain")
    return f"{domain}\\{row['AccountName']}" if domain else str(row["AccountName"])


def _children_by_parent(rows: list[dict]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        key = (row.get("DeviceName"), row.get("InitiatingProcessId"),
               row.get("InitiatingProcessCreationTime"))
        groups[key].append(row)
    return groups


@rule
def discovery_burst(collection: Collection) -> list[Finding]:
    """Find a shell that starts several discovery tools within a minute."""
    findings = []
    for (device, _, _), rows in _children_by_parent(collection.rows("process-events")).items():
        parent = _lower(rows[0].get("InitiatingProcessFileName"))
        if parent not in SHELLS:
            continue
        tools = sorted((r for r in rows if _lower(r.get("FileName")) in DISCOVERY_TOOLS),
                       key=lambda r: r["Timestamp"])
        if len({_lower(r["FileName"]) for r in tools}) < DISCOVERY_MIN_TOOLS:
            continue
        span = tools[-1]["Timestamp"] - tools[0]["Timestamp"]
        if span > DISCOVERY_WINDOW:
            continue
        names = _names(r["FileName"].lower() for r in tools)
        statement = (
            f"On {device}, {rows[0].get('InitiatingProcessCommandLine') or parent} started "
            f"{counted(len(tools), 'discovery command')} ({', '.join(names)}) within "
            f"{span.total_seconds():.1f} s, a pace no person types at: a script collected "
            "account, network and system information."
        )
        findings.append(Finding(
            rule="discovery-burst", title="Scripted discovery burst",
            statement=statement, severity="High",
            techniques=sorted({DISCOVERY_TOOLS[n] for n in names}),
            phase="detection-analysis", first_seen=tools[0]["Timestamp"],
            last_seen=tools[-1]["Timestamp"], devices=[device],
            accounts=_names(r.get("AccountName") for r in tools),
            evidence=[_evidence("process-events", tools, collection)],
            facts={"parent_command_line": rows[0].get("InitiatingProcessCommandLine"),
                   "seconds": span.total_seconds(), "tools": names},
        ))
    return findings


@rule
def credential_hunting(collection: Collection) -> list[Finding]:
    """Find searches of files for passwords with findstr or Select-String."""
    rows = [r for r in collection.rows("process-events")
            if (_lower(r.get("FileName")) in SEARCH_TOOLS
                or "select-string" in _lower(r.get("ProcessCommandLine")))
            and CREDENTIAL_WORDS.search(r.get("ProcessCommandLine") or "")]
    if not rows:
        return []
    devices = _names(r.get("DeviceName") for r in rows)
    statement = (
        f"{counted(len(rows), 'command')} on {', '.join(devices)} searched files for passwords, for "
        f"example: {rows[0].get('ProcessCommandLine')}"
    )
    return [_finding_over_rows(
        collection, "process-events", rows,
        rule="credential-hunting", title="Credential hunting in files", statement=statement,
        severity="High", techniques=["T1552.001"], phase="detection-analysis",
    )]


@rule
def run_key_persistence(collection: Collection) -> list[Finding]:
    """Find an autostart value, set on the devices, that no other device has and that starts a
    program from a user-writable folder."""
    devices = {d.lower() for d in collection.devices}
    findings = []
    for row in collection.rows("run-keys"):
        if row.get("ActionType") != "RegistryValueSet" or _lower(row.get("DeviceName")) not in devices:
            continue
        rare = int(row.get("DevicesWithValue") or 0) <= 1
        writable = bool(USER_WRITABLE.search(row.get("RegistryValueData") or ""))
        if not (rare and writable):
            continue
        statement = (
            f"{row.get('InitiatingProcessFileName') or 'A process'} set the autostart value "
            f"{row['RegistryValueName']!s} = {row.get('RegistryValueData')} under "
            f"{row['RegistryKey']} on {row['DeviceName']}; no other device has this value and it "
            "starts a program from a user-writable folder at every logon."
        )
        findings.append(Finding(
            rule="run-key-persistence", title="Run key persistence", statement=statement,
            severity="High", techniques=["T1547.001"], phase="detection-analysis",
            first_seen=row["Timestamp"], last_seen=row["Timestamp"], devices=[row["DeviceName"]],
            accounts=_names([row.get("InitiatingProcessAccountName")]),
            evidence=[_evidence("run-keys", [row], collection)],
            facts={"key": row["RegistryKey"], "value_name": row["RegistryValueName"],
                   "value_data": row.get("RegistryValueData")},
        ))
    return findings


def _category_rows(collection: Collection, category: str) -> list[dict]:
    return [r for r in collection.rows("malicious-activity") if r.get("Category") == category]


@rule
def tampering(collection: Collection) -> list[Finding]:
    """Find attempts to turn Defender off or change its settings."""
    rows = _category_rows(collection, "Tampering")
    if not rows:
        return []
    outcomes = _names(r.get("Outcome") for r in rows)
    blocked = sum(r.get("Outcome") == "Blocked" for r in rows)
    if blocked == len(rows):
        verdict = "Tamper protection blocked every one."
    elif blocked:
        verdict = (f"Tamper protection blocked {blocked} of them; check that the settings "
                   "the others changed are back.")
    else:
        verdict = ("None is recorded as blocked, so check that Defender's settings on the "
                   "device are as intended.")
    statement = (
        f"{counted(len(rows), 'attempt')} to tamper with Microsoft Defender on "
        f"{', '.join(_names(r.get('DeviceName') for r in rows))} "
        f"({'; '.join(_names(r.get('Detail') for r in rows))}); "
        f"outcome: {', '.join(outcomes) or 'unknown'}. {verdict}"
    )
    return [_finding_over_rows(
        collection, "malicious-activity", rows,
        account_column="InitiatingProcessAccountName",
        rule="tampering", title="Attempt to turn off Defender protection", statement=statement,
        severity="High", techniques=["T1562.001"], phase="detection-analysis",
    )]


@rule
def defender_detections(collection: Collection) -> list[Finding]:
    """Report antivirus, ASR, SmartScreen, Exploit Guard and AMSI events, one finding per
    category and episode.

    An episode ends where a day passes without an event of the category, so that last week's
    blocked download in a wide range is not reported as part of today's attack. Severity
    follows `_detection_severity`.
    """
    findings = []
    for category in ("Antivirus", "Attack surface reduction", "AMSI", "Exploit Guard",
                     "SmartScreen"):
        category_rows = [r for r in _category_rows(collection, category) if _is_detection(r)]
        for rows in _episodes(category_rows, EPISODE_GAP):
            findings.append(_detection_finding(collection, category, rows))
    return findings


# NOTE: a day is a judgement call: two attacks on consecutive days merge, and one attack
# paused overnight may split.
EPISODE_GAP = timedelta(hours=24)


def _episodes(rows: list[dict[str, Any]], gap: timedelta) -> list[list[dict[str, Any]]]:
    """Split *rows* into runs in time order with no pause longer than *gap* inside a run."""
    timed = sorted((r for r in rows if r.get("Timestamp")), key=lambda r: r["Timestamp"])
    episodes: list[list[dict[str, Any]]] = []
    for row in timed:
        if episodes and row["Timestamp"] - episodes[-1][-1]["Timestamp"] <= gap:
            episodes[-1].append(row)
        else:
            episodes.append([row])
    return episodes


def _detection_finding(collection: Collection, category: str,
                       rows: list[dict[str, Any]]) -> Finding:
    times = _times(rows, "Timestamp")
    details = _names(_detail(r) for r in rows)
    outcomes = _names(r.get("Outcome") for r in rows)
    statement = (
        f"Defender recorded {counted(len(rows), category + ' event')} on "
        f"{', '.join(_names(r.get('DeviceName') for r in rows))}: "
        f"{'; '.join(details[:5])}{' …' if len(details) > 5 else ''} "
        f"(outcome: {', '.join(outcomes)})."
    )
    return Finding(
        rule="defender-detections", title=f"Defender detections: {category}",
        statement=statement, severity=_detection_severity(category, rows),
        techniques=_detection_techniques(category, rows), phase="detection-analysis",
        first_seen=times[0], last_seen=times[-1],
        devices=_names(r.get("DeviceName") for r in rows),
        accounts=_names(r.get("AccountName") or r.get("InitiatingProcessAccountName")
                        for r in rows),
        evidence=[_evidence("malicious-activity", rows, collection)],
        facts={"category": category, "count": len(rows)},
    )


# Antivirus threat names of tools an attacker runs by hand or of severe malware, whose presence
# matters whether or not Defender removed it.
_ATTACKER_THREAT = re.compile(r"(?i)^(HackTool|Backdoor|Ransom|Exploit):")


def _detection_severity(category: str, rows: list[dict[str, Any]]) -> str:
    """Return High or Medium for one category's detections.

    Events Defender blocked or remediated are Medium because it stopped them, except an
    attacker's tool such as Mimikatz, whose presence suggests someone ran it. A SmartScreen
    warning is Medium unless a user clicked through one. An audit-only event or a detection
    left in place is High.
    """
    if category == "Antivirus" and any(_ATTACKER_THREAT.match(str(r.get("Detail") or ""))
                                       for r in rows):
        return "High"
    if category == "SmartScreen":
        clicked = any(r.get("ActionType") == "SmartScreenUserOverride" for r in rows)
        return "High" if clicked else "Medium"
    stopped = all(r.get("Outcome") in ("Blocked", "Remediated") for r in rows)
    return "Medium" if stopped else "High"


# ATT&CK techniques of the behaviour each ASR rule blocks, by rule id.
ASR_TECHNIQUES = {
    "9e6c4e1f-7d60-472f-ba1a-a39ef669e4b2": "T1003.001",
    "d4f940ab-401b-4efc-aadc-ad5f3c50688a": "T1204.002",
    "3b576869-a4ec-4529-8536-b80a7769e899": "T1204.002",
    "75668c1f-73b5-4cf0-bb93-3ecf5cb7cc84": "T1055",
    "26190899-1602-49e8-8b27-eb1d0a1ce869": "T1204.002",
    "7674ba52-37eb-4a4f-a9a1-f0f9a1619a2c": "T1204.002",
    "92e97fa1-2edf-4476-bdd6-9dd0b4dddc7b": "T1106",
    "be9ba2d9-53ea-4cdc-84e5-9b1eeee46550": "T1566.001",
    "5beb7efe-fd9a-4556-801d-275e5ffc04cc": "T1027",
    "d3e037e1-3eb8-44c8-a917-57927947596d": "T1059.007",
    "e6db77e5-3df2-4cf1-b95a-636979351e5b": "T1546.003",
    "d1e49aac-8f56-4280-b9ba-993a6d77406c": "T1047",
    "b2b3f03d-6a65-4f7b-a9c7-1c7ef74a9ba4": "T1091",
    "c1db55ab-c21a-4637-bb3f-a12568109d35": "T1486",
    "56a863a9-875e-4185-98a7-b882c64b5ce5": "T1068",
    "01443614-cd74-433a-b99e-2ecdc07bfc25": "T1204.002",
}
CATEGORY_TECHNIQUES = {"Antivirus": ["T1204.002"], "SmartScreen": ["T1189"],
                       "Exploit Guard": ["T1071.001"], "AMSI": ["T1059.001", "T1027"]}


def _detection_techniques(category: str, rows: list[dict[str, Any]]) -> list[str]:
    if category != "Attack surface reduction":
        return CATEGORY_TECHNIQUES[category]
    found = {ASR_TECHNIQUES.get(str(r.get("Detail") or "").lower()) for r in rows}
    return sorted(t for t in found if t) or ["T1204"]


def _is_detection(row: dict[str, Any]) -> bool:
    """Tell whether a malicious-activity row is a detection; AntivirusReport only lists a file."""
    return row.get("ActionType") != "AntivirusReport"


@lru_cache(maxsize=1)
def asr_rule_names() -> dict[str, str]:
    path = resources.files("irreport") / "data" / "asr-rules.json"
    names = json.loads(path.read_text(encoding="utf-8"))
    return {k.lower(): v for k, v in names.items() if not k.startswith("_")}


def _detail(row: dict[str, Any]) -> str:
    """Return an event's detail, with an ASR rule id replaced by the rule's name."""
    detail = row.get("Detail") or row.get("ActionType") or ""
    if row.get("Category") == "Attack surface reduction":
        name = asr_rule_names().get(str(detail).lower())
        if name:
            return f"{name} ({row.get('ActionType')})"
    return str(detail)


@rule
def lateral_movement(collection: Collection) -> list[Finding]:
    """Find a remote-access connection from the devices followed by a logon on another device."""
    # SMB to a file server is daily business, while remote control (RDP, WinRM, SSH) is a hop.
    rows = [r for r in collection.rows("lateral-movement")
            if r.get("TargetDevice") and r.get("RemotePort") != 445]
    findings = []
    for row in rows:
        port = row.get("RemotePort")
        protocol = {3389: "RDP", 445: "SMB", 5985: "WinRM", 5986: "WinRM", 22: "SSH"}.get(port, port)
        delay = (row["LogonTime"] - row["ConnectionTime"]).total_seconds() if row.get("LogonTime") else None
        statement = (
            f"{row['SourceDevice']} connected to {row['TargetIP']} over {protocol} "
            f"({row.get('InitiatingProcessCommandLine') or row.get('InitiatingProcessFileName')}) "
            f"and {row.get('AccountName')} logged on to {row['TargetDevice']} "
            f"({row.get('LogonType')}) {delay:.0f} s later: the attacker moved to a second device."
        )
        findings.append(Finding(
            rule="lateral-movement", title="Hop to another device", statement=statement,
            severity="High", techniques=["T1021.001" if port == 3389 else "T1021.002"],
            phase="detection-analysis", first_seen=row["ConnectionTime"],
            last_seen=row.get("LogonTime") or row["ConnectionTime"],
            devices=[row["SourceDevice"], row["TargetDevice"]],
            accounts=_names([row.get("AccountName")]),
            evidence=[_evidence("lateral-movement", [row], collection)],
            facts={"target_device": row["TargetDevice"], "target_ip": row["TargetIP"]},
        ))
    return findings


@rule
def new_local_admin(collection: Collection) -> list[Finding]:
    """Find a local account created or added to the local Administrators group."""
    rows = collection.rows("local-accounts")
    created = [r for r in rows if r.get("ActionType") == "UserAccountCreated"]
    promoted = [r for r in rows if r.get("ActionType") == "UserAccountAddedToLocalGroup"
                and "admin" in _lower(r.get("GroupName"))]
    if not created and not promoted:
        return []
    chosen = created + promoted
    times = _times(chosen, "Timestamp")
    accounts = _names(r.get("AccountName") for r in chosen)
    statement = (
        f"{counted(len(created), 'local account')} created and {len(promoted)} added to an administrators "
        f"group on {', '.join(_names(r.get('DeviceName') for r in chosen))}: "
        f"{', '.join(accounts) or 'account names not recorded'}."
    )
    return [Finding(
        rule="new-local-admin", title="New local administrator account", statement=statement,
        severity="High" if promoted else "Medium", techniques=["T1136.001", "T1098"],
        phase="detection-analysis", first_seen=times[0], last_seen=times[-1],
        devices=_names(r.get("DeviceName") for r in chosen), accounts=accounts,
        evidence=[_evidence("local-accounts", chosen, collection)],
    )]


@rule
def scheduled_task_persistence(collection: Collection) -> list[Finding]:
    """Find a scheduled task or service that runs a program from a user-writable folder."""
    rows = [r for r in collection.rows("scheduled-tasks-services")
            if USER_WRITABLE.search(r.get("Detail") or "")]
    if not rows:
        return []
    names = _names(task_name(r.get("Name")) for r in rows)
    statement = (
        f"{counted(len(rows), 'scheduled task or service record')} on "
        f"{', '.join(_names(r.get('DeviceName') for r in rows))} "
        f"{pluralize(len(rows), 'runs', 'run')} a program from a "
        f"user-writable folder: {', '.join(names)}."
    )
    return [_finding_over_rows(
        collection, "scheduled-tasks-services", rows,
        account_column="InitiatingProcessAccountName",
        rule="scheduled-task-persistence", title="Scheduled task persistence", statement=statement,
        severity="High", techniques=["T1053.005"], phase="detection-analysis",
        facts={"tasks": names},
    )]


DECODED_SCRIPT_CHARS = 400
# CreateProcess takes at most 32,767 characters of command line, so text past that limit was
# never part of a real one. The encoded-PowerShell rule and indicator extraction read no further.
MAX_COMMAND_LINE_CHARS = 32767
# An -EncodedCommand argument this long that decodes to no script is still reported; 24 base64
# characters carry 9 UTF-16 characters, a short cmdlet call.
MIN_UNREADABLE_PAYLOAD_CHARS = 24
# PowerShell 7 (CommandLineParameterParser.cs) starts a switch with "-", "/" or one of the
# Unicode dashes, and takes a second dash after the first as in "--enc".
_SWITCH_STARTS = "-/\u2013\u2014\u2015"
_DASHES = "-\u2013\u2014\u2015"
# One argument as Windows splits a command line: quoted runs may contain spaces. Backslash
# escapes of quotes are not modelled, which only matters inside quoted arguments.
_ARGUMENT = re.compile(r'(?:"[^"]*"?|[^\s"])+')
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_BASE64_WHITE_SPACE = str.maketrans("", "", " \t\r\n")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def _switch_name(argument: str) -> str | None:
    """Return a PowerShell switch's name in lower case without its dashes, or None."""
    if not argument or argument[0] not in _SWITCH_STARTS:
        return None
    name = argument[1:]
    if name[:1] and name[0] in _DASHES:
        name = name[1:]
    return name.lower()


def encoded_command_argument(command_line: str) -> str | None:
    """Return the argument of PowerShell's -EncodedCommand switch, or None when there is none.

    PowerShell takes any prefix of EncodedCommand ("-e", "-en", "-enc", ...) and the alias
    "-ec", in any case. -ExecutionPolicy needs at least "-ex", so "-e" is never that switch.
    """
    arguments = [match.group().replace('"', "")
                 for match in _ARGUMENT.finditer(command_line[:MAX_COMMAND_LINE_CHARS])]
    for index, argument in enumerate(arguments):
        name = _switch_name(argument)
        if not name:
            # NOTE: a word that is not a switch may be a switch's value or the script path
            # that ends PowerShell's own switches. Telling them apart needs every switch's
            # arity, so the scan goes on, and an -e given to a script is read as encoded.
            continue
        if "command".startswith(name) or "file".startswith(name):
            # What follows -Command or -File is the script and its arguments.
            return None
        if "encodedcommand".startswith(name) or name == "ec":
            return arguments[index + 1] if index + 1 < len(arguments) else None
    return None


def decode_powershell(command_line: str) -> str | None:
    """Return the script of a PowerShell -EncodedCommand argument, or None when there is none.

    PowerShell takes base64 of UTF-16LE text. The offline engine's base64 decoding mangles
    UTF-16, so the decoding happens here and never in KQL. An argument that is not base64
    returns None, and so does one whose text holds no ASCII letter (base64 of UTF-8 text reads
    as CJK characters), because such text cannot name a PowerShell keyword or cmdlet.
    """
    payload = _encoded_payload(command_line)
    if payload is None:
        return None
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except ValueError:
        return None
    # An odd last byte or a lone surrogate becomes U+FFFD, so one bad byte cannot hide the rest.
    script = raw.decode("utf-16-le", errors="replace")
    return script if _ASCII_LETTER.search(script) else None


def _encoded_payload(command_line: str) -> str | None:
    """Return the base64 argument of -EncodedCommand without white space, or None."""
    argument = encoded_command_argument(command_line or "")
    if argument is None:
        return None
    # A quoted argument may contain space, tab, CR or LF, which .NET's Convert.FromBase64String
    # skips.
    payload = argument.translate(_BASE64_WHITE_SPACE)
    return payload if _BASE64.fullmatch(payload) else None


def _unreadable_payload_note(command_line: str) -> str | None:
    """Describe a long base64 argument of -EncodedCommand that decodes to no script, else None.

    A payload of NULs, one that is not UTF-16 text, or one cut short by the export all look
    like this, and each hides what ran as much as a readable script does. Short arguments
    are left out, because a script's own "-e value" can be a few base64 letters by chance.
    """
    payload = _encoded_payload(command_line)
    if payload is None or len(payload) < MIN_UNREADABLE_PAYLOAD_CHARS:
        return None
    return f"({counted(len(payload), 'base64 character')} that decode to no readable script)"


@rule
def encoded_powershell(collection: Collection) -> list[Finding]:
    """Find PowerShell started with an encoded command, and decode it."""
    decoded = []
    for row in collection.rows("process-events"):
        if _lower(row.get("FileName")) not in ("powershell.exe", "pwsh.exe"):
            continue
        command_line = row.get("ProcessCommandLine") or ""
        script = decode_powershell(command_line)
        if script is None:
            script = _unreadable_payload_note(command_line)
        if script is not None:
            decoded.append((row, script))
    if not decoded:
        return []
    rows = [row for row, _ in decoded]
    # The decoded text is the attacker's and can be megabytes long: the statement quotes its
    # start, and the evidence keeps the whole command line.
    scripts = _names(shorten(script, DECODED_SCRIPT_CHARS)[0] for _, script in decoded)
    statement = (
        f"{counted(len(rows), 'PowerShell process')} on "
        f"{', '.join(_names(r.get('DeviceName') for r in rows))} ran an encoded command, which "
        f"hides the script from a casual look. Decoded: {' | '.join(scripts)}"
    )
    return [_finding_over_rows(
        collection, "process-events", rows,
        rule="encoded-powershell", title="Encoded PowerShell command", statement=statement,
        severity="High", techniques=["T1059.001", "T1027.010"], phase="detection-analysis",
        facts={"scripts": scripts},
    )]


def task_name(value: Any) -> str:
    """Return a task name as schtasks takes it: no quotes, no leading backslash of the root."""
    return str(value or "").strip().strip('"').lstrip("\\")


@rule
def lsass_access(collection: Collection) -> list[Finding]:
    """Find a process opening LSASS memory, or a credential dumping command line."""
    rows = collection.rows("lsass-access")
    if not rows:
        return []
    processes = _names(r.get("ProcessFileName") for r in rows)
    statement = (
        f"{', '.join(processes)} opened or tried to dump the memory of lsass.exe on "
        f"{', '.join(_names(r.get('DeviceName') for r in rows))} ({counted(len(rows), 'event')}); "
        "credentials held in memory may be exposed."
    )
    return [_finding_over_rows(
        collection, "lsass-access", rows,
        rule="lsass-access", title="Credential dumping from LSASS", statement=statement,
        severity="High", techniques=["T1003.001"], phase="detection-analysis",
    )]


@rule
def tool_download(collection: Collection) -> list[Finding]:
    """Find a built-in tool used to download a file (certutil, bitsadmin, PowerShell requests)."""
    pattern = re.compile(r"(?i)(certutil(\.exe)?\s.*-urlcache|bitsadmin(\.exe)?\s.*/transfer|"
                         r"invoke-webrequest|\biwr\b|downloadfile|downloadstring|start-bitstransfer)")
    rows = [r for r in collection.rows("process-events")
            if pattern.search(r.get("ProcessCommandLine") or "")]
    if not rows:
        return []
    statement = (
        f"{counted(len(rows), 'command')} downloaded files with built-in tools on "
        f"{', '.join(_names(r.get('DeviceName') for r in rows))}, for example: "
        f"{rows[0].get('ProcessCommandLine')}"
    )
    return [_finding_over_rows(
        collection, "process-events", rows,
        rule="tool-download", title="Download with a built-in tool", statement=statement,
        severity="High", techniques=["T1105"], phase="detection-analysis",
    )]


# A file created or renamed during the range is new on the device under its name.
_WRITE_ACTIONS = frozenset({"FileCreated", "FileRenamed"})
# Programs that write files for an attacker as often as for an administrator. A program that
# one of them wrote and that then calls out is High. One written by anything else, such as an
# updater replacing itself, is Medium.
_DOWNLOADERS = frozenset({"certutil.exe", "bitsadmin.exe", "powershell.exe", "pwsh.exe",
                          "cmd.exe", "mshta.exe", "wscript.exe", "cscript.exe", "curl.exe",
                          "rundll32.exe", "regsvr32.exe"})


@rule
def dropped_program_calls_out(collection: Collection) -> list[Finding]:
    """Find a program written to the device in the range that then connects to the internet.

    A downloaded tool or implant that keeps connecting out is likely the attacker's command
    channel, and then its last connection, not the last command, is when activity last showed.
    """
    written: dict[str, dict[str, Any]] = {}
    for query_id in ("file-analysis", "user-writable-files"):
        for row in collection.rows(query_id):
            if row.get("ActionType") in _WRITE_ACTIONS and row.get("FolderPath"):
                written.setdefault(_lower(row["FolderPath"]), row)
    rows = [r for r in collection.rows("outbound-connections")
            if _lower(r.get("InitiatingProcessFolderPath")) in written
            and is_internet_address(r.get("RemoteIP"))]
    findings = []
    for path in _names(_lower(r.get("InitiatingProcessFolderPath")) for r in rows):
        program_rows = [r for r in rows if _lower(r.get("InitiatingProcessFolderPath")) == path]
        file_row = written[path]
        writer = file_row.get("InitiatingProcessFileName") or ""
        counts: dict[str, int] = {}
        for r in program_rows:
            counts[_destination(r)] = counts.get(_destination(r), 0) + (r.get("Connections") or 0)
        destinations = ", ".join(f"{address} ({counted(count, 'connection')})"
                                 for address, count in sorted(counts.items()))
        first = min(_times(program_rows, "FirstSeen"), default=None)
        last = max(_times(program_rows, "LastSeen"), default=None)
        statement = (
            f"{file_row['FolderPath']}, written at {_when(file_row.get('Timestamp'))} by "
            f"{writer or 'an unknown process'}, connected to "
            f"{destinations} from {_when(first)} to {_when(last)}: a program new on the device "
            "calling out, as an implant's command channel would."
        )
        findings.append(Finding(
            rule="dropped-program-calls-out", title="New program connecting to the internet",
            statement=statement, severity="High" if _lower(writer) in _DOWNLOADERS else "Medium",
            techniques=["T1071", "T1105"],
            phase="detection-analysis", first_seen=first, last_seen=last,
            devices=_names(r.get("DeviceName") for r in program_rows),
            accounts=_names(r.get("InitiatingProcessAccountName") for r in program_rows),
            evidence=[_evidence("outbound-connections", program_rows, collection)],
            facts={"program": file_row["FolderPath"]},
        ))
    return findings


def _destination(row: dict[str, Any]) -> str:
    return f"{row.get('RemoteIP')}:{row.get('RemotePort')}"


def _when(value) -> str:
    from irreport.textsafe import iso_time

    return iso_time(value) if value else "an unknown time"

