"""Indicators of compromise extracted from findings and alert evidence into one table."""

from __future__ import annotations

from typing import Any

from irreport.analysis.findings import USER_WRITABLE, is_internet_address
from irreport.analysis.model import Finding, Indicator
from irreport.collect import Collection

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
        for address in facts.get("successful_addresses", []):
            table.add("IP address", address, "password guessing, then a successful logon", when,
                      finding.rule)
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


def _from_row(table: _Table, row: dict[str, Any], finding: Finding) -> None:
    when = row.get("Timestamp") or finding.first_seen
    if row.get("SHA1") and (USER_WRITABLE.search(row.get("FolderPath") or "")
                            or finding.rule == "defender-detections"):
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
    elif entity == "File":
        table.add("SHA1", row.get("SHA1"), f"{row.get('FileName')}: {title}", when, "alert")
        table.add("File", row.get("FileName"), row.get("FolderPath") or title, when, "alert")
    elif entity == "RegistryValue" and row.get("RegistryValueName"):
        table.add("Registry value", f"{row.get('RegistryKey')}\\{row['RegistryValueName']}",
                  f"{row.get('RegistryValueData')}: {title}", when, "alert")
