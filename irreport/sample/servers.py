"""The two servers and the QA test runner: the order portal on srv-app02, its hourly invoice export,
the nightly backup of srv-files01, the administrator's Remote Desktop visits, and the smoke tests
that testmachine3 runs against the portal.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from irreport.sample.background import (
    DAYS,
    INTERNAL_HOSTS,
    console_tool,
    install_cumulative_update,
    service_ip,
    ticks,
)
from irreport.sample.fleet import (
    IT_ADMIN,
    SVC_APP,
    SVC_BACKUP,
    SVC_QA,
    WBADMIN,
    Fleet,
    windows_tool,
)
from irreport.sample.rows import (
    DATA_END,
    DATA_START,
    Device,
    File,
    Telemetry,
    accept,
    connect,
    file_event,
    logon,
    ms,
    spawn,
)
from irreport.sample.sessions import new_logon_id, open_remote_session

SQL_SERVER_IP = "10.0.4.25"
BACKUP_TARGET_IP = "10.0.4.40"
ADMIN_JUMP_HOST = ("10.0.4.50", "adm-jump01")
MMC = windows_tool("mmc.exe", 1885696, "Microsoft Management Console")
QA_AGENT = File(
    "C:\\QA\\agent\\qa-agent.exe", 3276800, "Corp Example QA", "QA Agent", "Scheduled test runner", "qa-agent.exe"
)
UI_TESTS = File(
    "C:\\QA\\build\\OrderPortal.UiTests.exe", 1843200, "Corp Example", "Order Portal", "Order Portal UI tests"
)
INVOICE_SYNC = File(
    "C:\\Apps\\InvoiceSync\\InvoiceSync.exe", 2457600, "Corp Example", "Invoice Sync", "Invoice export job"
)


def serve_web_request(tel: Telemetry, fleet: Fleet, client: Device, moment: datetime, rng: random.Random) -> None:
    """Record on srv-app02 the HTTPS request a client made to the order portal, and its database query."""
    server = fleet.devices["srv-app02"]
    boot = fleet.boots[server.name]
    # IIS receives connections through the http.sys kernel driver, so the sample attributes them to System.
    accept(tel, boot.kernel, moment + ms(rng.uniform(1, 8)), rng, client.ip, 443)
    if rng.random() < 0.5:
        connect(tel, boot.app_pool, moment + ms(rng.uniform(20, 120)), rng, SQL_SERVER_IP, 1433)


def run_qa_agent(tel: Telemetry, fleet: Fleet) -> None:
    """Run the UI smoke tests of testmachine3 every 12 minutes against the order portal on srv-app02."""
    host = fleet.devices["testmachine3"]
    boot = fleet.boots[host.name]
    rng = fleet.rng(host.name, "qa-agent")
    for moment in ticks(DATA_START, DATA_END, 11.5, 12.5, rng):
        logon_id = new_logon_id(rng)
        logon(
            tel,
            host,
            moment,
            SVC_QA,
            "Batch",
            by=boot.lsass,
            protocol="Kerberos",
            logon_id=logon_id,
            is_local_admin=False,
            rng=rng,
        )
        agent = spawn(
            tel,
            boot.scheduler,
            QA_AGENT,
            f'"{QA_AGENT.path}" --suite smoke --target https://orders.corp.example.com',
            moment + ms(rng.uniform(80, 300)),
            rng,
            account=SVC_QA,
            integrity="Medium",
            logon_id=logon_id,
        )
        tests = spawn(
            tel,
            agent,
            UI_TESTS,
            f'"{UI_TESTS.path}" --headless --filter Category=Smoke',
            agent.created + ms(rng.uniform(400, 1200)),
            rng,
        )
        request_at = tests.created + ms(rng.uniform(1500, 4000))
        connect(tel, tests, request_at, rng, INTERNAL_HOSTS["orders.corp.example.com"], 443, "orders.corp.example.com")
        serve_web_request(tel, fleet, host, request_at, rng)
        stamp = f"{moment:%Y%m%d-%H%M}"
        file_event(
            tel,
            agent,
            request_at + ms(rng.uniform(20_000, 60_000)),
            "FileCreated",
            File(f"C:\\QA\\results\\smoke-{stamp}.xml", rng.randint(8_000, 30_000)),
        )


def run_file_server(tel: Telemetry, fleet: Fleet) -> None:
    """Back srv-files01 up every night and let the administrator sign in once.

    The workstations' use of the shares is recorded by use_file_share.
    """
    host = fleet.devices["srv-files01"]
    boot = fleet.boots[host.name]
    rng = fleet.rng(host.name, "backup")
    for day in DAYS:
        moment = day + timedelta(hours=1, minutes=rng.uniform(0, 4))
        logon_id = new_logon_id(rng)
        logon(
            tel,
            host,
            moment,
            SVC_BACKUP,
            "Batch",
            by=boot.lsass,
            protocol="Kerberos",
            logon_id=logon_id,
            is_local_admin=True,
            rng=rng,
        )
        backup = console_tool(
            tel,
            boot.scheduler,
            WBADMIN,
            f"{WBADMIN.path} start backup -backupTarget:\\\\{BACKUP_TARGET_IP}\\backups\\srv-files01"
            " -include:D: -vssCopy -quiet",
            moment + ms(rng.uniform(100, 400)),
            rng,
            account=SVC_BACKUP,
            integrity="High",
            logon_id=logon_id,
        )
        connect(tel, boot.kernel, backup.created + ms(rng.uniform(800, 2000)), rng, BACKUP_TARGET_IP, 445)
        file_event(
            tel,
            backup,
            backup.created + timedelta(minutes=rng.uniform(30, 70)),
            "FileCreated",
            File(
                "C:\\Windows\\Logs\\WindowsServerBackup\\Backup-"
                + f"{day:%d-%m-%Y}_01-0{rng.randint(1, 4)}-{rng.randint(10, 59)}.log",
                2_314,
            ),
        )
    administer_remotely(tel, fleet, host, DAYS[1] + timedelta(hours=10, minutes=7), session_id=2)


def run_app_server(tel: Telemetry, fleet: Fleet) -> None:
    """Export invoices from srv-app02 every hour, and let the administrator sign in and patch it.

    The server's web traffic is recorded by serve_web_request.
    """
    host = fleet.devices["srv-app02"]
    boot = fleet.boots[host.name]
    rng = fleet.rng(host.name, "invoice-sync")
    for moment in ticks(DATA_START, DATA_END, 59.5, 60.5, rng):
        logon_id = new_logon_id(rng)
        logon(
            tel,
            host,
            moment,
            SVC_APP,
            "Batch",
            by=boot.lsass,
            protocol="Kerberos",
            logon_id=logon_id,
            is_local_admin=False,
            rng=rng,
        )
        job = console_tool(
            tel,
            boot.scheduler,
            INVOICE_SYNC,
            f'"{INVOICE_SYNC.path}" --run --since last',
            moment + ms(rng.uniform(100, 400)),
            rng,
            account=SVC_APP,
            integrity="Medium",
            logon_id=logon_id,
        )
        connect(tel, job, job.created + ms(rng.uniform(300, 900)), rng, SQL_SERVER_IP, 1433)
        export = File(f"C:\\Apps\\InvoiceSync\\out\\invoices-{moment:%Y%m%d-%H}.csv", rng.randint(4_000, 90_000))
        file_event(tel, job, job.created + ms(rng.uniform(2000, 9000)), "FileCreated", export)
        connect(
            tel,
            job,
            job.created + ms(rng.uniform(9000, 15_000)),
            rng,
            service_ip("sftp.partner.example.com"),
            22,
            "sftp.partner.example.com",
        )
    administer_remotely(tel, fleet, host, DAYS[0] + timedelta(hours=14, minutes=31), session_id=2)
    install_cumulative_update(tel, fleet, host, DAYS[1] + timedelta(hours=22, minutes=40))


def administer_remotely(tel: Telemetry, fleet: Fleet, host: Device, moment: datetime, session_id: int) -> None:
    """Let the IT administrator check a server's event log over Remote Desktop from the jump host."""
    rng = fleet.rng(host.name, "admin")
    boot = fleet.boots[host.name]
    jump_ip, jump_name = ADMIN_JUMP_HOST
    accept(tel, boot.remote_desktop, moment - ms(rng.uniform(4000, 9000)), rng, jump_ip, 3389)
    desktop = open_remote_session(
        tel, fleet, host, IT_ADMIN, moment, rng, remote_ip=jump_ip, remote_device=jump_name, session_id=session_id
    )
    spawn(
        tel,
        desktop.explorer,
        MMC,
        f'"{MMC.path}" "C:\\Windows\\system32\\eventvwr.msc" /s',
        moment + timedelta(seconds=rng.uniform(30, 90)),
        rng,
    )
