"""A folder of exported tables whose telemetry is written to break a renderer.

Every value an attacker controls on a device (file names, command lines, account names, URLs)
holds something a browser, weasyprint, matplotlib or a spreadsheet could act on. The URLs point
at a loopback listener that the test starts, so any fetch while rendering is seen.
"""

from __future__ import annotations

import json
from pathlib import Path

DEVICE = "hostile-device"
DEVICE_ID = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
LONG_COMMAND_CHARS = 2 * 1024 * 1024
RLO = "\u202e"
# Shown as "invoiceexe.txt" by a bidi-aware renderer, yet it runs as an .exe.
DISGUISED_NAME = f"invoice{RLO}txt.exe"
MATH_NAME = r"$\frac{a}{$.exe"
ALERT_TITLE = "Disguised <b>executable</b> ran"


def script_payload() -> str:
    """Return markup that changes the page if a browser ever runs it."""
    return ("<script>document.title='pwned';"
            "document.body.insertAdjacentHTML('beforeend','<p id=pwned>pwned</p>')</script>")


def hostile_values(port: int) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    return {
        "script": script_payload(),
        "img": f"<img src={base}/img onerror=\"document.title='pwned'\">",
        "css": f"</style><style>body{{background:url({base}/css)}}</style>",
        "attribute": f"x\" style=\"background:url({base}/attr)\" data-x=\"",
        "import": f"@import url({base}/import.css);",
        "formula": f'=HYPERLINK("{base}/csv","open")',
        "plus": "+cmd|' /C calc'!A0",
        "at": "@SUM(1+1)*cmd|' /C calc'!A0",
        "nul": "adm\x00in",
        "long": "powershell.exe -EncodedCommand " + "A" * LONG_COMMAND_CHARS,
    }


def _stamp(minute: int) -> str:
    return f"2026-12-01T10:{minute:02d}:00.000Z"


def _process_row(minute: int, pid: int, parent_pid: int, parent_name: str, file_name: str,
                 command_line: str, account: str = "attacker",
                 parent_minute: int | None = None) -> dict:
    """Return a process creation row; *parent_minute* links it to a parent row of this file."""
    stamp = _stamp(minute)
    parent_created = _stamp(parent_minute) if parent_minute else "2026-12-01T09:00:00.000Z"
    return {
        "Timestamp": stamp, "DeviceId": DEVICE_ID, "DeviceName": DEVICE,
        "ActionType": "ProcessCreated", "FileName": file_name,
        "FolderPath": f"C:\\Users\\attacker\\Downloads\\{file_name}",
        "SHA1": f"{pid:040x}", "ProcessId": pid, "ProcessCommandLine": command_line,
        "ProcessCreationTime": stamp, "AccountDomain": "hostile", "AccountName": account,
        "InitiatingProcessFileName": parent_name, "InitiatingProcessId": parent_pid,
        "InitiatingProcessCommandLine": parent_name,
        "InitiatingProcessCreationTime": parent_created,
        "InitiatingProcessAccountName": account, "ReportId": pid,
    }


def _process_evidence(alert_id: str, role: str, process: dict) -> dict:
    """Return an AlertEvidence row naming *process*, so the process graph marks it."""
    return {
        "Timestamp": "2026-12-01T10:08:00.000Z", "AlertId": alert_id, "Title": ALERT_TITLE,
        "Categories": "[\"Execution\"]", "AttackTechniques": "[\"T1036.002\"]",
        "ServiceSource": "Microsoft Defender for Endpoint", "DetectionSource": "EDR",
        "EntityType": "Process", "EvidenceRole": role, "FileName": process["FileName"],
        "ProcessCommandLine": process["ProcessCommandLine"], "AccountName": "attacker",
        "DeviceId": DEVICE_ID, "DeviceName": DEVICE, "Severity": "High",
    }


def _jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_hostile_export(folder: Path, port: int) -> dict[str, str]:
    """Write the per-table files into *folder*; returns the hostile values by kind."""
    values = hostile_values(port)
    folder.mkdir(parents=True, exist_ok=True)
    processes = [
        _process_row(1, 4100, 900, "explorer.exe", DISGUISED_NAME,
                     f"\"{DISGUISED_NAME}\" {values['script']}"),
        _process_row(2, 4101, 4100, DISGUISED_NAME, "cmd.exe",
                     f"cmd.exe /c echo {values['img']}", account=values["nul"],
                     parent_minute=1),
        _process_row(3, 4102, 4101, "cmd.exe", "powershell.exe", values["long"],
                     parent_minute=2),
        _process_row(4, 4103, 4101, "cmd.exe", MATH_NAME,
                     f"{MATH_NAME} {values['css']} {values['attribute']} {values['import']}",
                     parent_minute=2),
        _process_row(5, 4104, 4101, "cmd.exe", "excel.exe", values["formula"], parent_minute=2),
        _process_row(6, 4105, 4101, "cmd.exe", "net.exe", values["plus"], parent_minute=2),
        _process_row(7, 4106, 4101, "cmd.exe", "whoami.exe", values["at"], parent_minute=2),
    ]
    _jsonl(folder / "DeviceProcessEvents.jsonl", processes)

    alert_id = "da0000000000000000000_1"
    _jsonl(folder / "AlertInfo.jsonl", [{
        "Timestamp": "2026-12-01T10:08:00.000Z", "AlertId": alert_id, "Title": ALERT_TITLE,
        "Category": "Execution", "Severity": "High", "ServiceSource": "Microsoft Defender "
        "for Endpoint", "DetectionSource": "EDR", "AttackTechniques": "[\"T1036.002\"]",
    }])
    _jsonl(folder / "AlertEvidence.jsonl", [
        _process_evidence(alert_id, "Impacted", processes[0]),
        _process_evidence(alert_id, "Related", processes[3]),
    ])

    _jsonl(folder / "DeviceRegistryEvents.jsonl", [{
        "Timestamp": "2026-12-01T10:09:00.000Z", "DeviceId": DEVICE_ID, "DeviceName": DEVICE,
        "ActionType": "RegistryValueSet",
        "RegistryKey": "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
        "RegistryValueName": values["script"], "RegistryValueData": values["formula"],
        "InitiatingProcessFileName": "c\x00md.exe", "InitiatingProcessId": 4101,
        "InitiatingProcessCommandLine": "cmd.exe", "ReportId": 5001,
    }])

    # A CSV export with one latin-1 byte (0xE9) in a file name: not valid UTF-8.
    header = ("Timestamp,DeviceId,DeviceName,ActionType,FileName,FolderPath,SHA1,"
              "InitiatingProcessFileName,InitiatingProcessId,InitiatingProcessCommandLine,"
              "ReportId\n")
    row = (f"2026-12-01T10:10:00.000Z,{DEVICE_ID},{DEVICE},FileCreated,"
           "r\xe9sum\xe9.exe,C:\\Users\\attacker\\Downloads\\r\xe9sum\xe9.exe,"
           f"{'ab' * 20},cmd.exe,4101,cmd.exe,6001\n")
    (folder / "DeviceFileEvents.csv").write_bytes(header.encode("ascii") + row.encode("latin-1"))
    return values
