"""Helpers shared by the sample's activity, and the Windows and Defender chores every device runs.

The chores run around the clock: sensor and cloud protection traffic, telemetry, scheduled tasks,
the nightly quick scan, update checks and the occasional cumulative update.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from irreport.sample.fleet import (
    COMPAT_TEL_RUNNER,
    CONHOST,
    DLLHOST,
    EDGE_UPDATE,
    MPCMDRUN,
    NETWORK_SERVICE,
    SYSTEM,
    TASKHOSTW,
    TIWORKER,
    WMIPRVSE,
    BootProcesses,
    Fleet,
)
from irreport.sample.rows import (
    DATA_END,
    DATA_START,
    Device,
    File,
    Process,
    Telemetry,
    connect,
    device_event,
    made_up_digest,
    ms,
    set_registry_value,
    spawn,
)

DAYS = [DATA_START + timedelta(days=index) for index in range(3)]
INTERNAL_HOSTS = {"orders.corp.example.com": "10.0.4.22"}
# laptop-sales07 goes offline in the evening of the last day, which DeviceInfo reports as impaired.
LAPTOP_OFFLINE = DAYS[2] + timedelta(hours=17, minutes=40)
SENSOR_HOST = "winatp-gw-weu.microsoft.com"


def service_ip(host: str) -> str:
    """Map a host name to a fixed address: internal names to the LAN, internet names into 192.0.2.0/24."""
    if host in INTERNAL_HOSTS:
        return INTERNAL_HOSTS[host]
    # Internet hosts get 192.0.2.10 to 192.0.2.199. The scanners and the attacker use the other two
    # RFC 5737 ranges, so no benign host shares an address with them.
    return f"192.0.2.{10 + int(made_up_digest('md5', host)[:6], 16) % 190}"


def ticks(
    start: datetime, end: datetime, low_minutes: float, high_minutes: float, rng: random.Random
) -> Iterator[datetime]:
    """Yield times from start to end that lie low_minutes to high_minutes apart."""
    moment = start + ms(rng.uniform(0, high_minutes * 60_000))
    while moment < end:
        yield moment
        moment += ms(rng.uniform(low_minutes * 60_000, high_minutes * 60_000))


def console_tool(
    tel: Telemetry,
    parent: Process,
    image: File,
    command_line: str,
    moment: datetime,
    rng: random.Random,
    **options: object,
) -> Process:
    """Start a console program and a conhost.exe child for it.

    NOTE: Windows starts a conhost.exe only for a console program that does not inherit a console
    from its parent. docs/sample-incident.md gives every tool its own, so the sample does too.
    """
    tool = spawn(tel, parent, image, command_line, moment, rng, **options)
    spawn(
        tel,
        tool,
        CONHOST,
        "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
        moment + ms(rng.uniform(2, 9)),
        rng,
    )
    return tool


def run_background(tel: Telemetry, fleet: Fleet, host: Device) -> None:
    boot = fleet.boots[host.name]
    rng = fleet.rng(host.name, "background")
    for moment in ticks(DATA_START, active_until(host), 60, 110, rng):
        connect(tel, boot.sensor, moment, rng, service_ip(SENSOR_HOST), 443, SENSOR_HOST)
    for moment in ticks(DATA_START, active_until(host), 70, 140, rng):
        connect(tel, boot.antivirus, moment, rng, service_ip("wdcp.microsoft.com"), 443, "wdcp.microsoft.com")
    for moment in ticks(DATA_START, active_until(host), 60, 120, rng):
        connect(
            tel,
            boot.telemetry,
            moment,
            rng,
            service_ip("v10.events.data.microsoft.com"),
            443,
            "v10.events.data.microsoft.com",
        )
    for moment in ticks(DATA_START, active_until(host), 70, 160, rng):
        run_scheduled_chore(tel, boot, moment, rng)
    for day in DAYS:
        if day + timedelta(hours=4) > active_until(host):
            continue
        scan_overnight(tel, boot, day + timedelta(hours=rng.uniform(1.5, 3.0)), rng)
        check_for_updates(tel, boot, day + timedelta(hours=rng.uniform(3.0, 4.0)), rng)


def active_until(host: Device) -> datetime:
    return LAPTOP_OFFLINE if host.name == "laptop-sales07" else DATA_END


def run_scheduled_chore(tel: Telemetry, boot: BootProcesses, moment: datetime, rng: random.Random) -> None:
    chore = rng.randrange(5)
    if chore == 0:
        spawn(tel, boot.scheduler, TASKHOSTW, "taskhostw.exe Install $(Arg0)", moment, rng, account=SYSTEM)
    elif chore == 1:
        spawn(
            tel,
            boot.dcom_launch,
            WMIPRVSE,
            "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
            moment,
            rng,
            account=NETWORK_SERVICE,
            logon_id=996,
        )
    elif chore == 2:
        spawn(
            tel,
            boot.dcom_launch,
            DLLHOST,
            "C:\\Windows\\system32\\DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}",
            moment,
            rng,
        )
    elif chore == 3:
        spawn(
            tel,
            boot.scheduler,
            COMPAT_TEL_RUNNER,
            "C:\\Windows\\system32\\compattelrunner.exe -maintenance",
            moment,
            rng,
        )
    else:
        console_tool(
            tel, boot.scheduler, MPCMDRUN, f'"{MPCMDRUN.path}" -IdleTask -TaskName WdCacheMaintenance', moment, rng
        )


def scan_overnight(tel: Telemetry, boot: BootProcesses, moment: datetime, rng: random.Random) -> None:
    """Run the scheduled quick scan and the signature update that precedes it."""
    connect(
        tel,
        boot.antivirus,
        moment - ms(rng.uniform(60_000, 300_000)),
        rng,
        service_ip("definitionupdates.microsoft.com"),
        443,
        "definitionupdates.microsoft.com",
    )
    scanner = console_tool(
        tel, boot.scheduler, MPCMDRUN, f'"{MPCMDRUN.path}" Scan -ScheduleJob -ScanTrigger 55', moment, rng
    )
    device_event(
        tel,
        scanner,
        moment + ms(rng.uniform(240_000, 560_000)),
        "AntivirusScanCompleted",
        {"ScanTypeIndex": "Quick", "User": "nt authority\\system"},
    )


def check_for_updates(tel: Telemetry, boot: BootProcesses, moment: datetime, rng: random.Random) -> None:
    connect(
        tel,
        boot.windows_update,
        moment,
        rng,
        service_ip("fe3cr.delivery.mp.microsoft.com"),
        443,
        "fe3cr.delivery.mp.microsoft.com",
    )
    connect(
        tel,
        boot.windows_update,
        moment + ms(rng.uniform(900, 4000)),
        rng,
        service_ip("slscr.update.microsoft.com"),
        443,
        "slscr.update.microsoft.com",
    )
    later = moment + timedelta(minutes=rng.uniform(20, 90))
    updater = spawn(tel, boot.scheduler, EDGE_UPDATE, f'"{EDGE_UPDATE.path}" /ua /installsource scheduler', later, rng)
    connect(
        tel,
        updater,
        later + ms(rng.uniform(300, 1500)),
        rng,
        service_ip("msedge.api.cdp.microsoft.com"),
        443,
        "msedge.api.cdp.microsoft.com",
    )
    set_registry_value(
        tel,
        updater,
        later + ms(rng.uniform(2000, 6000)),
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\EdgeUpdate\\ClientState\\{56EB18F8-B008-4CBD-B6D2-8C97FE7E9062}",
        "LastCheckSuccess",
        str(int(later.timestamp())),
        "Dword",
    )


def install_cumulative_update(tel: Telemetry, fleet: Fleet, host: Device, moment: datetime) -> None:
    """Let the servicing stack rewrite the SecurityHealth run key value, as a monthly update does."""
    rng = fleet.rng(host.name, "servicing")
    boot = fleet.boots[host.name]
    worker = spawn(tel, boot.dcom_launch, TIWORKER, f"{TIWORKER.path} -Embedding", moment, rng)
    set_registry_value(
        tel,
        worker,
        moment + timedelta(minutes=rng.uniform(4, 12)),
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
        "SecurityHealth",
        "%windir%\\system32\\SecurityHealthSystray.exe",
        "ExpandString",
    )
