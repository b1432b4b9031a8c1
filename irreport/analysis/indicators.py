"""Indicators of compromise extracted from findings and alert evidence into one table."""

from __future__ import annotations

import re
from typing import Any

from irreport.analysis.findings import USER_WRITABLE, is_internet_address
from irreport.analysis.model import Finding, Indicator
from irreport.collect import Collection

# Folders of the operating system and installed programs, whose files are never indicators.
SYSTEM_FOLDERS = re.compile(r"(?i)^[a-z]:\\(windows|program files( \(x86\))?)\\")

# Evidence columns that hold an indicator, and the kind each is.
INDICATOR_COLUMNS = {
    "RemoteIP": "IP address",
    "SHA1": "SHA1",
    "SHA256": "SHA256",
    "AccountName": "Account",
    "RemoteUrl": "URL",
}


class _Table:
    """Indicators keyed by kind and value, keeping the earliest sighting."""

    def __init__(self):
        self.items: dict[tuple[str, str], Indicator] = {}

    def add(self, kind: str, value: Any, context: str, when, rule: str) -> None:
        text = str(value or "").strip()
        if not text or text in ("-", "0"):
            return
        key = (kind, text.lower())
        item = self.items.get(key)
        if item is None:
            self.items[key] = Indicator(kind, text, context, when, [rule])
            return
        if rule not in item.rules:
            item.rules.append(rule)
        if when and (item.first_seen is None or when < item.first_seen):
            item.first_seen = when

    def sorted(self) -> list[Indicator]:
        order = ["IP address", "URL", "SHA1", "SHA256", "File", "Account", "Registry value",
                 "Scheduled task"]
        return sorted(self.items.values(),
                      key=lambda i: (order.index(i.kind) if i.kind in order else 99, i.value))


def extract_indicators(findings: list[Finding], collection: Collection) -> list[Indicator]:
    """Return the indicators named by the findings and by the alerts' evidence."""
    table = _Table()
    for finding in findings:
        _from_finding(table, finding)
    for row in collection.rows("alert-evidence"):
        _from_alert_row(table, row)
    return table.sorted()


def _from_finding(table: _Table, finding: Finding) -> None:
    facts = finding.facts
    when = finding.first_seen
    if finding.rule == "logon-after-inbound":
        table.add("IP address", facts["remote_ip"], "logged on after brute force", when,
                  finding.rule)
        table.add("Account", facts["account"], "used by the attacker to log on", when, finding.rule)
    elif finding.rule == "rdp-brute-force":
        winners = set(facts.get("successful_addresses", []))
        for row in finding.evidence[0].rows:
            address = row.get("RemoteIP")
            context = ("password guessing, then a successful logon" if address in winners
                       else "password guessing")
            table.add("IP address", address, context, row.get("FirstSeen"), finding.rule)
    elif finding.rule == "run-key-persistence":
        table.add("Registry value", f"{facts['key']}\\{facts['value_name']}",
                  f"autostart: {facts['value_data']}", when, finding.rule)
    elif finding.rule == "scheduled-task-persistence":
        for task in facts.get("tasks", []):
            table.add("Scheduled task", task, "runs from a user-writable folder", when, finding.rule)
    elif finding.rule == "new-local-admin":
        for account in finding.accounts:
            table.add("Account", account, "local account created or made administrator", when,
                      finding.rule)
    for evidence in finding.evidence:
        for row in evidence.rows:
            _from_row(table, row, finding)


def is_blockable_file(row: dict[str, Any]) -> bool:
    """Tell whether a file may go on a block list: never an operating system or installed program.

    Defender's own events name the legitimate program an attack used or a rule protected
    (lsass.exe, rundll32.exe, a browser); blocking those hashes would break the fleet.
    """
    folder = row.get("FolderPath") or ""
    return bool(row.get("SHA1")) and not SYSTEM_FOLDERS.search(folder) and bool(
        USER_WRITABLE.search(folder))


def _from_row(table: _Table, row: dict[str, Any], finding: Finding) -> None:
    when = row.get("Timestamp") or finding.first_seen
    detected = finding.rule != "defender-detections" or (
        row.get("Category") == "Antivirus" and row.get("ActionType") == "AntivirusDetection")
    if detected and is_blockable_file(row):
        table.add("SHA1", row["SHA1"], f"{row.get('FileName')} in {row.get('FolderPath')}", when,
                  finding.rule)
        table.add("File", row.get("FileName"), row.get("FolderPath") or "", when, finding.rule)
    if row.get("RemoteUrl") and finding.rule == "defender-detections":
        table.add("URL", row["RemoteUrl"], row.get("Category") or "", when, finding.rule)


def _from_alert_row(table: _Table, row: dict[str, Any]) -> None:
    title = row.get("Title") or "alert evidence"
    when = row.get("AlertTime")
    entity = row.get("EntityType")
    if entity == "Ip" and is_internet_address(row.get("RemoteIP")):
        table.add("IP address", row["RemoteIP"], title, when, "alert")
    elif entity == "Url" and row.get("RemoteUrl"):
        table.add("URL", row["RemoteUrl"], title, when, "alert")
    elif entity == "File" and not SYSTEM_FOLDERS.search(row.get("FolderPath") or ""):
        table.add("SHA1", row.get("SHA1"), f"{row.get('FileName')}: {title}", when, "alert")
        table.add("File", row.get("FileName"), row.get("FolderPath") or title, when, "alert")
    elif (entity == "RegistryValue" and row.get("RegistryValueName")
          and "\\windows defender\\" not in (row.get("RegistryKey") or "").lower()):
        # Defender's own settings appear as the target of a tampering attempt, not as an
        # attacker's artefact.
        table.add("Registry value", f"{row.get('RegistryKey')}\\{row['RegistryValueName']}",
                  f"{row.get('RegistryValueData')}: {title}", when, "alert")
