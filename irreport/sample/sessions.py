"""Interactive and Remote Desktop logons, with the processes Windows starts for a new session."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from irreport.sample.fleet import EXPLORER, RDPCLIP, SYSTEM, USERINIT, WINLOGON, Fleet
from irreport.sample.rows import (
    Account,
    Device,
    Process,
    Session,
    Telemetry,
    logon,
    ms,
    spawn,
)


@dataclass
class Desktop:
    """A logged-on user's shell and the logon id that ties their processes to the logon row."""

    explorer: Process
    logon_id: int
    clipboard: Process | None = None


def new_logon_id(rng: random.Random) -> int:
    return rng.randrange(0x100000, 0x7FFFFFF)


def log_on_at_console(
    tel: Telemetry, fleet: Fleet, host: Device, account: Account, moment: datetime, rng: random.Random
) -> Desktop:
    """Record a domain user's console logon and the shell that Windows starts for it."""
    boot = fleet.boots[host.name]
    logon_id = new_logon_id(rng)
    logon(
        tel,
        host,
        moment,
        account,
        "Interactive",
        by=boot.lsass,
        protocol="Kerberos",
        logon_id=logon_id,
        is_local_admin=False,
        rng=rng,
    )
    userinit = spawn(
        tel,
        boot.winlogon,
        USERINIT,
        "C:\\Windows\\system32\\userinit.exe",
        moment + ms(rng.uniform(800, 1600)),
        rng,
        account=account,
        integrity="Medium",
        logon_id=logon_id,
    )
    explorer = spawn(
        tel, userinit, EXPLORER, "C:\\Windows\\Explorer.EXE", userinit.created + ms(rng.uniform(200, 600)), rng
    )
    return Desktop(explorer, logon_id)


def open_remote_session(
    tel: Telemetry,
    fleet: Fleet,
    host: Device,
    account: Account,
    moment: datetime,
    rng: random.Random,
    *,
    remote_ip: str,
    session_id: int,
    remote_device: str | None = None,
    protocol: str = "Kerberos",
    integrity: str = "Medium",
) -> Desktop:
    """Record a successful RemoteInteractive logon at moment and the session's winlogon, shell and rdpclip.

    The caller records the inbound connection to port 3389 and any failed attempts before it.
    """
    boot = fleet.boots[host.name]
    logon_id = new_logon_id(rng)
    logon(
        tel,
        host,
        moment,
        account,
        "RemoteInteractive",
        by=boot.lsass,
        protocol=protocol,
        remote_ip=remote_ip,
        remote_device=remote_device,
        logon_id=logon_id,
        is_local_admin=integrity == "High" or None,
        rng=rng,
    )
    session = Session(session_id, remote_ip, remote_device)
    winlogon = spawn(
        tel,
        boot.smss,
        WINLOGON,
        "winlogon.exe",
        moment - ms(rng.uniform(1500, 3000)),
        rng,
        account=SYSTEM,
        integrity="System",
        logon_id=999,
        session=session,
    )
    userinit = spawn(
        tel,
        winlogon,
        USERINIT,
        "C:\\Windows\\system32\\userinit.exe",
        moment + ms(rng.uniform(900, 1700)),
        rng,
        account=account,
        integrity=integrity,
        logon_id=logon_id,
    )
    explorer = spawn(
        tel, userinit, EXPLORER, "C:\\Windows\\Explorer.EXE", userinit.created + ms(rng.uniform(250, 700)), rng
    )
    clipboard = spawn(
        tel,
        boot.remote_desktop,
        RDPCLIP,
        "rdpclip",
        explorer.created + ms(rng.uniform(400, 1200)),
        rng,
        account=account,
        integrity=integrity,
        logon_id=logon_id,
        session=session,
    )
    return Desktop(explorer, logon_id, clipboard)
