"""Everyday activity of the fleet, the background that the incident hides in.

Workstation owners log on each morning and use Outlook, Teams, OneDrive, a browser, Office
documents and the file server. The chores every device runs are in background.py and the
servers' own work is in servers.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from irreport.sample.background import (
    DAYS,
    INTERNAL_HOSTS,
    active_until,
    console_tool,
    install_cumulative_update,
    run_background,
    service_ip,
    ticks,
)
from irreport.sample.fleet import (
    EXCEL,
    NOTEPAD,
    ONEDRIVE,
    OUTLOOK,
    POWERSHELL,
    SECURITY_HEALTH_SYSTRAY,
    TEAMS,
    WMIPRVSE,
    WORD,
    Fleet,
    Owner,
)
from irreport.sample.rows import (
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
)
from irreport.sample.servers import (
    run_app_server,
    run_file_server,
    run_qa_agent,
    serve_web_request,
)
from irreport.sample.sessions import Desktop, log_on_at_console, new_logon_id

# The owner of testmachine3 leaves at midday on the last day, so the console is idle during the intrusion.
WORKDAY_END_OVERRIDES = {("testmachine3", 2): DAYS[2] + timedelta(hours=12, minutes=14)}
SITES = {
    "common": [
        "www.office.com",
        "login.microsoftonline.com",
        "www.bing.com",
        "learn.microsoft.com",
        "corpexample.sharepoint.com",
    ],
    "qa": ["orders.corp.example.com", "github.com", "stackoverflow.com"],
    "finance": ["www.ecb.europa.eu", "corpexample.sharepoint.com"],
    "hr": ["www.linkedin.com", "corpexample.sharepoint.com"],
    "dev": ["github.com", "registry.npmjs.org", "stackoverflow.com", "pypi.org", "docs.python.org"],
    "sales": ["www.linkedin.com", "corpexample.my.salesforce.com", "orders.corp.example.com"],
}
DOCUMENTS = {
    "qa": ["Test plan 2026-12.docx", "Regression results.xlsx"],
    "finance": ["Budget 2027.xlsx", "Q4 forecast.xlsx", "Vendor payments November.xlsx", "Board memo.docx"],
    "hr": ["Onboarding checklist.docx", "Job description - QA engineer.docx", "Leave planning 2027.xlsx"],
    "dev": ["Design notes.docx", "Sprint capacity.xlsx"],
    "sales": ["Customer proposal.docx", "Pipeline December.xlsx", "Price list 2027.xlsx"],
}
SHARES = {"qa": "Engineering", "finance": "Finance", "hr": "HR", "dev": "Engineering", "sales": "Sales"}
DOWNLOADS = [
    "invoice_2026_11.pdf",
    "meeting-notes.pdf",
    "report.csv",
    "screenshot.png",
    "agenda.pdf",
    "release-notes.zip",
]
ONEDRIVE_HOST = "corpexample-my.sharepoint.com"
CODE = File(
    "C:\\Users\\kai.tanaka\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
    168883504,
    "Microsoft Corporation",
    "Visual Studio Code",
    "Visual Studio Code",
    "electron.exe",
)
GIT = File(
    "C:\\Program Files\\Git\\cmd\\git.exe", 46496, "The Git Development Community", "Git", "Git for Windows", "git.exe"
)
NPM_CLI = "C:\\Program Files\\nodejs\\node_modules\\npm\\bin\\npm-cli.js"
NODE = File(
    "C:\\Program Files\\nodejs\\node.exe", 79651328, "Node.js", "Node.js", "Node.js JavaScript Runtime", "node.exe"
)


def user_run_key(sid: str) -> str:
    return f"HKEY_CURRENT_USER\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"


@dataclass
class Workday:
    """One owner's session on one day, and the applications it runs."""

    tel: Telemetry
    fleet: Fleet
    host: Device
    owner: Owner
    desktop: Desktop
    rng: random.Random
    day_index: int
    apps: dict[str, Process] = field(default_factory=dict)

    @property
    def user_folder(self) -> str:
        return f"C:\\Users\\{self.owner.account.name}"


def run_workdays(tel: Telemetry, fleet: Fleet, host: Device) -> None:
    owner = fleet.owners[host.name]
    rng = fleet.rng(host.name, "workday")
    reused_pid: int | None = None
    for index, day in enumerate(DAYS):
        start = day + timedelta(hours=rng.uniform(7.3, 8.8))
        end = day + timedelta(hours=rng.uniform(16.3, 18.1))
        end = min(end, WORKDAY_END_OVERRIDES.get((host.name, index), end), active_until(host) - timedelta(minutes=5))
        desktop = log_on_at_console(tel, fleet, host, owner.account, start, rng)
        work = Workday(tel, fleet, host, owner, desktop, rng, index)
        start_desktop_apps(work, desktop.explorer.created + ms(rng.uniform(2000, 6000)))
        activities = ACTIVITIES[owner.profile]
        names = [name for name, _weight in activities]
        weights = [weight for _name, weight in activities]
        for moment in ticks(start + timedelta(minutes=10), end, 2.0, 6.0, rng):
            ACTIVITY_FUNCTIONS[rng.choices(names, weights)[0]](work, moment)
        if host.name == "wks-finance02":
            reused_pid = reuse_process_id(work, start + timedelta(hours=2, minutes=10), reused_pid)
        if host.name == "laptop-sales07" and index == 1:
            quarantine_unwanted_app(work, start + timedelta(hours=5, minutes=22))


def start_desktop_apps(work: Workday, moment: datetime) -> None:
    rng = work.rng
    explorer = work.desktop.explorer
    spawn(work.tel, explorer, SECURITY_HEALTH_SYSTRAY, f'"{SECURITY_HEALTH_SYSTRAY.path}"', moment, rng)
    onedrive = spawn(
        work.tel, explorer, ONEDRIVE, f'"{ONEDRIVE.path}" /background', moment + ms(rng.uniform(300, 900)), rng
    )
    teams = spawn(
        work.tel, explorer, TEAMS, f'"{TEAMS.path}" msteams:system-initiated', moment + ms(rng.uniform(1000, 2500)), rng
    )
    outlook = spawn(work.tel, explorer, OUTLOOK, f'"{OUTLOOK.path}" ', moment + ms(rng.uniform(60_000, 240_000)), rng)
    browser_image = work.owner.browser
    browser = spawn(
        work.tel,
        explorer,
        browser_image,
        f'"{browser_image.path}" --profile-directory=Default',
        moment + ms(rng.uniform(120_000, 480_000)),
        rng,
    )
    work.apps.update(onedrive=onedrive, teams=teams, outlook=outlook, browser=browser)
    if work.owner.profile == "dev":
        work.apps["editor"] = spawn(
            work.tel, explorer, CODE, f'"{CODE.path}" ', moment + ms(rng.uniform(60_000, 240_000)), rng
        )
    if work.day_index == 0:
        register_autostart(work, onedrive, teams, moment + ms(rng.uniform(5000, 20_000)))


def register_autostart(work: Workday, onedrive: Process, teams: Process, moment: datetime) -> None:
    """Write the OneDrive and Teams run key values that several owners' profiles carry."""
    key = user_run_key(work.owner.account.sid)
    if work.host.name in ("testmachine3", "wks-finance02", "wks-dev04", "laptop-sales07"):
        set_registry_value(work.tel, onedrive, moment, key, "OneDrive", f'"{ONEDRIVE.path}" /background')
    if work.host.name in ("wks-finance02", "wks-hr01", "laptop-sales07"):
        set_registry_value(
            work.tel,
            teams,
            moment + ms(work.rng.uniform(500, 4000)),
            key,
            "ms-teams",
            f'"{TEAMS.path}" msteams:system-initiated',
        )


def browse(work: Workday, moment: datetime) -> None:
    rng = work.rng
    site = rng.choice(SITES["common"] + SITES[work.owner.profile])
    browser = work.apps["browser"]
    if rng.random() < 0.15:
        image = work.owner.browser
        spawn(
            work.tel,
            browser,
            image,
            f'"{image.path}" --type=renderer --lang=en-US --renderer-client-id={rng.randint(8, 90)}',
            moment - ms(rng.uniform(100, 400)),
            rng,
            integrity="Low",
        )
    connect(work.tel, browser, moment, rng, service_ip(site), 443, site)
    if site in INTERNAL_HOSTS:
        serve_web_request(work.tel, work.fleet, work.host, moment, rng)


def sync_mail(work: Workday, moment: datetime) -> None:
    rng = work.rng
    outlook = work.apps["outlook"]
    connect(work.tel, outlook, moment, rng, service_ip("outlook.office365.com"), 443, "outlook.office365.com")
    if rng.random() < 0.1:
        site = rng.choice(SITES["common"])
        device_event(
            work.tel,
            outlook,
            moment + ms(rng.uniform(5000, 60_000)),
            "BrowserLaunchedToOpenUrl",
            RemoteUrl=f"https://{site}/",
        )
    if rng.random() < 0.06:
        attachment = File(
            f"{work.user_folder}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\Q7M2KX4T\\{rng.choice(DOWNLOADS)}",
            rng.randint(40_000, 900_000),
        )
        file_event(work.tel, outlook, moment + ms(rng.uniform(2000, 30_000)), "FileCreated", attachment)


def chat(work: Workday, moment: datetime) -> None:
    connect(
        work.tel, work.apps["teams"], moment, work.rng, service_ip("teams.microsoft.com"), 443, "teams.microsoft.com"
    )


def sync_onedrive(work: Workday, moment: datetime) -> None:
    rng = work.rng
    onedrive = work.apps["onedrive"]
    connect(work.tel, onedrive, moment, rng, service_ip(ONEDRIVE_HOST), 443, ONEDRIVE_HOST)
    if rng.random() < 0.35:
        document = File(
            f"{work.user_folder}\\OneDrive - Corp Example\\Documents\\{rng.choice(DOCUMENTS[work.owner.profile])}",
            rng.randint(20_000, 2_000_000),
        )
        file_event(work.tel, onedrive, moment + ms(rng.uniform(500, 5000)), "FileModified", document)


def open_document(work: Workday, moment: datetime, pid: int | None = None) -> Process:
    rng = work.rng
    name = rng.choice(DOCUMENTS[work.owner.profile])
    folder = f"{work.user_folder}\\OneDrive - Corp Example\\Documents"
    image = EXCEL if name.endswith(".xlsx") else WORD
    app = spawn(work.tel, work.desktop.explorer, image, f'"{image.path}" "{folder}\\{name}"', moment, rng, pid=pid)
    file_event(work.tel, app, moment + ms(rng.uniform(1500, 4000)), "FileCreated", File(f"{folder}\\~${name[2:]}", 165))
    scratch = File(
        f"{work.user_folder}\\AppData\\Local\\Temp\\~DF{rng.randrange(16**4):04X}{rng.randrange(16**8):08X}.TMP",
        rng.choice([4096, 8192, 16384]),
    )
    file_event(work.tel, app, moment + ms(rng.uniform(4000, 9000)), "FileCreated", scratch)
    connect(
        work.tel,
        app,
        moment + ms(rng.uniform(2000, 8000)),
        rng,
        service_ip("officeclient.microsoft.com"),
        443,
        "officeclient.microsoft.com",
    )
    if rng.random() < 0.6:
        file_event(
            work.tel,
            app,
            moment + timedelta(minutes=rng.uniform(4, 25)),
            "FileModified",
            File(f"{folder}\\{name}", rng.randint(20_000, 2_000_000)),
        )
    return app


def download_file(work: Workday, moment: datetime) -> None:
    rng = work.rng
    site = rng.choice(SITES["common"] + SITES[work.owner.profile])
    name = rng.choice(DOWNLOADS)
    target = File(f"{work.user_folder}\\Downloads\\{name}", rng.randint(30_000, 4_000_000))
    file_event(
        work.tel,
        work.apps["browser"],
        moment,
        "FileCreated",
        target,
        FileOriginUrl=f"https://{site}/files/{name}",
        FileOriginIP=service_ip(site),
    )


def use_file_share(work: Workday, moment: datetime) -> None:
    """Open and save files on srv-files01 over SMB, which both devices record."""
    rng = work.rng
    client_boot = work.fleet.boots[work.host.name]
    server = work.fleet.devices["srv-files01"]
    server_boot = work.fleet.boots[server.name]
    account = work.owner.account
    connect(work.tel, client_boot.kernel, moment, rng, server.ip, 445)
    accept(work.tel, server_boot.kernel, moment + ms(rng.uniform(2, 15)), rng, work.host.ip, 445)
    logon(
        work.tel,
        server,
        moment + ms(rng.uniform(20, 60)),
        account,
        "Network",
        by=server_boot.lsass,
        protocol="Kerberos",
        remote_ip=work.host.ip,
        remote_device=work.host.name,
        logon_id=new_logon_id(rng),
        is_local_admin=False,
        rng=rng,
    )
    share = SHARES[work.owner.profile]
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(DOCUMENTS[work.owner.profile])
        target = File(f"D:\\Shares\\{share}\\{name}", rng.randint(20_000, 3_000_000))
        file_event(
            work.tel,
            server_boot.kernel,
            moment + ms(rng.uniform(500, 90_000)),
            rng.choice(["FileModified", "FileModified", "FileCreated"]),
            target,
            RequestProtocol="SMB",
            RequestSourceIP=work.host.ip,
            RequestAccountName=account.name,
            RequestAccountDomain=account.domain,
            RequestAccountSid=account.sid,
            ShareName=share,
        )


def write_code(work: Workday, moment: datetime) -> None:
    """Run git and npm from a PowerShell terminal inside VS Code."""
    rng = work.rng
    shell = work.apps.get("terminal")
    if shell is None:
        shell = console_tool(
            work.tel,
            work.apps["editor"],
            POWERSHELL,
            f"{POWERSHELL.path} -NoLogo",
            moment - ms(rng.uniform(5000, 30_000)),
            rng,
        )
        work.apps["terminal"] = shell
    if rng.random() < 0.5:
        git = spawn(
            work.tel,
            shell,
            GIT,
            f'"{GIT.path}" {rng.choice(["fetch origin", "pull --rebase", "push origin HEAD"])}',
            moment,
            rng,
        )
        connect(work.tel, git, moment + ms(rng.uniform(100, 600)), rng, service_ip("github.com"), 443, "github.com")
        device_event(work.tel, shell, moment - ms(rng.uniform(20, 80)), "PowerShellCommand", {"Command": "git"})
    else:
        node = spawn(
            work.tel,
            shell,
            NODE,
            f'"{NODE.path}" "{NPM_CLI}" {rng.choice(["install", "test", "run build"])}',
            moment,
            rng,
        )
        connect(
            work.tel,
            node,
            moment + ms(rng.uniform(200, 900)),
            rng,
            service_ip("registry.npmjs.org"),
            443,
            "registry.npmjs.org",
        )
        device_event(work.tel, shell, moment - ms(rng.uniform(20, 80)), "PowerShellCommand", {"Command": "npm"})


ActivityFunction = Callable[[Workday, datetime], object]
ACTIVITY_FUNCTIONS: dict[str, ActivityFunction] = {
    "browse": browse,
    "mail": sync_mail,
    "chat": chat,
    "sync": sync_onedrive,
    "document": open_document,
    "download": download_file,
    "share": use_file_share,
    "code": write_code,
}
ACTIVITIES = {
    "qa": [("browse", 5), ("mail", 3), ("chat", 3), ("sync", 1), ("document", 1), ("download", 1), ("share", 2)],
    "finance": [("browse", 3), ("mail", 4), ("chat", 2), ("sync", 2), ("document", 3), ("download", 1), ("share", 3)],
    "hr": [("browse", 3), ("mail", 4), ("chat", 3), ("sync", 2), ("document", 2), ("download", 1), ("share", 2)],
    "dev": [
        ("browse", 4),
        ("mail", 2),
        ("chat", 3),
        ("sync", 1),
        ("document", 1),
        ("download", 1),
        ("share", 1),
        ("code", 6),
    ],
    "sales": [("browse", 4), ("mail", 5), ("chat", 5), ("sync", 2), ("document", 2), ("download", 1), ("share", 1)],
}


def reuse_process_id(work: Workday, moment: datetime, earlier_pid: int | None) -> int:
    """Start notepad.exe on the first day and, on the second, Excel with the same process id.

    Windows hands an id out again once its process has exited, so only the creation time
    distinguishes the two processes. Returns the id to reuse.
    """
    if earlier_pid is None:
        note = f"{work.user_folder}\\Desktop\\month-end.txt"
        return spawn(work.tel, work.desktop.explorer, NOTEPAD, f'"{NOTEPAD.path}" {note}', moment, work.rng).pid
    if work.day_index == 1:
        open_document(work, moment, pid=earlier_pid)
    return earlier_pid


def audit_wmi_child_process(tel: Telemetry, fleet: Fleet) -> None:
    """Let the IT inventory script start PowerShell through WMI on laptop-sales07.

    The attack surface reduction rule for PsExec and WMI child processes is in audit mode there, so
    Defender reports the launch and lets it run.
    """
    host = fleet.devices["laptop-sales07"]
    rng = fleet.rng(host.name, "asr-audit")
    boot = fleet.boots[host.name]
    moment = DAYS[0] + timedelta(hours=11, minutes=26, seconds=18, milliseconds=402)
    provider = spawn(
        tel, boot.dcom_launch, WMIPRVSE, "C:\\Windows\\system32\\wbem\\wmiprvse.exe -Embedding", moment, rng
    )
    command_line = (
        f'{POWERSHELL.path} -NoProfile -ExecutionPolicy Bypass -File "C:\\ProgramData\\ITInventory\\collect.ps1"'
    )
    script_host = console_tool(tel, provider, POWERSHELL, command_line, moment + ms(rng.uniform(300, 900)), rng)
    device_event(
        tel,
        provider,
        script_host.created + ms(3),
        "AsrPsexecWmiChildProcessAudited",
        {"IsAudit": True, "RuleId": "d1e49aac-8f56-4280-b9ba-993a6d77406c"},
        FileName=POWERSHELL.name,
        FolderPath=POWERSHELL.path,
        ProcessCommandLine=command_line,
    )
    connect(tel, script_host, moment + ms(rng.uniform(2000, 5000)), rng, "10.0.4.40", 443)


def quarantine_unwanted_app(work: Workday, moment: datetime) -> None:
    """Let Defender quarantine a potentially unwanted installer that the owner downloaded."""
    rng = work.rng
    browser = work.apps["browser"]
    host_name = "downloads.freeconvert.example"
    name = "FreePdfConverterSetup.exe"
    url = f"https://{host_name}/{name}"
    installer = File(f"{work.user_folder}\\Downloads\\{name}", 2_884_312)
    connect(work.tel, browser, moment - ms(1800), rng, service_ip(host_name), 443, host_name)
    file_event(
        work.tel, browser, moment, "FileCreated", installer, FileOriginUrl=url, FileOriginIP=service_ip(host_name)
    )
    device_event(
        work.tel,
        browser,
        moment + ms(rng.uniform(300, 900)),
        "AntivirusDetection",
        {
            "ThreatName": "PUA:Win32/Presenoker",
            "WasRemediated": True,
            "WasExecutingWhileDetected": False,
            "Action": "quarantine",
            "Category": "PUA",
        },
        FileName=installer.name,
        FolderPath=installer.path,
        SHA1=installer.sha1,
        SHA256=installer.sha256,
        MD5=installer.md5,
        FileOriginUrl=url,
    )
    antivirus = work.fleet.boots[work.host.name].antivirus
    file_event(work.tel, antivirus, moment + ms(rng.uniform(1200, 2500)), "FileDeleted", installer)


def simulate_everyday_activity(tel: Telemetry, fleet: Fleet) -> None:
    """Record the benign activity of every device for the whole time range."""
    for host in fleet.devices.values():
        run_background(tel, fleet, host)
        if host.name in fleet.owners:
            run_workdays(tel, fleet, host)
    run_qa_agent(tel, fleet)
    run_file_server(tel, fleet)
    run_app_server(tel, fleet)
    audit_wmi_child_process(tel, fleet)
    for name in ("wks-dev04", "wks-hr01"):
        install_cumulative_update(
            tel, fleet, fleet.devices[name], DAYS[1] + timedelta(hours=19, minutes=fleet.rng(name, "cu").uniform(0, 50))
        )
