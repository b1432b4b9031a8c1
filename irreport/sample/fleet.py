"""The seven devices of the sample, their accounts, the executables they run and the processes
that were already running when the data begins."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from irreport.sample.rows import (
    Account,
    Device,
    File,
    Process,
    existing_process,
    ms,
    utc,
)

# A made-up Active Directory domain. Defender reports account names and domains in lower case.
DOMAIN = "corp"
DOMAIN_SID = "S-1-5-21-2846150973-1390726514-3972608415"
OFFICE_PUBLIC_IP = "198.51.100.10"

SYSTEM = Account("nt authority", "system", "S-1-5-18")
LOCAL_SERVICE = Account("nt authority", "local service", "S-1-5-19")
NETWORK_SERVICE = Account("nt authority", "network service", "S-1-5-20")
# Well-known logon ids of the three service accounts (0x3e7, 0x3e5, 0x3e4).
SERVICE_LOGON_IDS = {SYSTEM: 999, LOCAL_SERVICE: 997, NETWORK_SERVICE: 996}


def domain_user(name: str, rid: int) -> Account:
    return Account(DOMAIN, name, f"{DOMAIN_SID}-{rid}")


IT_ADMIN = domain_user("it.admin", 1107)
SVC_BACKUP = domain_user("svc_backup", 1121)
SVC_QA = domain_user("svc_qa", 1122)
SVC_APP = domain_user("svc_app", 1123)
APP_POOL_IDENTITY = Account(
    "iis apppool", "orderportal", "S-1-5-82-3876422241-1344743610-1729199087-774402673-2621913236"
)

MICROSOFT = "Microsoft Corporation"
WINDOWS = "Microsoft® Windows® Operating System"
SYSTEM32 = "C:\\Windows\\System32\\"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
DEFENDER_PLATFORM = "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.25100.9-0\\"


def windows_tool(
    name: str, size: int, description: str, original_name: str | None = None, folder: str = SYSTEM32
) -> File:
    return File(folder + name, size, MICROSOFT, WINDOWS, description, original_name or name)


KERNEL = File("System", 0, has_image=False)
SMSS = windows_tool("smss.exe", 176128, "Windows Session Manager")
WININIT = windows_tool("wininit.exe", 450560, "Windows Start-Up Application")
SERVICES = windows_tool("services.exe", 724992, "Services and Controller app")
LSASS = windows_tool("lsass.exe", 86016, "Local Security Authority Process")
WINLOGON = windows_tool("winlogon.exe", 933888, "Windows Logon Application")
USERINIT = windows_tool("userinit.exe", 36864, "Userinit Logon Application")
EXPLORER = windows_tool("explorer.exe", 5379072, "Windows Explorer", "EXPLORER.EXE", folder="C:\\Windows\\")
SVCHOST = windows_tool("svchost.exe", 57528, "Host Process for Windows Services")
RDPCLIP = windows_tool("rdpclip.exe", 520192, "RDP Clipboard Monitor")
CMD = windows_tool("cmd.exe", 323584, "Windows Command Processor", "Cmd.Exe")
CONHOST = windows_tool("conhost.exe", 1040384, "Console Window Host", "CONHOST.EXE")
WHOAMI = windows_tool("whoami.exe", 77824, "whoami - displays logged on user information")
NET = windows_tool("net.exe", 57344, "Net Command")
NET1 = windows_tool("net1.exe", 183296, "Net Command")
NLTEST = windows_tool("nltest.exe", 524288, "Microsoft® Logon Server Test Utility", "nltestrk.exe")
IPCONFIG = windows_tool("ipconfig.exe", 36864, "IP Configuration Utility")
SYSTEMINFO = windows_tool("systeminfo.exe", 98304, "Displays system information", "sysinfo.exe")
TASKLIST = windows_tool("tasklist.exe", 102400, "Lists the current running tasks")
NETSTAT = windows_tool("netstat.exe", 45056, "TCP/IP Netstat Command")
FINDSTR = windows_tool("findstr.exe", 36864, "Find String (QGREP) Utility")
CERTUTIL = windows_tool("certutil.exe", 1652736, "CertUtil.exe", "CertUtil.exe")
REG = windows_tool("reg.exe", 77824, "Registry Console Tool")
SCHTASKS = windows_tool("schtasks.exe", 233472, "Task Scheduler Configuration Tool")
POWERSHELL = windows_tool(
    "powershell.exe", 454656, "Windows PowerShell", "PowerShell.EXE", folder=SYSTEM32 + "WindowsPowerShell\\v1.0\\"
)
MSTSC = windows_tool("mstsc.exe", 1347584, "Remote Desktop Connection")
TASKHOSTW = windows_tool("taskhostw.exe", 110592, "Host Process for Windows Tasks")
DLLHOST = windows_tool("dllhost.exe", 24576, "COM Surrogate")
WMIPRVSE = windows_tool("WmiPrvSE.exe", 573440, "WMI Provider Host", folder=SYSTEM32 + "wbem\\")
COMPAT_TEL_RUNNER = windows_tool("CompatTelRunner.exe", 196608, "Microsoft Compatibility Telemetry")
SECURITY_HEALTH_SYSTRAY = windows_tool("SecurityHealthSystray.exe", 90112, "Windows Security notification icon")
NOTEPAD = windows_tool("notepad.exe", 360448, "Notepad", "NOTEPAD.EXE")
WBADMIN = windows_tool("wbadmin.exe", 311296, "Command Line Interface for Microsoft® BLB Backup", "WBADMIN.EXE")
TIWORKER = windows_tool(
    "TiWorker.exe",
    225280,
    "Windows Modules Installer Worker",
    folder="C:\\Windows\\WinSxS\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.26100.2450_none_3f5a0b1e2d7c9a41\\",
)
W3WP = windows_tool("w3wp.exe", 32768, "IIS Worker Process", folder=SYSTEM32 + "inetsrv\\")
MSMPENG = File(
    DEFENDER_PLATFORM + "MsMpEng.exe", 133088, MICROSOFT, WINDOWS, "Antimalware Service Executable", "MsMpEng.exe"
)
MPCMDRUN = File(
    DEFENDER_PLATFORM + "MpCmdRun.exe",
    1561512,
    MICROSOFT,
    WINDOWS,
    "Microsoft Malware Protection Command Line Utility",
    "MpCmdRun.exe",
)
MSSENSE = File(
    "C:\\Program Files\\Windows Defender Advanced Threat Protection\\MsSense.exe",
    4898720,
    MICROSOFT,
    WINDOWS,
    "Windows Defender Advanced Threat Protection Service Executable",
    "MsSense.exe",
)
EDGE = File(
    "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
    4231744,
    MICROSOFT,
    "Microsoft Edge",
    "Microsoft Edge",
    "msedge.exe",
)
EDGE_UPDATE = File(
    "C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe",
    216104,
    MICROSOFT,
    "Microsoft Edge Update",
    "Microsoft Edge Update",
    "MicrosoftEdgeUpdate.exe",
)
CHROME = File(
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    3131496,
    "Google LLC",
    "Google Chrome",
    "Google Chrome",
    "chrome.exe",
)
OUTLOOK = File(OFFICE + "OUTLOOK.EXE", 43118432, MICROSOFT, "Microsoft Outlook", "Microsoft Outlook", "Outlook.exe")
WORD = File(OFFICE + "WINWORD.EXE", 1638752, MICROSOFT, "Microsoft Office", "Microsoft Word", "WinWord.exe")
EXCEL = File(OFFICE + "EXCEL.EXE", 72158560, MICROSOFT, "Microsoft Office", "Microsoft Excel", "Excel.exe")
TEAMS = File(
    "C:\\Program Files\\WindowsApps\\MSTeams_25290.205.4069.4894_x64__8wekyb3d8bbwe\\ms-teams.exe",
    1155048,
    MICROSOFT,
    "Microsoft Teams",
    "Microsoft Teams",
    "ms-teams.exe",
)
ONEDRIVE = File(
    "C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe",
    3783128,
    MICROSOFT,
    "Microsoft OneDrive",
    "Microsoft OneDrive",
    "OneDrive.exe",
)


@dataclass(frozen=True)
class Owner:
    """The person who works at a workstation, and what they use it for."""

    account: Account
    browser: File
    profile: str


def device(
    name: str, ip: str, os_platform: str, build: int, version_info: str, group: str, **details: object
) -> Device:
    kind = "Server" if os_platform.startswith("WindowsServer") else "Workstation"
    defaults: dict[str, object] = {
        "public_ip": OFFICE_PUBLIC_IP,
        "join_type": "Domain Joined" if kind == "Server" else "Hybrid Azure AD Join",
        "exposure": "Low",
        "vendor": "VMware, Inc." if kind == "Server" else "Dell Inc.",
        "model": "VMware20,1" if kind == "Server" else "OptiPlex 7010",
    }
    defaults.update(details)
    return Device(
        name=name,
        ip=ip,
        os_platform=os_platform,
        os_build=build,
        os_version_info=version_info,
        machine_group=group,
        device_type=kind,
        **defaults,
    )


@dataclass
class Fleet:
    """The devices in the contract's order, each workstation's owner and each device's boot processes."""

    devices: dict[str, Device]
    owners: dict[str, Owner]
    boots: dict[str, BootProcesses]
    seed: int

    def rng(self, *labels: str) -> random.Random:
        """Return a random generator for one part of the sample, so that changing one part leaves the others alone."""
        return random.Random(":".join([str(self.seed), *labels]))


def build_fleet(seed: int) -> Fleet:
    devices, owners = define_devices()
    fleet = Fleet({item.name: item for item in devices}, owners, {}, seed)
    for item in devices:
        fleet.boots[item.name] = start_boot_processes(item, fleet.rng(item.name, "boot"))
    return fleet


def define_devices() -> tuple[list[Device], dict[str, Owner]]:
    """Return the devices in the contract's order and the owner of each workstation."""
    devices = [
        device(
            "testmachine3",
            "10.0.4.13",
            "Windows11",
            26100,
            "24H2",
            "Workstations",
            public_ip="198.51.100.23",
            machine_sid="S-1-5-21-1004336348-1177238915-682003330",
            join_type="Domain Joined",
            exposure="High",
            mac="00-15-5D-04-0D-13",
            boot=utc("2026-11-26T18:22:31.402"),
        ),
        device(
            "srv-files01",
            "10.0.4.21",
            "WindowsServer2022",
            20348,
            "21H2",
            "Servers - Critical",
            machine_sid="S-1-5-21-3390114875-2761984102-1549603372",
            exposure="Medium",
            mac="00-50-56-04-15-21",
            boot=utc("2026-11-15T03:11:07.215"),
        ),
        device(
            "wks-finance02",
            "10.0.4.31",
            "Windows11",
            26100,
            "24H2",
            "Workstations",
            machine_sid="S-1-5-21-1875520437-3318807169-2240951306",
            vendor="Lenovo",
            model="ThinkCentre M70q Gen 4",
            mac="8C-16-45-04-1F-31",
            boot=utc("2026-11-27T07:48:55.630"),
        ),
        device(
            "wks-hr01",
            "10.0.4.32",
            "Windows10",
            19045,
            "22H2",
            "Workstations",
            machine_sid="S-1-5-21-2209613754-1048276631-3860491225",
            exposure="Medium",
            model="OptiPlex 5070",
            mac="D8-9E-F3-04-20-32",
            boot=utc("2026-11-25T08:02:19.884"),
        ),
        device(
            "wks-dev04",
            "10.0.4.33",
            "Windows11",
            22631,
            "23H2",
            "Workstations",
            machine_sid="S-1-5-21-4120637781-2985013422-1176284509",
            model="Precision 3660",
            mac="B0-7B-25-04-21-33",
            boot=utc("2026-11-29T21:14:02.077"),
        ),
        device(
            "srv-app02",
            "10.0.4.22",
            "WindowsServer2019",
            17763,
            "1809",
            "Servers - Critical",
            machine_sid="S-1-5-21-1630299484-4071598826-2718053940",
            mac="00-50-56-04-16-22",
            boot=utc("2026-11-15T03:24:48.530"),
        ),
        device(
            "laptop-sales07",
            "10.0.5.17",
            "Windows11",
            26100,
            "24H2",
            "Workstations",
            machine_sid="S-1-5-21-3052871196-1693540288-2617045873",
            vendor="Lenovo",
            model="ThinkPad T14 Gen 5",
            mac="F4-A4-75-05-11-17",
            boot=utc("2026-11-28T17:40:12.318"),
        ),
    ]
    owners = {
        "testmachine3": Owner(domain_user("noah.berger", 1131), EDGE, "qa"),
        "wks-finance02": Owner(domain_user("lena.fischer", 1142), EDGE, "finance"),
        "wks-hr01": Owner(domain_user("omar.haddad", 1153), EDGE, "hr"),
        "wks-dev04": Owner(domain_user("kai.tanaka", 1164), CHROME, "dev"),
        "laptop-sales07": Owner(domain_user("sara.lindqvist", 1175), EDGE, "sales"),
    }
    for item in devices:
        if item.name in owners:
            item.owner = owners[item.name].account
    return devices, owners


@dataclass
class BootProcesses:
    """Long-lived processes started at boot, before the sample's time range.

    They appear only as InitiatingProcess* values of the rows they cause.
    """

    kernel: Process
    smss: Process
    services: Process
    lsass: Process
    winlogon: Process
    dcom_launch: Process
    scheduler: Process
    remote_desktop: Process
    windows_update: Process
    telemetry: Process
    antivirus: Process
    sensor: Process
    app_pool: Process | None = None


def start_boot_processes(host: Device, rng: random.Random) -> BootProcesses:
    """Create the boot-time process tree of host, seconds after its boot time."""
    clock = host.boot

    def later(seconds: float) -> datetime:
        nonlocal clock
        clock = clock + ms(rng.uniform(50, seconds * 1000))
        return clock

    def started(
        image: File, command_line: str, parent: Process | None, account: Account = SYSTEM, **extra: object
    ) -> Process:
        # Boot-time processes get the low ids Windows hands out first.
        if "pid" not in extra:
            extra["pid"] = host.new_pid(rng, 300, 1500)
        return existing_process(
            host,
            image,
            command_line,
            later(2.0),
            account,
            parent=parent,
            logon_id=SERVICE_LOGON_IDS[account],
            rng=rng,
            **extra,
        )

    kernel = started(KERNEL, "", None, pid=4)
    smss = started(SMSS, "\\SystemRoot\\System32\\smss.exe", kernel)
    wininit = started(WININIT, "wininit.exe", smss)
    services = started(SERVICES, "C:\\Windows\\system32\\services.exe", wininit)
    lsass = started(LSASS, "C:\\Windows\\system32\\lsass.exe", wininit)
    winlogon = started(WINLOGON, "winlogon.exe", smss)
    svchost = SVCHOST.path
    boot = BootProcesses(
        kernel=kernel,
        smss=smss,
        services=services,
        lsass=lsass,
        winlogon=winlogon,
        dcom_launch=started(SVCHOST, f"{svchost} -k DcomLaunch -p", services),
        scheduler=started(SVCHOST, f"{svchost} -k netsvcs -p -s Schedule", services),
        remote_desktop=started(SVCHOST, f"{svchost} -k NetworkService -s TermService", services, NETWORK_SERVICE),
        windows_update=started(SVCHOST, f"{svchost} -k netsvcs -p -s wuauserv", services),
        telemetry=started(SVCHOST, f"{svchost} -k utcsvc -p", services),
        antivirus=started(MSMPENG, f'"{MSMPENG.path}"', services),
        sensor=started(MSSENSE, f'"{MSSENSE.path}"', services),
    )
    if host.name == "srv-app02":
        was = started(SVCHOST, f"{svchost} -k iissvcs", services)
        boot.app_pool = existing_process(
            host,
            W3WP,
            f'{W3WP.path} -ap "OrderPortal" -v "v4.0" -l "webengine4.dll" '
            '-h "C:\\inetpub\\temp\\apppools\\OrderPortal\\OrderPortal.config" -w "" -m 0',
            later(20.0),
            APP_POOL_IDENTITY,
            parent=was,
            logon_id=0x2E1F4A,
            integrity="High",
            rng=rng,
        )
    return boot
