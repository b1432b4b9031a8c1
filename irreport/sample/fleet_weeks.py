"""Three weeks of a thirty-device fleet around the sample incident, for the posture report.

The seven incident devices and 23 more report from Monday 2026-11-16 to Monday 2026-12-07
(ISO weeks 2026-W47 to W49): inventory, secure configuration assessments, Defender
detections, alerts, run key changes and inbound connections from the internet. The traits the
report must find (tamper protection off, exposed RDP and SMB, sensor trouble) are fixed in the
tables below and listed in docs/sample-incident.md. Counts of everyday events vary at random
with a fixed seed.

None of these rows lies on an incident device inside the incident's range, and no run key
change lies inside it at all, so the incident dossier reads exactly the rows it read before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from irreport.sample.fleet import OFFICE_PUBLIC_IP, define_devices, device, domain_user
from irreport.sample.rows import DATA_END, DATA_START, Device, Telemetry, iso, made_up_digest

FLEET_START = datetime(2026, 11, 16, tzinfo=timezone.utc)
POSTURE_END = datetime(2026, 12, 7, tzinfo=timezone.utc)
WEEK_COUNT = 3
# Per-week multipliers of everyday detections: a noisy second week, a quieter third.
WEEK_ACTIVITY = (1.0, 1.6, 0.8)
ALERTS_PER_WEEK = (9, 14, 8)
INCIDENT_DEVICE_REPORT_IDS = 100_000

# name, ip, OS platform, build, version, machine group, model
NEW_DEVICES = [
    ("wks-ops11", "10.0.6.11", "Windows11", 26100, "24H2", "Workstations", "OptiPlex 7010"),
    ("wks-mkt14", "10.0.6.14", "Windows11", 26100, "24H2", "Workstations", "OptiPlex 7010"),
    ("wks-eng21", "10.0.6.21", "Windows11", 22631, "23H2", "Workstations", "Precision 3660"),
    ("wks-eng22", "10.0.6.22", "Windows11", 22631, "23H2", "Workstations", "Precision 3660"),
    ("wks-fin05", "10.0.6.5", "Windows11", 26100, "24H2", "Workstations", "OptiPlex 7010"),
    ("wks-hr03", "10.0.6.3", "Windows10", 19045, "22H2", "Workstations", "OptiPlex 5070"),
    ("wks-legal02", "10.0.6.2", "Windows11", 26100, "24H2", "Workstations", "OptiPlex 7010"),
    ("wks-lab09", "10.0.6.9", "Windows10", 19045, "22H2", "Workstations", "OptiPlex 5070"),
    ("wks-design06", "10.0.6.6", "Windows11", 26100, "24H2", "Workstations", "Precision 3660"),
    ("wks-support12", "10.0.6.12", "Windows11", 26100, "24H2", "Workstations", "OptiPlex 7010"),
    ("laptop-field22", "10.0.7.22", "Windows11", 26100, "24H2", "Laptops", "ThinkPad T14 Gen 5"),
    ("laptop-exec01", "10.0.7.1", "Windows11", 26100, "24H2", "Laptops", "XPS 13 9340"),
    ("laptop-sales11", "10.0.7.11", "Windows11", 26100, "24H2", "Laptops", "ThinkPad T14 Gen 5"),
    ("laptop-sales12", "10.0.7.12", "Windows11", 26100, "24H2", "Laptops", "ThinkPad T14 Gen 5"),
    ("laptop-dev08", "10.0.7.8", "Windows11", 22631, "23H2", "Laptops", "XPS 15 9530"),
    ("kiosk-lobby02", "10.0.8.2", "Windows10", 19045, "22H2", "Kiosks", "OptiPlex 3000"),
    ("kiosk-shop01", "10.0.8.1", "Windows10", 19045, "22H2", "Kiosks", "OptiPlex 3000"),
    ("srv-dc01", "10.0.4.10", "WindowsServer2022", 20348, "21H2", "Servers - Critical", None),
    ("srv-sql03", "10.0.4.43", "WindowsServer2022", 20348, "21H2", "Servers - Critical", None),
    ("srv-print01", "10.0.4.41", "WindowsServer2019", 17763, "1809", "Servers - Standard", None),
    ("srv-jump01", "10.0.4.44", "WindowsServer2022", 20348, "21H2", "Servers - Standard", None),
    ("srv-ftp03", "10.0.4.45", "WindowsServer2019", 17763, "1809", "Servers - Standard", None),
    ("srv-web05", "10.0.4.46", "WindowsServer2022", 20348, "21H2", "Servers - Standard", None),
]

# (device, configuration id) -> weeks (0 = W47, 1 = W48, 2 = W49) in which it is not compliant.
NON_COMPLIANT_WEEKS: dict[tuple[str, str], set[int]] = {
    ("wks-hr01", "scid-2003"): {0, 1, 2},
    ("kiosk-lobby02", "scid-2003"): {0, 1},
    ("wks-mkt14", "scid-2003"): {2},
    ("wks-eng21", "scid-2012"): {2},
    ("srv-print01", "scid-2016"): {0, 1, 2},
    ("testmachine3", "scid-96"): {0, 1, 2},
    ("wks-mkt14", "scid-96"): {1, 2},
    ("testmachine3", "scid-2505"): {0, 1, 2},
    ("laptop-field22", "scid-2502"): {0, 1, 2},
    ("wks-eng21", "scid-2501"): {1, 2},
}
# device -> (local port, weeks, connections per day, public addresses it draws from)
EXPOSED: dict[str, tuple[int, set[int], int, int]] = {
    "testmachine3": (3389, {0, 1}, 6, 12),
    "srv-jump01": (3389, {0, 1, 2}, 14, 30),
    "srv-ftp03": (445, {1, 2}, 5, 8),
}
INTERNET_FACING_IPS = {"srv-jump01": "203.0.113.40", "srv-ftp03": "203.0.113.41"}
# device -> (state, first moment, last moment) of a sensor problem it reports.
SENSOR_STATES = {
    "kiosk-lobby02": ("ImpairedCommunication", FLEET_START, datetime(2026, 11, 21, tzinfo=timezone.utc)),
    "wks-lab09": ("NoSensorData", datetime(2026, 11, 25, tzinfo=timezone.utc), POSTURE_END),
    "laptop-sales07": ("ImpairedCommunication", DATA_END, POSTURE_END),
}
# Devices that stop reporting at this moment: the report must call them inactive.
SILENT_FROM = {"laptop-field22": datetime(2026, 12, 1, 9, tzinfo=timezone.utc)}
# Devices that draw many more detections than their neighbours, by category.
NOISY = {
    "wks-mkt14": ("SmartScreen", 12.0),
    "wks-eng21": ("Attack surface reduction", 10.0),
    "laptop-field22": ("Antivirus", 8.0),
    "kiosk-lobby02": ("Exploit Guard", 8.0),
    "laptop-sales11": ("SmartScreen", 5.0),
}


@dataclass
class Member:
    """A device of the fleet and whether it is one of the incident's seven."""

    host: Device
    incident: bool

    @property
    def name(self) -> str:
        return self.host.name


def week_start(index: int) -> datetime:
    return FLEET_START + timedelta(days=7 * index)


def week_of(moment: datetime) -> int:
    return (moment - FLEET_START).days // 7


def in_incident_window(moment: datetime) -> bool:
    return DATA_START <= moment < DATA_END


def may_report(member: Member, moment: datetime) -> bool:
    """Tell whether a row of this device at this moment belongs in the fleet data."""
    if member.incident and in_incident_window(moment):
        return False
    silent = SILENT_FROM.get(member.name)
    return not (silent and moment >= silent) and FLEET_START <= moment < POSTURE_END


def build_members() -> list[Member]:
    """Return the incident's seven devices, then the 23 that only the fleet data has."""
    incident, _owners = define_devices()
    for host in incident:
        host.report_count = INCIDENT_DEVICE_REPORT_IDS
    members = [Member(host, True) for host in incident]
    for name, ip, platform, build, version, group, model in NEW_DEVICES:
        details: dict[str, object] = {
            "machine_sid": "S-1-5-21-" + "-".join(
                str(int(made_up_digest("md5", f"sid:{name}:{part}")[:7], 16)) for part in range(3)),
            "mac": "-".join(made_up_digest("md5", f"mac:{name}")[i:i + 2].upper()
                            for i in range(0, 12, 2)),
            "boot": FLEET_START - timedelta(days=3),
            "public_ip": INTERNET_FACING_IPS.get(name, OFFICE_PUBLIC_IP),
        }
        if model:
            details["model"] = model
        if name in INTERNET_FACING_IPS:
            details["exposure"] = "High"
        host = device(name, ip, platform, build, version, group, **details)
        if group != "Servers - Critical" and not name.startswith("srv-"):
            host.owner = domain_user(name.split("-")[1], 2000 + len(members))
        members.append(Member(host, False))
    return members


def check_fleet_range(tel: Telemetry) -> None:
    """Raise ValueError if a fleet row lies outside the fleet weeks or, on an incident device
    or in DeviceRegistryEvents, inside the incident's range."""
    incident = {host.name for host in define_devices()[0]}
    first, last, window = iso(FLEET_START), iso(POSTURE_END), (iso(DATA_START), iso(DATA_END))
    for table, rows in tel.rows.items():
        for row in rows:
            stamp = str(row.get("Timestamp", first))
            if not first <= stamp < last:
                raise ValueError(f"{table} row at {stamp} lies outside {first} to {last}")
            guarded = row.get("DeviceName") in incident or table == "DeviceRegistryEvents"
            if guarded and window[0] <= stamp < window[1]:
                raise ValueError(f"{table} row of {row.get('DeviceName')} at {stamp} lies in "
                                 "the incident's range")
