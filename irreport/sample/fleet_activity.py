"""The rows of the fleet weeks: inventory, assessments, detections, alerts, run keys, exposure."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from irreport.sample.fleet_weeks import (ALERTS_PER_WEEK, EXPOSED, FLEET_START,
                                         INTERNET_FACING_IPS, NOISY, NON_COMPLIANT_WEEKS,
                                         POSTURE_END, SENSOR_STATES, WEEK_ACTIVITY, WEEK_COUNT,
                                         Member, in_incident_window, may_report, week_of,
                                         week_start)
from irreport.sample.posture import (DEFENDER_CONFIGURATIONS, assessment_context,
                                     configuration_catalog, uuid_shaped)
from irreport.sample.rows import Telemetry, compact_json, made_up_digest

DAY = timedelta(days=1)
# Expected detections per device and day in a week of activity factor 1.
DAILY_RATE = {
    "Attack surface reduction": 0.06,
    "SmartScreen": 0.08,
    "Antivirus": 0.03,
    "Tampering": 0.008,
    "Exploit Guard": 0.025,
    "AMSI": 0.015,
}
ASR_EVENTS = [
    ("AsrOfficeChildProcessBlocked", "d4f940ab-401b-4efc-aadc-ad5f3c50688a", "WINWORD.EXE"),
    ("AsrObfuscatedScriptAudited", "5beb7efe-fd9a-4556-801d-275e5ffc04cc", "wscript.exe"),
    ("AsrExecutableEmailContentBlocked", "be9ba2d9-53ea-4cdc-84e5-9b1eeee46550", "OUTLOOK.EXE"),
    ("AsrUntrustedExecutableBlocked", "01443614-cd74-433a-b99e-2ecdc07bfc25", "explorer.exe"),
]
THREATS = ["PUA:Win32/Presenoker", "Trojan:Win32/Wacatac.B!ml", "PUA:Win32/InstallCore",
           "Trojan:JS/Redirector.AB", "HackTool:Win32/AutoKMS"]
BAD_URLS = ["http://198.51.100.140/invoice.zip", "http://login-verify.example.net/",
            "http://cdn-fileshare.example.org/setup.exe", "http://192.0.2.150/update.js"]
# (title, category, severity, detection source, techniques)
ALERT_CATALOGUE = [
    ("Suspicious PowerShell command line", "Execution", "Medium", "EDR",
     ["PowerShell (T1059.001)"]),
    ("An active 'Wacatac' malware was blocked", "Malware", "Low", "Antivirus",
     ["User Execution (T1204)"]),
    ("Potentially unwanted application detected", "Malware", "Informational", "Antivirus", []),
    ("Suspicious connection blocked by network protection", "CommandAndControl", "Medium",
     "EDR", ["Application Layer Protocol (T1071)"]),
    ("Multiple failed sign-ins over RDP", "CredentialAccess", "Medium", "EDR",
     ["Password Guessing (T1110.001)"]),
    ("Attempt to turn off Microsoft Defender Antivirus protection", "DefenseEvasion", "High",
     "EDR", ["Disable or Modify Tools (T1562.001)"]),
    ("Suspicious file dropped and launched", "Execution", "High", "EDR",
     ["User Execution (T1204)"]),
    ("Phishing URL opened", "InitialAccess", "Low", "SmartScreen",
     ["Spearphishing Link (T1566.002)"]),
]
# Benign autostart entries that updaters rewrite: (value name, value data, initiating process).
BENIGN_RUN_VALUES = [
    ("com.squirrel.Teams.Teams", r"C:\Users\{user}\AppData\Local\Microsoft\Teams\Update.exe --processStart Teams.exe", "Update.exe"),
    ("AdobeAAMUpdater-1.0", r"C:\Program Files (x86)\Common Files\Adobe\OOBE\PDApp\UWA\UpdaterStartupUtility.exe", "msiexec.exe"),
    ("GoogleDriveFS", r"C:\Program Files\Google\Drive File Stream\launch.bat", "GoogleDriveFS.exe"),
    ("ZoomUpdater", r"C:\Users\{user}\AppData\Roaming\Zoom\bin\Zoom.exe --autostart", "Zoom.exe"),
    ("SecurityHealth", r"%windir%\system32\SecurityHealthSystray.exe", "TiWorker.exe"),
]
# (device, time, key kind, value name, value data, initiating process): rare values the
# report must list near the top, outside the incident's range.
SUSPICIOUS_RUN_VALUES = [
    ("wks-eng21", "2026-11-18T10:14:22.311", "Run", "DevToolsHelper",
     r"C:\Users\Public\dth.exe", "powershell.exe"),
    ("kiosk-lobby02", "2026-11-26T16:02:09.870", "RunOnce", "CleanupTask",
     r"C:\ProgramData\cleanup\cln.exe /silent", "cmd.exe"),
    ("wks-support12", "2026-12-04T13:30:41.052", "Run", "QuickAssistHelper",
     r"C:\ProgramData\qah\qah.exe", "rundll32.exe"),
]
NON_COMPLIANT_CONTEXT = {
    "TamperProtection": "Off",
    "RealTimeProtectionEnabled": "false",
    "MAPSReporting": "Disabled",
    "EnableNetworkProtection": "Audit",
}


def days() -> list[datetime]:
    count = (POSTURE_END - FLEET_START).days
    return [FLEET_START + DAY * n for n in range(count)]


def draw_count(rng: random.Random, expected: float) -> int:
    """Return a whole count whose mean is *expected*, varied from day to day."""
    value = expected * rng.uniform(0.4, 1.6)
    return int(value) + (1 if rng.random() < value - int(value) else 0)


def moment_in_day(rng: random.Random, day: datetime, first_hour: int = 7,
                  last_hour: int = 19) -> datetime:
    return day + timedelta(hours=rng.uniform(first_hour, last_hour),
                           milliseconds=rng.randint(0, 999))


def report_inventory(tel: Telemetry, members: list[Member], rng: random.Random) -> None:
    """Record a DeviceInfo row for every device every four to six hours while it reports."""
    for member in members:
        moment = FLEET_START + timedelta(minutes=rng.uniform(5, 240))
        while moment < POSTURE_END:
            if may_report(member, moment):
                report_device(tel, member, moment)
            moment += timedelta(hours=rng.uniform(4, 6), milliseconds=rng.randint(0, 999))


def sensor_state(name: str, moment: datetime) -> str:
    state, first, last = SENSOR_STATES.get(name, ("Active", moment, moment))
    return state if first <= moment < last else "Active"


def report_device(tel: Telemetry, member: Member, moment: datetime) -> None:
    host = member.host
    facing = host.name in INTERNET_FACING_IPS or host.name == "testmachine3"
    entra = host.join_type != "Domain Joined"
    tel.add(
        "DeviceInfo", host, moment,
        ClientVersion=f"10.8805.{host.os_build}.{1000 + int(made_up_digest('md5', host.name)[:4], 16) % 9000}",
        PublicIP=host.public_ip, OSArchitecture="64-bit", OSPlatform=host.os_platform,
        OSBuild=host.os_build, IsAzureADJoined=entra, JoinType=host.join_type,
        AadDeviceId=uuid_shaped(f"aad:{host.name}") if entra else None,
        LoggedOnUsers=compact_json([]), OSVersion="10.0", MachineGroup=host.machine_group,
        OnboardingStatus="Onboarded", DeviceCategory="Endpoint", DeviceType=host.device_type,
        Model=host.model, Vendor=host.vendor, OSVersionInfo=host.os_version_info,
        IsInternetFacing=facing, SensorHealthState=sensor_state(host.name, moment),
        IsExcluded=False, ExposureLevel=host.exposure,
        AssetValue="High" if host.machine_group == "Servers - Critical" else "Normal",
    )


def assess_configurations(tel: Telemetry, members: list[Member], rng: random.Random) -> None:
    """Record one assessment of every configuration per device and day while it reports."""
    catalog = configuration_catalog()
    for day in days():
        for member in members:
            moment = moment_in_day(rng, day, 20, 23)
            if not may_report(member, moment):
                continue
            for entry in catalog:
                identifier = str(entry["ConfigurationId"])
                failing = week_of(moment) in NON_COMPLIANT_WEEKS.get((member.name, identifier),
                                                                     set())
                tel.add(
                    "DeviceTvmSecureConfigurationAssessment", member.host, moment,
                    OSPlatform=member.host.os_platform, ConfigurationId=identifier,
                    ConfigurationCategory=entry["ConfigurationCategory"],
                    ConfigurationSubcategory=entry["ConfigurationSubcategory"],
                    ConfigurationImpact=entry["ConfigurationImpact"],
                    IsCompliant=not failing, IsApplicable=True,
                    Context=configuration_context(identifier, not failing),
                    IsExpectedUserImpact=identifier.startswith("scid-25"),
                )


def configuration_context(identifier: str, compliant: bool) -> str:
    for config_id, _impact, _name, _subcategory, setting in DEFENDER_CONFIGURATIONS:
        if config_id == identifier and not compliant:
            return compact_json({setting: NON_COMPLIANT_CONTEXT[setting]})
    return assessment_context(identifier, compliant)


def record_detections(tel: Telemetry, members: list[Member], rng: random.Random) -> None:
    """Record each device's Defender detections of each day, by category."""
    for day in days():
        factor = WEEK_ACTIVITY[week_of(day)]
        for member in members:
            noisy_category, noise = NOISY.get(member.name, ("", 1.0))
            for category, rate in DAILY_RATE.items():
                expected = rate * factor * (noise if category == noisy_category else 1.0)
                for _ in range(draw_count(rng, expected)):
                    moment = moment_in_day(rng, day)
                    if may_report(member, moment):
                        detection(tel, member, category, moment, rng)


def detection(tel: Telemetry, member: Member, category: str, moment: datetime,
              rng: random.Random) -> None:
    user = member.host.owner.name if member.host.owner else "system"
    if category == "Attack surface reduction":
        action, rule, process = rng.choice(ASR_EVENTS)
        fields = {"IsAudit": action.endswith("Audited"), "RuleId": rule}
        tel.add("DeviceEvents", member.host, moment, ActionType=action,
                InitiatingProcessFileName=process, InitiatingProcessAccountName=user,
                AdditionalFields=compact_json(fields))
    elif category == "SmartScreen":
        action = rng.choice(["SmartScreenUrlWarning", "SmartScreenUrlWarning",
                             "SmartScreenAppWarning"])
        tel.add("DeviceEvents", member.host, moment, ActionType=action,
                RemoteUrl=rng.choice(BAD_URLS), InitiatingProcessFileName="msedge.exe",
                InitiatingProcessAccountName=user,
                AdditionalFields=compact_json({"Experience": rng.choice(["Malicious",
                                                                         "Phishing"])}))
    elif category == "Antivirus":
        threat = rng.choice(THREATS)
        name = f"{made_up_digest('md5', threat + str(moment))[:8]}.exe"
        tel.add("DeviceEvents", member.host, moment, ActionType="AntivirusDetection",
                FileName=name, FolderPath=f"C:\\Users\\{user}\\Downloads\\{name}",
                InitiatingProcessFileName="msedge.exe", InitiatingProcessAccountName=user,
                AdditionalFields=compact_json({"ThreatName": threat, "WasRemediated": True,
                                               "Action": "quarantine"}))
    elif category == "Tampering":
        tel.add("DeviceEvents", member.host, moment, ActionType="TamperingAttempt",
                InitiatingProcessFileName="powershell.exe", InitiatingProcessAccountName=user,
                AdditionalFields=compact_json({"Status": "Blocked",
                                               "TamperingAction": "RegistryModification",
                                               "Target": "DisableRealtimeMonitoring"}))
    elif category == "Exploit Guard":
        tel.add("DeviceEvents", member.host, moment,
                ActionType="ExploitGuardNetworkProtectionBlocked",
                RemoteUrl=rng.choice(BAD_URLS), InitiatingProcessFileName="chrome.exe",
                InitiatingProcessAccountName=user,
                AdditionalFields=compact_json({"IsAudit": False,
                                               "ResponseCategory": "Malicious"}))
    else:
        tel.add("DeviceEvents", member.host, moment, ActionType="AmsiScriptDetection",
                InitiatingProcessFileName="powershell.exe", InitiatingProcessAccountName=user,
                AdditionalFields=compact_json({"Description": "Suspicious script content"}))


def raise_alerts(tel: Telemetry, members: list[Member], rng: random.Random) -> None:
    """Raise each week's alerts on devices drawn with their noise as weight."""
    weights = [NOISY.get(m.name, ("", 1.0))[1] for m in members]
    for week in range(WEEK_COUNT):
        raised = 0
        while raised < ALERTS_PER_WEEK[week]:
            member = rng.choices(members, weights)[0]
            moment = week_start(week) + timedelta(days=rng.uniform(0, 7))
            if not may_report(member, moment):
                continue
            alert(tel, member, moment, rng.choice(ALERT_CATALOGUE))
            raised += 1


def alert(tel: Telemetry, member: Member, moment: datetime, kind: tuple) -> None:
    title, category, severity, source, techniques = kind
    digest = made_up_digest("sha1", f"alert:{member.name}:{moment.isoformat()}")
    alert_id = f"da638{int(digest[:10], 16) % 10**15:015d}_{int(digest[10:18], 16) % 10**9}"
    common = {"AlertId": alert_id, "Title": title, "AttackTechniques": compact_json(techniques),
              "ServiceSource": "Microsoft Defender for Endpoint", "DetectionSource": source}
    tel.add("AlertInfo", None, moment, Category=category, Severity=severity, **common)
    tel.add("AlertEvidence", member.host, moment, Categories=compact_json([category]),
            EntityType="Machine", EvidenceRole="Impacted", Severity=severity, **common)


def change_run_keys(tel: Telemetry, members: list[Member], rng: random.Random) -> None:
    """Record everyday autostart updates each week and the rare values the report must show."""
    by_name = {m.name: m for m in members}
    for week in range(WEEK_COUNT):
        for _ in range(round(8 * WEEK_ACTIVITY[week])):
            member = rng.choice(members)
            moment = week_start(week) + timedelta(days=rng.uniform(0, 7))
            if in_incident_window(moment) or not may_report(member, moment):
                continue
            name, data, process = rng.choice(BENIGN_RUN_VALUES)
            action = "RegistryValueDeleted" if rng.random() < 0.15 else "RegistryValueSet"
            run_key(tel, member, moment, "Run", name, data, process, action)
    for device_name, stamp, kind, name, data, process in SUSPICIOUS_RUN_VALUES:
        moment = datetime.fromisoformat(stamp).replace(tzinfo=FLEET_START.tzinfo)
        run_key(tel, by_name[device_name], moment, kind, name, data, process, "RegistryValueSet")


def run_key(tel: Telemetry, member: Member, moment: datetime, kind: str, name: str, data: str,
            process: str, action: str) -> None:
    owner = member.host.owner
    user = owner.name if owner else "system"
    if owner and "{user}" in data:
        key = f"HKEY_CURRENT_USER\\{owner.sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\{kind}"
    else:
        key = f"HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\{kind}"
    tel.add("DeviceRegistryEvents", member.host, moment, ActionType=action, RegistryKey=key,
            RegistryValueType="String", RegistryValueName=name,
            RegistryValueData=None if action == "RegistryValueDeleted"
            else data.replace("{user}", user),
            InitiatingProcessFileName=process, InitiatingProcessAccountName=user)


def accept_from_internet(tel: Telemetry, members: list[Member], rng: random.Random) -> None:
    """Record inbound RDP or SMB connections from public addresses on the exposed devices."""
    by_name = {m.name: m for m in members}
    for name, (port, weeks, per_day, pool) in EXPOSED.items():
        member = by_name[name]
        addresses = [f"192.0.2.{20 + n}" if n % 2 else f"198.51.100.{30 + n}"
                     for n in range(pool)]
        for day in days():
            if week_of(day) not in weeks:
                continue
            for _ in range(draw_count(rng, per_day)):
                moment = moment_in_day(rng, day, 0, 24)
                if not may_report(member, moment):
                    continue
                tel.add("DeviceNetworkEvents", member.host, moment,
                        ActionType="InboundConnectionAccepted", RemoteIP=rng.choice(addresses),
                        RemotePort=rng.randint(49152, 65535), LocalIP=member.host.ip,
                        LocalPort=port, Protocol="Tcp", LocalIPType="Private",
                        RemoteIPType="Public", InitiatingProcessFileName="System")


def generate_fleet_weeks(seed: int) -> Telemetry:
    """Build every fleet table in memory; each part draws from its own seeded generator."""
    from irreport.sample.fleet_weeks import build_members, check_fleet_range

    tel = Telemetry()
    members = build_members()
    report_inventory(tel, members, random.Random(f"{seed}:fleet:inventory"))
    assess_configurations(tel, members, random.Random(f"{seed}:fleet:assessment"))
    record_detections(tel, members, random.Random(f"{seed}:fleet:detections"))
    raise_alerts(tel, members, random.Random(f"{seed}:fleet:alerts"))
    change_run_keys(tel, members, random.Random(f"{seed}:fleet:run-keys"))
    accept_from_internet(tel, members, random.Random(f"{seed}:fleet:exposure"))
    check_fleet_range(tel)
    return tel
