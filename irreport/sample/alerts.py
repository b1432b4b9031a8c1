"""The 19 alerts that Defender raises about the intrusion, with their evidence rows.

Detection lags the activity, so the alerts arrive between 15:05 and 15:40 on 2026-12-02 although
the attacker acted between 14:35 and 15:01.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from irreport.sample.attack import (
    ANYDESK,
    ATTACKER_IP,
    C2_HOST,
    C2_IP,
    IMPLANT,
    IMPLANT_URL,
    MIMIKATZ,
    RUN_KEY,
    RUN_VALUE,
    SCRIPT_CMD,
    TOOLS_URL,
    Intrusion,
)
from irreport.sample.fleet import LSASS
from irreport.sample.rows import (
    Account,
    Device,
    File,
    Process,
    Telemetry,
    compact_json,
    utc,
)

SERVICE_SOURCE = "Microsoft Defender for Endpoint"

Evidence = dict[str, object]


@dataclass(frozen=True)
class AlertSpec:
    time: str
    title: str
    category: str
    severity: str
    detection_source: str
    techniques: tuple[str, ...]
    evidence: Callable[[Intrusion], list[Evidence]]


def machine(host: Device, role: str = "Impacted") -> Evidence:
    return {"EntityType": "Machine", "EvidenceRole": role, "DeviceId": host.device_id, "DeviceName": host.name}


def user(account: Account, role: str = "Impacted") -> Evidence:
    return {
        "EntityType": "User",
        "EvidenceRole": role,
        "AccountName": account.name,
        "AccountDomain": account.domain,
        "AccountSid": account.sid,
    }


def address(remote_ip: str, direction: str = "Source") -> Evidence:
    return {"EntityType": "Ip", "EvidenceRole": "Related", "EvidenceDirection": direction, "RemoteIP": remote_ip}


def url(remote_url: str) -> Evidence:
    return {"EntityType": "Url", "EvidenceRole": "Related", "RemoteUrl": remote_url}


def file(target: File, host: Device, role: str = "Related", threat_family: str | None = None) -> Evidence:
    evidence: Evidence = {
        "EntityType": "File",
        "EvidenceRole": role,
        "FileName": target.name,
        "FolderPath": target.path,
        "SHA1": target.sha1,
        "SHA256": target.sha256,
        "FileSize": target.size,
        "DeviceId": host.device_id,
        "DeviceName": host.name,
    }
    if threat_family:
        evidence["ThreatFamily"] = threat_family
    return evidence


def process(running: Process, role: str = "Related") -> Evidence:
    return {
        "EntityType": "Process",
        "EvidenceRole": role,
        "FileName": running.image.name,
        "FolderPath": running.image.path,
        "SHA1": running.image.sha1,
        "SHA256": running.image.sha256,
        "ProcessCommandLine": running.command_line,
        "AccountName": running.account.name,
        "AccountDomain": running.account.domain,
        "AccountSid": running.account.sid,
        "DeviceId": running.device.device_id,
        "DeviceName": running.device.name,
    }


def registry_value(host: Device, key: str, name: str, data: str) -> Evidence:
    return {
        "EntityType": "RegistryValue",
        "EvidenceRole": "Related",
        "RegistryKey": key,
        "RegistryValueName": name,
        "RegistryValueData": data,
        "DeviceId": host.device_id,
        "DeviceName": host.name,
    }


def on_victim(intrusion: Intrusion, *extra: Evidence) -> list[Evidence]:
    """Return the victim machine and the compromised account followed by the alert's own evidence."""
    return [machine(intrusion.victim), user(intrusion.admin), *extra]


def brute_force_evidence(intrusion: Intrusion) -> list[Evidence]:
    scanners = intrusion.brute_force_ips[:4]
    return [
        machine(intrusion.victim),
        user(intrusion.admin, "Related"),
        address(ATTACKER_IP),
        *(address(ip) for ip in scanners),
    ]


def lateral_movement_evidence(intrusion: Intrusion) -> list[Evidence]:
    server = intrusion.file_server
    return [
        machine(intrusion.victim),
        machine(server),
        user(intrusion.admin),
        process(intrusion.processes["mstsc"]),
        address(server.ip, "Destination"),
    ]


def file_server_logon_evidence(intrusion: Intrusion) -> list[Evidence]:
    server = intrusion.file_server
    return [
        machine(server),
        user(server.local_account("administrator1", 500)),
        address(intrusion.victim.ip),
        process(intrusion.processes["file_server_shell"]),
    ]


ALERTS = [
    AlertSpec(
        "15:05:00.412",
        "Repeated failed RDP sign-ins from internet addresses",
        "CredentialAccess",
        "Medium",
        "EDR",
        ("Brute Force (T1110)", "Password Guessing (T1110.001)"),
        brute_force_evidence,
    ),
    AlertSpec(
        "15:05:41.073",
        "RDP sign-in succeeded after many failed attempts",
        "InitialAccess",
        "High",
        "EDR",
        ("Valid Accounts (T1078)", "Local Accounts (T1078.003)", "Remote Desktop Protocol (T1021.001)"),
        lambda i: on_victim(i, address(ATTACKER_IP)),
    ),
    AlertSpec(
        "15:07:12.905",
        "Script launched from a user's desktop folder",
        "Execution",
        "Medium",
        "EDR",
        ("Windows Command Shell (T1059.003)",),
        lambda i: on_victim(i, file(SCRIPT_CMD, i.victim), process(i.processes["script"])),
    ),
    AlertSpec(
        "15:08:30.251",
        "Burst of reconnaissance commands from one shell",
        "Discovery",
        "Medium",
        "EDR",
        (
            "System Owner/User Discovery (T1033)",
            "Local Account (T1087.001)",
            "Domain Trust Discovery (T1482)",
            "System Network Configuration Discovery (T1016)",
            "System Information Discovery (T1082)",
            "Process Discovery (T1057)",
            "System Network Connections Discovery (T1049)",
        ),
        lambda i: on_victim(
            i,
            process(i.processes["script"]),
            process(i.processes["whoami.exe"]),
            process(i.processes["net.exe"]),
            process(i.processes["nltest.exe"]),
        ),
    ),
    AlertSpec(
        "15:09:05.640",
        "Password stealing from files",
        "CredentialAccess",
        "Medium",
        "EDR",
        ("Credentials In Files (T1552.001)",),
        lambda i: on_victim(i, process(i.processes["findstr.exe"]), process(i.processes["script"])),
    ),
    AlertSpec(
        "15:10:47.118",
        "Windows utility used to download a file from the internet",
        "CommandAndControl",
        "Medium",
        "EDR",
        ("Ingress Tool Transfer (T1105)",),
        lambda i: on_victim(
            i,
            process(i.processes["certutil"]),
            file(IMPLANT, i.victim),
            address(ATTACKER_IP, "Destination"),
            url(IMPLANT_URL),
        ),
    ),
    AlertSpec(
        "15:11:20.566",
        "Unknown executable started from the Public user folder",
        "Execution",
        "Medium",
        "EDR",
        ("User Execution (T1204)", "Masquerading (T1036)"),
        lambda i: on_victim(i, file(IMPLANT, i.victim, "Impacted"), process(i.processes["implant"], "Impacted")),
    ),
    AlertSpec(
        "15:12:02.379",
        "Anomaly detected in ASEP registry",
        "Persistence",
        "Medium",
        "EDR",
        ("Registry Run Keys / Startup Folder (T1547.001)",),
        lambda i: on_victim(
            i,
            registry_value(i.victim, RUN_KEY, RUN_VALUE, IMPLANT.path),
            process(i.processes["reg"]),
            file(IMPLANT, i.victim),
        ),
    ),
    AlertSpec(
        "15:13:38.004",
        "Scheduled task set to run a file from a user-writable folder",
        "Persistence",
        "Medium",
        "EDR",
        ("Scheduled Task (T1053.005)",),
        lambda i: on_victim(i, process(i.processes["schtasks"]), file(IMPLANT, i.victim)),
    ),
    AlertSpec(
        "15:15:09.722",
        "New local account added to the Administrators group",
        "Persistence",
        "High",
        "EDR",
        ("Local Account (T1136.001)", "Account Manipulation (T1098)"),
        lambda i: [
            machine(i.victim),
            user(i.backdoor),
            user(i.admin, "Related"),
            process(i.processes["net_user_add"]),
            process(i.processes["net_group_add"]),
        ],
    ),
    AlertSpec(
        "15:17:44.310",
        "Attempt to turn off Microsoft Defender Antivirus real-time protection",
        "DefenseEvasion",
        "High",
        "EDR",
        ("Disable or Modify Tools (T1562.001)",),
        lambda i: on_victim(
            i,
            process(i.processes["tamper"]),
            registry_value(
                i.victim,
                "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection",
                "DisableRealtimeMonitoring",
                "1",
            ),
        ),
    ),
    AlertSpec(
        "15:18:26.981",
        "Obfuscated PowerShell download cradle blocked by AMSI",
        "Execution",
        "Medium",
        "Antivirus",
        ("PowerShell (T1059.001)", "Obfuscated Files or Information (T1027)"),
        lambda i: on_victim(i, process(i.processes["cradle"]), url(f"http://{ATTACKER_IP}/a.ps1")),
    ),
    AlertSpec(
        "15:20:03.455",
        "Mimikatz credential theft tool detected and quarantined",
        "CredentialAccess",
        "High",
        "Antivirus",
        ("OS Credential Dumping (T1003)", "LSASS Memory (T1003.001)"),
        lambda i: on_victim(i, file(MIMIKATZ, i.victim, "Impacted", "Mimikatz"), process(i.processes["mimikatz"])),
    ),
    AlertSpec(
        "15:21:48.127",
        "Blocked attempt to read credentials from lsass.exe memory",
        "CredentialAccess",
        "High",
        "Antivirus",
        ("LSASS Memory (T1003.001)",),
        lambda i: on_victim(i, process(i.processes["mimikatz"]), file(LSASS, i.victim)),
    ),
    AlertSpec(
        "15:24:15.860",
        "Connection to a blocked command-and-control host",
        "CommandAndControl",
        "Medium",
        "Custom TI",
        ("Application Layer Protocol (T1071)", "Web Protocols (T1071.001)"),
        lambda i: on_victim(i, process(i.processes["implant"]), address(C2_IP, "Destination"), url(C2_HOST)),
    ),
    AlertSpec(
        "15:26:40.532",
        "SmartScreen warned about a malicious web page",
        "SuspiciousActivity",
        "Informational",
        "SmartScreen",
        ("Ingress Tool Transfer (T1105)",),
        lambda i: on_victim(i, process(i.processes["edge"]), url(TOOLS_URL)),
    ),
    AlertSpec(
        "15:28:02.214",
        "SmartScreen warned about an untrusted downloaded program",
        "SuspiciousActivity",
        "Low",
        "SmartScreen",
        ("Malicious File (T1204.002)", "Remote Access Software (T1219)"),
        lambda i: on_victim(i, file(ANYDESK, i.victim), url(TOOLS_URL + ANYDESK.name)),
    ),
    AlertSpec(
        "15:33:55.091",
        "Lateral movement over Remote Desktop to srv-files01",
        "LateralMovement",
        "High",
        "EDR",
        ("Remote Desktop Protocol (T1021.001)",),
        lateral_movement_evidence,
    ),
    AlertSpec(
        "15:39:30.768",
        "Suspicious RDP sign-in with a reused local administrator password",
        "LateralMovement",
        "High",
        "EDR",
        ("Valid Accounts (T1078)", "Local Accounts (T1078.003)", "Remote Desktop Protocol (T1021.001)"),
        file_server_logon_evidence,
    ),
]


def alert_id(rng: random.Random) -> str:
    """Return an id shaped like Defender's: "da", 18 digits, an underscore and a signed 32-bit number."""
    return f"da638{rng.randrange(10**15):015d}_{rng.randrange(-(2**31), 2**31)}"


def raise_alerts(tel: Telemetry, intrusion: Intrusion, rng: random.Random) -> None:
    """Record an AlertInfo row and the AlertEvidence rows of every alert."""
    for spec in ALERTS:
        moment = utc(f"2026-12-02T{spec.time}")
        identifier = alert_id(rng)
        techniques = compact_json(list(spec.techniques))
        common = {
            "AlertId": identifier,
            "Title": spec.title,
            "ServiceSource": SERVICE_SOURCE,
            "DetectionSource": spec.detection_source,
            "AttackTechniques": techniques,
        }
        tel.add("AlertInfo", None, moment, Category=spec.category, Severity=spec.severity, **common)
        for evidence in spec.evidence(intrusion):
            tel.add(
                "AlertEvidence",
                None,
                moment,
                Categories=compact_json([spec.category]),
                Severity=spec.severity,
                **common,
                **evidence,
            )
