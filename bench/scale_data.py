"""Synthetic Defender exports for the scale benchmark: the bundled incident amid benign noise.

A data set is a folder with two subfolders that `irreport build --source` reads as one export:

- `incident/` contains a copy of the bundled sample incident (`<Table>.jsonl`), so the dossier
  still has an attack to find;
- `noise/` contains benign events generated in DuckDB SQL, one `<Table>.jsonl` per table, until
  each busy device has the requested number of events.

The noise keeps the structure irreport depends on: every event's initiating process is a
process that `DeviceProcessEvents` created earlier (same id and creation time), process ids
are reused in steps of 4 as Windows does, and each new process's parent is a recent process
or one of a few long-lived services. The output depends only on the arguments and SEED.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from irreport.sources.local import sample_dir

SEED = 20261204
INCIDENT_DEVICE = "testmachine3"
INCIDENT_DEVICE_ID = "f756a61c32701b7c0ea7893f0d1caa810767fecd"
START = datetime(2026, 11, 30, tzinfo=timezone.utc)
END = datetime(2026, 12, 3, tzinfo=timezone.utc)

# Share of each table in a busy Windows server's events. An estimate shaped like the
# sample's own mix with the file and registry activity of a server added, not a measurement
# from a tenant.
TABLE_SHARES = {
    "DeviceNetworkEvents": 0.30,
    "DeviceFileEvents": 0.22,
    "DeviceRegistryEvents": 0.15,
    "DeviceProcessEvents": 0.12,
    "DeviceImageLoadEvents": 0.10,
    "DeviceEvents": 0.07,
    "DeviceLogonEvents": 0.04,
}

# (ActionType, share within its table). Same caveat as TABLE_SHARES.
ACTION_SHARES = {
    "DeviceNetworkEvents": [("ConnectionSuccess", 0.55), ("InboundConnectionAccepted", 0.25),
                            ("ConnectionFailed", 0.10), ("ConnectionRequest", 0.05),
                            ("ListeningConnectionCreated", 0.05)],
    "DeviceFileEvents": [("FileCreated", 0.45), ("FileModified", 0.40), ("FileDeleted", 0.10),
                         ("FileRenamed", 0.05)],
    "DeviceRegistryEvents": [("RegistryValueSet", 0.70), ("RegistryKeyCreated", 0.15),
                             ("RegistryValueDeleted", 0.10), ("RegistryKeyDeleted", 0.05)],
    "DeviceImageLoadEvents": [("ImageLoaded", 1.0)],
    "DeviceEvents": [("DnsQueryResponse", 0.40), ("ProcessCreatedUsingWmiQuery", 0.15),
                     ("PowerShellCommand", 0.15), ("CreateRemoteThreadApiCall", 0.10),
                     ("AntivirusScanCompleted", 0.05), ("NamedPipeEvent", 0.15)],
    "DeviceLogonEvents": [("LogonSuccess", 0.70), ("LogonFailed", 0.25), ("LogonAttempted", 0.05)],
}

# (file name, folder, command line, account) of the programs a busy server runs.
IMAGES = [
    ("svchost.exe", "C:\\Windows\\System32", "C:\\Windows\\System32\\svchost.exe -k netsvcs -p", "system"),
    ("conhost.exe", "C:\\Windows\\System32", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", "svc_backup"),
    ("cmd.exe", "C:\\Windows\\System32", "C:\\Windows\\system32\\cmd.exe /c C:\\Ops\\rotate-logs.cmd", "svc_backup"),
    ("w3wp.exe", "C:\\Windows\\System32\\inetsrv", "c:\\windows\\system32\\inetsrv\\w3wp.exe -ap \"OrdersPool\"", "svc_web"),
    ("sqlservr.exe", "C:\\Program Files\\Microsoft SQL Server\\MSSQL16\\Binn", "\"sqlservr.exe\" -sMSSQLSERVER", "svc_sql"),
    ("backup-agent.exe", "C:\\Program Files\\Backup", "\"C:\\Program Files\\Backup\\backup-agent.exe\" --incremental", "svc_backup"),
    ("MsMpEng.exe", "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.25100.9-0", "MsMpEng.exe", "system"),
    ("taskhostw.exe", "C:\\Windows\\System32", "taskhostw.exe USER", "svc_backup"),
    ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0", "powershell.exe -NoProfile -File C:\\Ops\\health-check.ps1", "svc_ops"),
    ("robocopy.exe", "C:\\Windows\\System32", "robocopy D:\\Shares E:\\Mirror /MIR /R:1", "svc_backup"),
    ("java.exe", "C:\\Program Files\\Java\\jre\\bin", "\"java.exe\" -jar C:\\Apps\\indexer.jar", "svc_index"),
    ("WmiPrvSE.exe", "C:\\Windows\\System32\\wbem", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -Embedding", "network service"),
]
# Shares of IMAGES, in the same order.
IMAGE_WEIGHTS = [18, 14, 8, 12, 6, 8, 4, 6, 3, 7, 8, 6]
SERVICE_PROCESSES = 8
CLIENTS = 400


@dataclass
class DataSet:
    folder: Path
    devices: list[str]
    events_per_device: int
    rows_per_table: dict[str, int]


def device_names(count: int) -> list[str]:
    """Return the busy devices: the incident's device first, then made-up servers."""
    return [INCIDENT_DEVICE] + [f"srv-busy{index:02d}" for index in range(1, count)]


def incident_events() -> dict[str, int]:
    """Return the bundled incident's event rows per table on the incident device."""
    con = duckdb.connect()
    counts = {}
    for table in TABLE_SHARES:
        path = sample_dir() / f"{table}.jsonl"
        if path.exists():
            counts[table] = con.execute(
                "SELECT count(*) FROM read_json_auto(?) WHERE DeviceName = ?",
                [str(path), INCIDENT_DEVICE]).fetchone()[0]
    return counts


def generate(folder: Path, events_per_device: int, devices: int = 1, seed: int = SEED) -> DataSet:
    """Write the incident and enough noise that each busy device has *events_per_device* events."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "incident").mkdir(parents=True)
    (folder / "noise").mkdir()
    for path in sorted(sample_dir().glob("*.jsonl")):
        shutil.copyfile(path, folder / "incident" / path.name)

    already = sum(incident_events().values())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    _create_lookups(con)
    totals: dict[str, int] = {}
    for index, device in enumerate(device_names(devices)):
        wanted = events_per_device - (already if device == INCIDENT_DEVICE else 0)
        counts = _table_counts(max(wanted, 0))
        _device_noise(con, device, index, counts, seed)
        for table, count in counts.items():
            totals[table] = totals.get(table, 0) + count
    for table in TABLE_SHARES:
        con.execute(f"COPY (SELECT * EXCLUDE (ord) FROM noise_{table} ORDER BY ord) "
                    f"TO '{folder / 'noise' / (table + '.jsonl')}' (FORMAT JSON)")
    return DataSet(folder, device_names(devices), events_per_device, totals)


def _table_counts(events: int) -> dict[str, int]:
    counts = {table: int(events * share) for table, share in TABLE_SHARES.items()}
    # Rounding leftovers go to the network table so the total is exact.
    counts["DeviceNetworkEvents"] += events - sum(counts.values())
    return counts


def _create_lookups(con) -> None:
    image_rows = [(-1, 0, "services.exe", "C:\\Windows\\System32",
                   "C:\\Windows\\system32\\services.exe", "system")]
    position = 0
    for (name, folder, command, account), weight in zip(IMAGES, IMAGE_WEIGHTS):
        image_rows.append((position, position + weight, name, folder, command, account))
        position += weight
    con.execute("CREATE TABLE images (lo INT, hi INT, name VARCHAR, folder VARCHAR, "
                "command VARCHAR, account VARCHAR)")
    con.executemany("INSERT INTO images VALUES (?, ?, ?, ?, ?, ?)", image_rows)
    con.execute(f"CREATE MACRO image_slot(x) AS CAST(x % {position} AS INT)")
    for table in TABLE_SHARES:
        columns = ", ".join(f"{column} {kind}" for column, kind in _COLUMNS[table])
        con.execute(f"CREATE TABLE noise_{table} (ord BIGINT, {columns})")
    con.execute("CREATE TABLE actions (tbl VARCHAR, lo DOUBLE, hi DOUBLE, action VARCHAR)")
    for table, shares in ACTION_SHARES.items():
        low = 0.0
        for action, share in shares:
            con.execute("INSERT INTO actions VALUES (?, ?, ?, ?)", [table, low, low + share, action])
            low += share


def _device_noise(con, device: str, index: int, counts: dict[str, int], seed: int) -> None:
    """Insert one device's noise: its processes first, then the events they cause."""
    device_id = INCIDENT_DEVICE_ID if device == INCIDENT_DEVICE else f"{index:02d}" + "b" * 38
    span_us = int((END - START).total_seconds() * 1_000_000)
    processes = max(counts["DeviceProcessEvents"], 1)
    params = {"device": device, "device_id": device_id, "seed": seed + index, "start": START,
              "span": span_us, "n": processes, "services": SERVICE_PROCESSES}
    _execute(con, _PROCESSES_SQL, params)
    _execute(con, f"INSERT INTO noise_DeviceProcessEvents BY NAME {_PROCESS_EVENTS_SQL}",
             {**params, "ordbase": index * 10**9})
    for table, count in counts.items():
        if table == "DeviceProcessEvents" or count == 0:
            continue
        _execute(con, f"INSERT INTO noise_{table} BY NAME {_event_sql(table)}",
                 {**params, "count": count, "table": table,
                  "ordbase": index * 10**9 + (1 + list(TABLE_SHARES).index(table)) * 10**8})


def _execute(con, sql: str, params: dict) -> None:
    # DuckDB rejects named parameters that the statement does not use.
    used = set(re.findall(r"\$(\w+)", sql))
    con.execute(sql, {name: value for name, value in params.items() if name in used})


# Each new process is row i. Rows -services to -1 are long-lived service processes started
# three days before the data, and row -services-1 is services.exe, their parent. A parent is
# a service (three in ten) or one of the 2,000 processes before it, so parents exist before
# their children. Process ids step through 16,000 values by a stride coprime with 16,000, so an
# id comes back only after the other 15,999. irreport takes two creations of one id within a
# second as one process, and here no id is reused that soon.
_PROCESSES_SQL = """
CREATE OR REPLACE TABLE procs AS
WITH numbered AS (
    SELECT i, hash(i, $seed) AS h FROM range(-$services - 1, $n) t(i)
)
SELECT i,
    CASE WHEN i < 0 THEN 400 + 4 * (i + $services)
         ELSE 4 * (1 + CAST((i * 7919) % 16000 AS BIGINT)) END AS pid,
    CASE WHEN i < 0 THEN $start - INTERVAL 3 DAY + to_microseconds(1000 * (i + $services + 1) + 1)
         ELSE $start + to_microseconds(CAST(i * $span // $n AS BIGINT) + CAST(h % 997 AS BIGINT)) END
        AS created,
    CASE WHEN i = -$services - 1 THEN -1 WHEN i < 0 THEN 0 ELSE image_slot(h >> 24) END AS slot,
    CASE WHEN i = -$services - 1 THEN NULL
         WHEN i < 0 THEN -$services - 1
         WHEN i < 50 OR (h >> 40) % 10 < 3 THEN -1 - CAST((h >> 44) % $services AS BIGINT)
         ELSE i - 1 - CAST((h >> 48) % least(i, 2000) AS BIGINT) END AS parent,
    CAST(h % 1000000 AS BIGINT) AS job
FROM numbered
"""

_PROCESS_VIEW = """
    SELECT p.i, p.pid, p.created, p.parent, p.job, im.name,
        im.folder || '\\' || im.name AS path, im.account,
        CASE WHEN p.i < 0 THEN im.command ELSE im.command || ' --job ' || p.job END AS command,
        lower(sha1(im.name)) AS sha1
    FROM procs p JOIN images im ON p.slot >= im.lo AND p.slot < im.hi
"""

_PROCESS_EVENTS_SQL = f"""
WITH v AS ({_PROCESS_VIEW})
SELECT $ordbase + c.i AS ord,
    strftime(c.created, '%Y-%m-%dT%H:%M:%S.%gZ') AS Timestamp, $device_id AS DeviceId,
    $device AS DeviceName, 'ProcessCreated' AS ActionType, c.name AS FileName, c.path AS FolderPath,
    c.sha1 AS SHA1, c.pid AS ProcessId, c.command AS ProcessCommandLine,
    strftime(c.created, '%Y-%m-%dT%H:%M:%S.%gZ') AS ProcessCreationTime, 'corp' AS AccountDomain,
    c.account AS AccountName, 'corp' AS InitiatingProcessAccountDomain,
    p.account AS InitiatingProcessAccountName, p.sha1 AS InitiatingProcessSHA1,
    p.name AS InitiatingProcessFileName, p.pid AS InitiatingProcessId,
    p.command AS InitiatingProcessCommandLine,
    strftime(p.created, '%Y-%m-%dT%H:%M:%S.%gZ') AS InitiatingProcessCreationTime,
    lower(p.path) AS InitiatingProcessFolderPath, g.pid AS InitiatingProcessParentId,
    g.name AS InitiatingProcessParentFileName,
    strftime(g.created, '%Y-%m-%dT%H:%M:%S.%gZ') AS InitiatingProcessParentCreationTime,
    c.i + 1 AS ReportId
FROM v c JOIN v p ON p.i = c.parent LEFT JOIN v g ON g.i = p.parent
WHERE c.i >= 0
"""


def _event_sql(table: str) -> str:
    """Return SQL for *table*'s noise: event k happens at k/count of the span, by a process
    created shortly before it."""
    specific = ",\n    ".join(f"{expr} AS {column}" for column, expr in _SPECIFIC[table])
    return f"""
WITH v AS ({_PROCESS_VIEW}),
events AS (
    SELECT k, hash(k, $seed, $table) AS h,
        $start + to_microseconds(CAST(k * $span // $count AS BIGINT)) AS moment
    FROM range($count) t(k)
),
placed AS (
    SELECT e.*, greatest(0, CAST(k * $n // $count AS BIGINT) - 1
        - CAST((h >> 20) % 200 AS BIGINT)) AS actor_index,
        CAST((h >> 32) % 1000 AS DOUBLE) / 1000 AS pick
    FROM events e
)
SELECT $ordbase + k AS ord,
    strftime(greatest(e.moment, a.created), '%Y-%m-%dT%H:%M:%S.%gZ') AS Timestamp,
    $device_id AS DeviceId, $device AS DeviceName, act.action AS ActionType,
    {specific},
    'corp' AS InitiatingProcessAccountDomain, a.account AS InitiatingProcessAccountName,
    a.sha1 AS InitiatingProcessSHA1, a.name AS InitiatingProcessFileName,
    a.pid AS InitiatingProcessId, a.command AS InitiatingProcessCommandLine,
    strftime(a.created, '%Y-%m-%dT%H:%M:%S.%gZ') AS InitiatingProcessCreationTime,
    lower(a.path) AS InitiatingProcessFolderPath, p.pid AS InitiatingProcessParentId,
    p.name AS InitiatingProcessParentFileName,
    strftime(p.created, '%Y-%m-%dT%H:%M:%S.%gZ') AS InitiatingProcessParentCreationTime,
    k + 1 AS ReportId
FROM placed e
JOIN actions act ON act.tbl = $table AND e.pick >= act.lo AND e.pick < act.hi
JOIN v a ON a.i = least(e.actor_index, $n - 1)
LEFT JOIN v p ON p.i = a.parent
"""


_CLIENT = f"'10.1.' || CAST((h >> 8) % 2 AS INT) || '.' || CAST(10 + (h >> 12) % {CLIENTS // 2} AS INT)"
_SPECIFIC = {
    "DeviceNetworkEvents": [
        ("RemoteIP", f"CASE WHEN act.action = 'InboundConnectionAccepted' THEN {_CLIENT} "
                     "WHEN (h >> 40) % 10 < 7 THEN '10.0.' || CAST((h >> 44) % 8 AS INT) || '.' "
                     "|| CAST((h >> 48) % 250 AS INT) "
                     "ELSE '52.' || CAST((h >> 44) % 200 AS INT) || '.' || CAST((h >> 52) % 250 AS INT) END"),
        ("RemotePort", "CASE WHEN act.action = 'InboundConnectionAccepted' THEN 443 "
                       "ELSE [443, 443, 443, 80, 1433, 53, 8080, 9200][1 + CAST((h >> 16) % 8 AS INT)] END"),
        ("RemoteUrl", "CASE WHEN (h >> 40) % 10 >= 7 THEN 'updates' || CAST((h >> 44) % 20 AS INT) || '.example.net' ELSE '' END"),
        ("LocalIP", "'10.0.4.13'"),
        ("LocalPort", "CASE WHEN act.action = 'InboundConnectionAccepted' THEN 443 ELSE 49152 + CAST((h >> 24) % 16000 AS INT) END"),
        ("Protocol", "'Tcp'"),
        ("LocalIPType", "'Private'"),
        ("RemoteIPType", "CASE WHEN act.action = 'InboundConnectionAccepted' OR (h >> 40) % 10 < 7 THEN 'Private' ELSE 'Public' END"),
    ],
    "DeviceFileEvents": [
        ("FileName", "'report-' || CAST((h >> 8) % 50000 AS BIGINT) || ['.log', '.tmp', '.xml', '.dat', '.bak'][1 + CAST((h >> 30) % 5 AS INT)]"),
        ("FolderPath", "['D:\\Shares\\Finance\\', 'C:\\Windows\\Temp\\', 'E:\\Mirror\\', 'C:\\ProgramData\\Backup\\', 'C:\\inetpub\\logs\\'][1 + CAST((h >> 34) % 5 AS INT)] "
                       "|| 'report-' || CAST((h >> 8) % 50000 AS BIGINT) || '.log'"),
        ("SHA1", "lower(sha1(CAST(h % 100000 AS VARCHAR)))"),
        ("FileSize", "CAST((h >> 12) % 5000000 AS BIGINT)"),
        ("PreviousFileName", "CASE WHEN act.action = 'FileRenamed' THEN 'report.tmp' ELSE '' END"),
    ],
    "DeviceRegistryEvents": [
        ("RegistryKey", "'HKEY_LOCAL_MACHINE\\SOFTWARE\\Apps\\Indexer\\State' || CAST((h >> 8) % 40 AS INT)"),
        ("RegistryValueType", "'Dword'"),
        ("RegistryValueName", "'Checkpoint' || CAST((h >> 16) % 10 AS INT)"),
        ("RegistryValueData", "CAST((h >> 20) % 100000000 AS VARCHAR)"),
    ],
    "DeviceImageLoadEvents": [
        ("FileName", "['ntdll.dll', 'kernel32.dll', 'clr.dll', 'sqlmin.dll', 'webengine4.dll'][1 + CAST((h >> 8) % 5 AS INT)]"),
        ("FolderPath", "'C:\\Windows\\System32\\' || ['ntdll.dll', 'kernel32.dll', 'clr.dll', 'sqlmin.dll', 'webengine4.dll'][1 + CAST((h >> 8) % 5 AS INT)]"),
        ("SHA1", "lower(sha1(CAST((h >> 8) % 5 AS VARCHAR)))"),
    ],
    "DeviceEvents": [
        ("FileName", "''"),
        ("RemoteUrl", "CASE WHEN act.action = 'DnsQueryResponse' THEN 'updates' || CAST((h >> 44) % 20 AS INT) || '.example.net' ELSE '' END"),
        ("AdditionalFields", "CASE WHEN act.action = 'PowerShellCommand' THEN '{\"Command\":\"Get-Service\"}' "
                             "WHEN act.action = 'AntivirusScanCompleted' THEN '{\"ScanTypeIndex\":\"Quick\"}' ELSE '{}' END"),
    ],
    "DeviceLogonEvents": [
        ("LogonType", "CASE WHEN (h >> 8) % 10 < 8 THEN 'Network' ELSE 'Batch' END"),
        ("AccountDomain", "'corp'"),
        ("AccountName", "'user' || CAST((h >> 12) % 300 AS INT)"),
        ("RemoteIP", _CLIENT),
        ("RemoteIPType", "'Private'"),
        ("Protocol", "'Kerberos'"),
        ("IsLocalAdmin", "false"),
        ("FailureReason", "CASE WHEN act.action = 'LogonFailed' THEN 'InvalidUserNameOrPassword' ELSE '' END"),
    ],
}

_COMMON = [("Timestamp", "VARCHAR"), ("DeviceId", "VARCHAR"), ("DeviceName", "VARCHAR"),
           ("ActionType", "VARCHAR")]
_INITIATING = [("InitiatingProcessAccountDomain", "VARCHAR"), ("InitiatingProcessAccountName", "VARCHAR"),
               ("InitiatingProcessSHA1", "VARCHAR"), ("InitiatingProcessFileName", "VARCHAR"),
               ("InitiatingProcessId", "BIGINT"), ("InitiatingProcessCommandLine", "VARCHAR"),
               ("InitiatingProcessCreationTime", "VARCHAR"), ("InitiatingProcessFolderPath", "VARCHAR"),
               ("InitiatingProcessParentId", "BIGINT"), ("InitiatingProcessParentFileName", "VARCHAR"),
               ("InitiatingProcessParentCreationTime", "VARCHAR"), ("ReportId", "BIGINT")]
_TYPES = {"RemotePort": "INT", "LocalPort": "INT", "FileSize": "BIGINT", "IsLocalAdmin": "BOOLEAN"}
_COLUMNS = {
    table: _COMMON + [(column, _TYPES.get(column, "VARCHAR")) for column, _ in specific] + _INITIATING
    for table, specific in _SPECIFIC.items()
}
_COLUMNS["DeviceProcessEvents"] = _COMMON + [
    ("FileName", "VARCHAR"), ("FolderPath", "VARCHAR"), ("SHA1", "VARCHAR"), ("ProcessId", "BIGINT"),
    ("ProcessCommandLine", "VARCHAR"), ("ProcessCreationTime", "VARCHAR"), ("AccountDomain", "VARCHAR"),
    ("AccountName", "VARCHAR")] + _INITIATING


def generate_processes(folder: Path, rows: int, seed: int = SEED) -> Path:
    """Write *rows* DeviceProcessEvents rows of the incident device, and nothing else."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    _create_lookups(con)
    _device_noise(con, INCIDENT_DEVICE, 0, {"DeviceProcessEvents": rows}, seed)
    path = folder / "DeviceProcessEvents.jsonl"
    con.execute(f"COPY (SELECT * EXCLUDE (ord) FROM noise_DeviceProcessEvents ORDER BY ord) "
                f"TO '{path}' (FORMAT JSON)")
    return path
