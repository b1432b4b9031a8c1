"""Device inventory and secure configuration: DeviceInfo, DeviceNetworkInfo and the TVM assessment tables."""

from __future__ import annotations

from datetime import datetime, timedelta

from irreport.sample.background import DAYS, LAPTOP_OFFLINE
from irreport.sample.fleet import DOMAIN, Fleet
from irreport.sample.rows import (
    DATA_END,
    DATA_START,
    Device,
    Telemetry,
    compact_json,
    made_up_digest,
    utc,
)

ATTACKER_LOGON = utc("2026-12-02T14:37:12.000")
FILE_SERVER_LOGON = utc("2026-12-02T14:58:41.000")
DNS_SERVER = "10.0.4.10"

# Attack surface reduction rules assessed as scid-2500 to scid-2514, by rule id. The PsExec and WMI
# rule is left out because laptop-sales07 runs it in audit mode on purpose.
ASR_RULES = [
    ("56a863a9-875e-4185-98a7-b882c64b5ce5", "Block abuse of exploited vulnerable signed drivers"),
    ("7674ba52-37eb-4a4f-a9a1-f0f9a1619a2c", "Block Adobe Reader from creating child processes"),
    ("d4f940ab-401b-4efc-aadc-ad5f3c50688a", "Block Office applications from creating child processes"),
    ("9e6c4e1f-7d60-472f-ba1a-a39ef669e4b2", "Block credential stealing from lsass.exe"),
    ("be9ba2d9-53ea-4cdc-84e5-9b1eeee46550", "Block executable content from email and webmail"),
    (
        "01443614-cd74-433a-b99e-2ecdc07bfc25",
        "Block executables unless they meet prevalence, age or trusted-list criteria",
    ),
    ("5beb7efe-fd9a-4556-801d-275e5ffc04cc", "Block scripts that are likely obfuscated"),
    ("d3e037e1-3eb8-44c8-a917-57927947596d", "Block JavaScript and VBScript from starting downloaded executables"),
    ("3b576869-a4ec-4529-8536-b80a7769e899", "Block Office applications from writing executable content"),
    ("75668c1f-73b5-4cf0-bb93-3ecf5cb7cc84", "Block Office applications from injecting code into other processes"),
    ("26190899-1602-49e8-8b27-eb1d0a1ce869", "Block Office communication apps from creating child processes"),
    ("e6db77e5-3df2-4cf1-b95a-636979351e5b", "Block persistence through WMI event subscriptions"),
    ("b2b3f03d-6a65-4f7b-a9c7-1c7ef74a9ba4", "Block untrusted and unsigned processes that run from USB drives"),
    ("92e97fa1-2edf-4476-bdd6-9dd0b4dddc7b", "Block Win32 API calls from Office macros"),
    ("c1db55ab-c21a-4637-bb3f-a12568109d35", "Use advanced protection against ransomware"),
]

# (id, impact, name, subcategory, setting that Context reports)
DEFENDER_CONFIGURATIONS = [
    ("scid-2003", 8.0, "Turn on tamper protection", "Antivirus", "TamperProtection"),
    ("scid-2010", 9.0, "Run Microsoft Defender Antivirus in active mode", "Antivirus", "AMRunningMode"),
    (
        "scid-2011",
        7.0,
        "Keep Microsoft Defender Antivirus security intelligence up to date",
        "Antivirus",
        "SignatureAgeDays",
    ),
    ("scid-2012", 9.0, "Turn on real-time protection", "Antivirus", "RealTimeProtectionEnabled"),
    ("scid-2016", 6.0, "Turn on cloud-delivered protection", "Antivirus", "MAPSReporting"),
    ("scid-96", 7.0, "Turn on network protection in block mode", "Network protection", "EnableNetworkProtection"),
]
SETTING_RISK = "Without this setting, Microsoft Defender offers an attacker on the device less resistance."
SETTING_REMEDIATION = "Set the value through Intune, Group Policy or Defender security settings management."
RULE_RISK = "In audit mode the rule reports the behavior without stopping it, and unset it does neither."
NON_COMPLIANT = {("testmachine3", "scid-96"), ("testmachine3", "scid-2505"), ("wks-hr01", "scid-2003")}
COMPLIANT_VALUES = {
    "TamperProtection": "On",
    "AMRunningMode": "Normal",
    "SignatureAgeDays": "0",
    "RealTimeProtectionEnabled": "true",
    "MAPSReporting": "Advanced",
    "EnableNetworkProtection": "Block",
}
NON_COMPLIANT_VALUES = {"TamperProtection": "Off", "EnableNetworkProtection": "Audit"}


def client_version(host: Device) -> str:
    return f"10.8805.{host.os_build}.{1000 + int(made_up_digest('md5', host.name)[:4], 16) % 9000}"


def logged_on_users(fleet: Fleet, host: Device, moment: datetime) -> str:
    """Return the LoggedOnUsers JSON of host at moment, judged from office hours and the intrusion times."""
    users = []
    owner = fleet.owners.get(host.name)
    day_index = (moment - DATA_START).days
    left_early = host.name == "testmachine3" and day_index == 2 and moment.hour >= 12
    if owner is not None and 8 <= moment.hour < 16 and not left_early and moment < LAPTOP_OFFLINE:
        users.append({"UserName": owner.account.name, "DomainName": DOMAIN.upper(), "Sid": owner.account.sid})
    intruder_since = {"testmachine3": ATTACKER_LOGON, "srv-files01": FILE_SERVER_LOGON}.get(host.name)
    if intruder_since is not None and moment >= intruder_since:
        users.append(
            {
                "UserName": "administrator1",
                "DomainName": host.name.upper(),
                "Sid": host.local_account("administrator1", 500).sid,
            }
        )
    return compact_json(users)


def report_inventory(tel: Telemetry, fleet: Fleet) -> None:
    """Record a DeviceInfo and a DeviceNetworkInfo row for every device every four to six hours."""
    for host in fleet.devices.values():
        rng = fleet.rng(host.name, "inventory")
        moment = DATA_START + timedelta(minutes=rng.uniform(5, 240), milliseconds=rng.randint(0, 999))
        while moment < DATA_END:
            report_device(tel, fleet, host, moment)
            report_network_adapter(tel, host, moment)
            moment += timedelta(hours=rng.uniform(4, 6), milliseconds=rng.randint(0, 999))


def report_device(tel: Telemetry, fleet: Fleet, host: Device, moment: datetime) -> None:
    internet_facing = host.name == "testmachine3"
    additional = None
    if internet_facing:
        additional = compact_json(
            {
                "InternetFacingReason": "PublicScan",
                "InternetFacingLocalIp": host.ip,
                "InternetFacingLocalPort": 3389,
                "InternetFacingPublicScannedIp": host.public_ip,
                "InternetFacingPublicScannedPort": 3389,
                "InternetFacingTransportProtocol": "Tcp",
            }
        )
    impaired = host.name == "laptop-sales07" and moment > LAPTOP_OFFLINE
    joined_to_entra = host.join_type != "Domain Joined"
    tel.add(
        "DeviceInfo",
        host,
        moment,
        ClientVersion=client_version(host),
        PublicIP=host.public_ip,
        OSArchitecture="64-bit",
        OSPlatform=host.os_platform,
        OSBuild=host.os_build,
        IsAzureADJoined=joined_to_entra,
        JoinType=host.join_type,
        AadDeviceId=uuid_shaped(f"aad:{host.name}") if joined_to_entra else None,
        LoggedOnUsers=logged_on_users(fleet, host, moment),
        OSVersion="10.0",
        MachineGroup=host.machine_group,
        OnboardingStatus="Onboarded",
        AdditionalFields=additional,
        DeviceCategory="Endpoint",
        DeviceType=host.device_type,
        Model=host.model,
        Vendor=host.vendor,
        OSVersionInfo=host.os_version_info,
        IsInternetFacing=internet_facing,
        SensorHealthState="ImpairedCommunication" if impaired else "Active",
        IsExcluded=False,
        ExposureLevel=host.exposure,
        AssetValue="High" if host.machine_group == "Servers - Critical" else "Normal",
    )


def report_network_adapter(tel: Telemetry, host: Device, moment: datetime) -> None:
    wireless = host.name == "laptop-sales07"
    gateway = host.ip.rsplit(".", 1)[0] + ".1"
    tel.add(
        "DeviceNetworkInfo",
        host,
        moment,
        NetworkAdapterName="Wi-Fi" if wireless else "Ethernet0",
        MacAddress=host.mac,
        NetworkAdapterType="Wireless80211" if wireless else "Ethernet",
        NetworkAdapterStatus="Up",
        ConnectedNetworks=compact_json(
            [
                {
                    "Name": "corp.example.com",
                    "Description": "corp.example.com",
                    "IsConnectedToInternet": True,
                    "Category": "Domain",
                }
            ]
        ),
        DnsAddresses=compact_json([DNS_SERVER]),
        IPv4Dhcp=None if host.device_type == "Server" else gateway,
        DefaultGateways=compact_json([gateway]),
        IPAddresses=compact_json([{"IPAddress": host.ip, "SubnetPrefix": 24, "AddressType": "Private"}]),
        NetworkAdapterVendor="Intel Corporation" if host.device_type == "Workstation" else "VMware, Inc.",
    )


def uuid_shaped(label: str) -> str:
    digest = made_up_digest("md5", label)
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def configuration_catalog() -> list[dict[str, object]]:
    """Return the knowledge-base entry of every assessed configuration, Defender settings first."""
    entries: list[dict[str, object]] = []
    for identifier, impact, name, subcategory, setting in DEFENDER_CONFIGURATIONS:
        entries.append(
            {
                "ConfigurationId": identifier,
                "ConfigurationImpact": impact,
                "ConfigurationName": name,
                "ConfigurationDescription": f"Checks that the device reports {setting} at its secure value.",
                "RiskDescription": SETTING_RISK,
                "ConfigurationCategory": "Security controls",
                "ConfigurationSubcategory": subcategory,
                "ConfigurationBenchmarks": "[]",
                "Tags": compact_json(["Microsoft Defender Antivirus"]),
                "RemediationOptions": SETTING_REMEDIATION,
            }
        )
    for offset, (rule_id, name) in enumerate(ASR_RULES):
        entries.append(
            {
                "ConfigurationId": f"scid-{2500 + offset}",
                "ConfigurationImpact": 5.0 if offset % 3 else 6.0,
                "ConfigurationName": f"{name} (attack surface reduction rule)",
                "ConfigurationDescription": f"Checks that attack surface reduction rule {rule_id} runs in block mode.",
                "RiskDescription": RULE_RISK,
                "ConfigurationCategory": "Security controls",
                "ConfigurationSubcategory": "Attack Surface Reduction",
                "ConfigurationBenchmarks": "[]",
                "Tags": compact_json(["Attack surface reduction"]),
                "RemediationOptions": "Set the rule to block mode in the attack surface reduction policy.",
            }
        )
    return entries


def assess_configurations(tel: Telemetry, fleet: Fleet) -> None:
    """Record one assessment per device and configuration late on the last day, and the knowledge base."""
    catalog = configuration_catalog()
    for entry in catalog:
        tel.add("DeviceTvmSecureConfigurationAssessmentKB", None, None, **entry)
    for host in fleet.devices.values():
        rng = fleet.rng(host.name, "assessment")
        moment = DAYS[2] + timedelta(hours=21, minutes=rng.uniform(0, 90), milliseconds=rng.randint(0, 999))
        for entry in catalog:
            identifier = str(entry["ConfigurationId"])
            compliant = (host.name, identifier) not in NON_COMPLIANT
            tel.add(
                "DeviceTvmSecureConfigurationAssessment",
                host,
                moment,
                OSPlatform=host.os_platform,
                ConfigurationId=identifier,
                ConfigurationCategory=entry["ConfigurationCategory"],
                ConfigurationSubcategory=entry["ConfigurationSubcategory"],
                ConfigurationImpact=entry["ConfigurationImpact"],
                IsCompliant=compliant,
                IsApplicable=True,
                Context=assessment_context(identifier, compliant),
                IsExpectedUserImpact=identifier.startswith("scid-25"),
            )


def assessment_context(identifier: str, compliant: bool) -> str:
    """Return the Context JSON: the value the device reported for the setting or rule."""
    for config_id, _impact, _name, _subcategory, setting in DEFENDER_CONFIGURATIONS:
        if config_id == identifier:
            value = COMPLIANT_VALUES[setting] if compliant else NON_COMPLIANT_VALUES[setting]
            return compact_json({setting: value})
    rule_id = ASR_RULES[int(identifier.removeprefix("scid-")) - 2500][0]
    return compact_json({"RuleId": rule_id, "Mode": "Block" if compliant else "NotConfigured"})
