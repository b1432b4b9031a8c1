"""Accounts, files, devices and processes of the sample incident, and the table rows they emit.

Every row caused by a process takes its InitiatingProcess* values from Process.initiating_fields.
A row in any table therefore carries the same values as the creation rows of that process's
children, so it can be attached to the right node of a process tree.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "schemas" / "advanced-hunting.json"

# Windows hands out ephemeral client ports from this range since Vista.
EPHEMERAL_PORTS = (49152, 65535)

# Every row's Timestamp lies in [DATA_START, DATA_END); anchor.json records the same range.
DATA_START = datetime(2026, 11, 30, tzinfo=timezone.utc)
DATA_END = datetime(2026, 12, 3, tzinfo=timezone.utc)


def load_table_columns(path: Path = SCHEMA_PATH) -> dict[str, list[str]]:
    """Return each table's column names in schema order, then the columns seen only in newer exports."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    extras = raw.get("_observed_extra_columns_in_real_exports", {})
    columns: dict[str, list[str]] = {}
    for table, pairs in raw.items():
        if table.startswith("_"):
            continue
        names = [name for name, _type in pairs]
        names += [name for name in extras.get(table, []) if name not in names]
        columns[table] = names
    return columns


def utc(text: str) -> datetime:
    """Parse a zone-less ISO time such as "2026-12-02T14:42:05.120" as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    """Format a time as Advanced Hunting exports it: UTC, milliseconds, trailing Z."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def ms(count: float) -> timedelta:
    return timedelta(milliseconds=round(count))


def made_up_digest(algorithm: str, label: str) -> str:
    """Return a stable hash-shaped value for a file that exists only in the sample."""
    return hashlib.new(algorithm, f"irreport-sample:{label}".encode()).hexdigest()


def ip_type(address: str) -> str:
    if address.startswith(("10.", "192.168.", "172.16.")):
        return "Private"
    if address.startswith("127."):
        return "Loopback"
    return "Public"


def compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Account:
    domain: str
    name: str
    sid: str


@dataclass(frozen=True)
class File:
    """A file on disk: an executable image, a script or a document.

    SHA256 and MD5 are derived from the SHA1 when one is given, so two names of the same content
    (a renamed file) share all three hashes. has_image is false for the kernel's "System" process.
    """

    path: str
    size: int
    company: str | None = None
    product: str | None = None
    description: str | None = None
    original_name: str | None = None
    sha1: str = ""
    sha256: str = ""
    md5: str = ""
    has_image: bool = True

    def __post_init__(self) -> None:
        if not self.has_image:
            return
        label = self.sha1 or self.path.lower()
        for algorithm in ("sha1", "sha256", "md5"):
            if not getattr(self, algorithm):
                object.__setattr__(self, algorithm, made_up_digest(algorithm, label))

    @property
    def name(self) -> str:
        return self.path.rsplit("\\", 1)[-1]

    def hash_fields(self) -> dict[str, object]:
        if not self.has_image:
            return {}
        return {"SHA1": self.sha1, "SHA256": self.sha256, "MD5": self.md5}


@dataclass
class Device:
    """One onboarded machine, with the id counters Defender keeps per device."""

    name: str
    ip: str
    public_ip: str
    os_platform: str
    os_build: int
    os_version_info: str
    machine_group: str
    device_type: str
    machine_sid: str
    join_type: str
    exposure: str
    vendor: str
    model: str
    mac: str
    boot: datetime
    owner: Account | None = None
    pids: set[int] = field(default_factory=set)
    unique_ids: set[int] = field(default_factory=set)
    report_count: int = 0

    @property
    def device_id(self) -> str:
        return made_up_digest("sha1", f"device:{self.name}")

    def local_account(self, name: str, rid: int) -> Account:
        return Account(self.name, name, f"{self.machine_sid}-{rid}")

    def new_pid(self, rng: random.Random, low: int = 1000, high: int = 20000) -> int:
        # Windows process ids are multiples of 4. Ids are never handed out twice here, so reuse
        # happens only where a caller passes an old id to spawn on purpose.
        while True:
            pid = rng.randrange(low, high, 4)
            if pid not in self.pids:
                self.pids.add(pid)
                return pid

    def new_unique_id(self, created: datetime) -> int:
        # Milliseconds since boot make the ids grow with creation time on a device. Collisions step
        # to the next free value.
        value = int((created - self.boot).total_seconds() * 1000) + 1
        while value in self.unique_ids:
            value += 1
        self.unique_ids.add(value)
        return value

    def new_report_id(self) -> int:
        self.report_count += 1
        return self.report_count


@dataclass(frozen=True)
class Session:
    """A Remote Desktop session, which marks the processes started inside it."""

    session_id: int
    remote_ip: str
    remote_device: str | None = None


@dataclass
class Process:
    device: Device
    image: File
    pid: int
    unique_id: int
    command_line: str
    created: datetime
    account: Account
    logon_id: int
    integrity: str
    parent: Process | None = None
    session: Session | None = None

    @property
    def token_elevation(self) -> str:
        if self.integrity in ("Medium", "Low"):
            return "TokenElevationTypeLimited"
        # The built-in administrator (RID 500) gets a full token without a UAC prompt.
        if self.integrity == "High" and not self.account.sid.endswith("-500"):
            return "TokenElevationTypeFull"
        return "TokenElevationTypeDefault"

    def initiating_fields(self) -> dict[str, object]:
        """Return the InitiatingProcess* values that every row caused by this process carries."""
        # SHA256, MD5 and integrity level appear only on the process's own creation row, which keeps
        # the sample small. SHA1 is enough to join a row to its file.
        fields: dict[str, object] = {
            "InitiatingProcessAccountDomain": self.account.domain,
            "InitiatingProcessAccountName": self.account.name,
            "InitiatingProcessAccountSid": self.account.sid,
            "InitiatingProcessLogonId": self.logon_id,
            "InitiatingProcessSHA1": self.image.sha1 or None,
            "InitiatingProcessFileName": self.image.name,
            "InitiatingProcessId": self.pid,
            "InitiatingProcessCommandLine": self.command_line or None,
            "InitiatingProcessCreationTime": iso(self.created),
            "InitiatingProcessUniqueId": self.unique_id,
        }
        if self.image.has_image:
            # Defender reports the initiating process's folder path in lower case.
            fields["InitiatingProcessFolderPath"] = self.image.path.lower()
        if self.parent is not None:
            fields["InitiatingProcessParentId"] = self.parent.pid
            fields["InitiatingProcessParentFileName"] = self.parent.image.name
            fields["InitiatingProcessParentCreationTime"] = iso(self.parent.created)
        if self.session is not None:
            fields["InitiatingProcessSessionId"] = self.session.session_id
            fields["IsInitiatingProcessRemoteSession"] = True
            fields["InitiatingProcessRemoteSessionIP"] = self.session.remote_ip
            fields["InitiatingProcessRemoteSessionDeviceName"] = self.session.remote_device
        return fields


class Telemetry:
    """Collects rows per table and checks every column name against the schema."""

    def __init__(self, columns: dict[str, list[str]] | None = None) -> None:
        self.columns = columns or load_table_columns()
        self._column_sets = {table: set(names) for table, names in self.columns.items()}
        self.rows: dict[str, list[dict[str, object]]] = defaultdict(list)
        # Every process that got a creation row, in the order the generator started them.
        self.processes: list[Process] = []

    def add(
        self,
        table: str,
        device: Device | None,
        moment: datetime | None,
        by: Process | None = None,
        **values: object,
    ) -> dict[str, object]:
        """Append a row. Values of None are left out, and so are initiating columns the table lacks."""
        allowed = self._column_sets[table]
        unknown = sorted(name for name in values if name not in allowed)
        if unknown:
            raise KeyError(f"table {table} has no column {', '.join(unknown)}")

        row: dict[str, object] = {}
        if moment is not None:
            row["Timestamp"] = iso(moment)
        if device is not None:
            row["DeviceId"] = device.device_id
            row["DeviceName"] = device.name
            if "ReportId" in allowed:
                row["ReportId"] = device.new_report_id()
        if by is not None:
            row.update((name, value) for name, value in by.initiating_fields().items() if name in allowed)
        row.update((name, value) for name, value in values.items() if value is not None)
        stored = {name: value for name, value in row.items() if value is not None}
        self.rows[table].append(stored)
        return stored

    def ordered_rows(self, table: str) -> list[dict[str, object]]:
        """Return the table's rows sorted by Timestamp, each with its keys in schema order."""
        order = self.columns[table]
        rows = sorted(self.rows[table], key=lambda row: str(row.get("Timestamp", "")))
        return [{name: row[name] for name in order if name in row} for row in rows]


def existing_process(
    device: Device,
    image: File,
    command_line: str,
    created: datetime,
    account: Account,
    *,
    parent: Process | None = None,
    pid: int | None = None,
    logon_id: int = 999,
    integrity: str = "System",
    rng: random.Random,
) -> Process:
    """Return a process that started before the data begins, so it never gets a creation row."""
    if pid is None:
        pid = device.new_pid(rng)
    else:
        device.pids.add(pid)
    return Process(
        device, image, pid, device.new_unique_id(created), command_line, created, account, logon_id, integrity, parent
    )


def spawn(
    tel: Telemetry,
    parent: Process,
    image: File,
    command_line: str,
    moment: datetime,
    rng: random.Random,
    *,
    account: Account | None = None,
    integrity: str | None = None,
    logon_id: int | None = None,
    session: Session | None | bool = True,
    pid: int | None = None,
) -> Process:
    """Start a child of parent and record its ProcessCreated row.

    The child inherits the parent's account, integrity, logon id and Remote Desktop session unless
    the caller overrides them. session=False starts it outside any session. pid forces a process id that the
    device has already used, to show Windows reusing ids.
    """
    device = parent.device
    if pid is None:
        pid = device.new_pid(rng)
    inherited_session = parent.session if session is True else (session or None)
    child = Process(
        device=device,
        image=image,
        pid=pid,
        unique_id=device.new_unique_id(moment),
        command_line=command_line,
        created=moment,
        account=account or parent.account,
        logon_id=logon_id if logon_id is not None else parent.logon_id,
        integrity=integrity or parent.integrity,
        parent=parent,
        session=inherited_session,
    )
    session_columns: dict[str, object] = {}
    if child.session is not None:
        session_columns = {"CreatedProcessSessionId": child.session.session_id, "IsProcessRemoteSession": True}
    tel.add(
        "DeviceProcessEvents",
        device,
        moment,
        by=parent,
        ActionType="ProcessCreated",
        FileName=image.name,
        FolderPath=image.path,
        **image.hash_fields(),
        FileSize=image.size,
        ProcessVersionInfoCompanyName=image.company,
        ProcessVersionInfoProductName=image.product,
        ProcessVersionInfoOriginalFileName=image.original_name,
        ProcessVersionInfoFileDescription=image.description,
        ProcessId=child.pid,
        ProcessCommandLine=command_line,
        ProcessIntegrityLevel=child.integrity,
        ProcessTokenElevation=child.token_elevation,
        ProcessCreationTime=iso(moment),
        AccountDomain=child.account.domain,
        AccountName=child.account.name,
        AccountSid=child.account.sid,
        LogonId=child.logon_id,
        ProcessUniqueId=child.unique_id,
        **session_columns,
    )
    tel.processes.append(child)
    return child


def connect(
    tel: Telemetry,
    process: Process,
    moment: datetime,
    rng: random.Random,
    remote_ip: str,
    remote_port: int,
    url: str | None = None,
    action: str = "ConnectionSuccess",
) -> None:
    """Record an outbound TCP connection made by process."""
    device = process.device
    tel.add(
        "DeviceNetworkEvents",
        device,
        moment,
        by=process,
        ActionType=action,
        RemoteIP=remote_ip,
        RemotePort=remote_port,
        RemoteUrl=url,
        LocalIP=device.ip,
        LocalPort=rng.randint(*EPHEMERAL_PORTS),
        Protocol="Tcp",
        LocalIPType="Private",
        RemoteIPType=ip_type(remote_ip),
    )


def accept(
    tel: Telemetry,
    listener: Process,
    moment: datetime,
    rng: random.Random,
    remote_ip: str,
    local_port: int,
) -> None:
    """Record an inbound TCP connection accepted by listener on local_port."""
    device = listener.device
    tel.add(
        "DeviceNetworkEvents",
        device,
        moment,
        by=listener,
        ActionType="InboundConnectionAccepted",
        RemoteIP=remote_ip,
        RemotePort=rng.randint(*EPHEMERAL_PORTS),
        LocalIP=device.ip,
        LocalPort=local_port,
        Protocol="Tcp",
        LocalIPType="Private",
        RemoteIPType=ip_type(remote_ip),
    )


def file_event(
    tel: Telemetry,
    process: Process,
    moment: datetime,
    action: str,
    target: File,
    **columns: object,
) -> None:
    """Record a FileCreated, FileModified, FileRenamed or FileDeleted row for target."""
    tel.add(
        "DeviceFileEvents",
        process.device,
        moment,
        by=process,
        ActionType=action,
        FileName=target.name,
        FolderPath=target.path,
        **target.hash_fields(),
        FileSize=target.size,
        **columns,
    )


def set_registry_value(
    tel: Telemetry,
    process: Process,
    moment: datetime,
    key: str,
    value_name: str,
    value_data: str,
    value_type: str = "String",
) -> None:
    tel.add(
        "DeviceRegistryEvents",
        process.device,
        moment,
        by=process,
        ActionType="RegistryValueSet",
        RegistryKey=key,
        RegistryValueType=value_type,
        RegistryValueName=value_name,
        RegistryValueData=value_data,
    )


def device_event(
    tel: Telemetry,
    process: Process,
    moment: datetime,
    action: str,
    additional: dict[str, object] | None = None,
    **columns: object,
) -> None:
    """Record a DeviceEvents row, with additional serialized into the AdditionalFields JSON string."""
    tel.add(
        "DeviceEvents",
        process.device,
        moment,
        by=process,
        ActionType=action,
        AdditionalFields=compact_json(additional) if additional is not None else None,
        **columns,
    )


def logon(
    tel: Telemetry,
    device: Device,
    moment: datetime,
    account: Account,
    logon_type: str,
    *,
    by: Process,
    action: str = "LogonSuccess",
    protocol: str | None = None,
    failure: str | None = None,
    remote_ip: str | None = None,
    remote_device: str | None = None,
    logon_id: int | None = None,
    is_local_admin: bool | None = None,
    rng: random.Random,
) -> None:
    """Record a DeviceLogonEvents row. by is the process that handled the logon, normally lsass.exe."""
    tel.add(
        "DeviceLogonEvents",
        device,
        moment,
        by=by,
        ActionType=action,
        LogonType=logon_type,
        AccountDomain=account.domain or None,
        AccountName=account.name,
        AccountSid=account.sid or None,
        Protocol=protocol,
        FailureReason=failure,
        IsLocalAdmin=is_local_admin,
        LogonId=logon_id,
        RemoteDeviceName=remote_device,
        RemoteIP=remote_ip,
        RemoteIPType=ip_type(remote_ip) if remote_ip else None,
        RemotePort=rng.randint(*EPHEMERAL_PORTS) if remote_ip else None,
    )
