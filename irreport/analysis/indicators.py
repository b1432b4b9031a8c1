"""Indicators of compromise extracted from findings and alert evidence into one table."""

from __future__ import annotations

import html
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from irreport.analysis.findings import (MAX_COMMAND_LINE_CHARS, USER_WRITABLE, decode_powershell,
                                        is_internet_address)
from irreport.analysis.event_mapping import as_utc
from irreport.analysis.model import Finding, Indicator
from irreport.collect import Collection
from irreport.textsafe import shorten

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

# Command lines are the attacker's text, so each one (and its decoded -EncodedCommand script)
# yields at most this many indicators. A URL longer than the limit is skipped, not cut to a
# value that was never used.
MAX_INDICATORS_PER_COMMAND_LINE = 20
MAX_URL_CHARS = 2048
CONTEXT_COMMAND_CHARS = 160
# A URL ends at white space, a quote, or the ";" and "|" that separate shell and PowerShell
# statements.
_URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s\"'`<>;|]+")
_URL_TRAILING = ".,;:!?)}'"
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
# Four dotted numbers right after "version" are a version, as in .NET's "Version=4.0.0.0" or an
# installer's "--version 1.0.0.1", and many such values are also public addresses.
_VERSION_BEFORE = re.compile(r"(?i)version\s*[:=]?\s*[\"']?$")
_VERSION_LOOKBACK_CHARS = 16
_DOMAIN_LABEL = re.compile(r"[\w-]{1,63}")
POWERSHELL = {"powershell.exe", "pwsh.exe"}


# Columns of any query's rows that name an indicator, with its kind. The time of a row is in
# the first of _SIGHTING_TIMES that its query has: an aggregate's FirstSeen, an event's
# Timestamp.
_SIGHTING_COLUMNS = {"RemoteIP": "IP address", "SHA1": "SHA1", "FileName": "File",
                     "PreviousFileName": "File", "RemoteUrl": "URL", "FileOriginUrl": "URL"}
_SIGHTING_TIMES = ("FirstSeen", "Timestamp", "ConnectionTime", "AlertTime")

# The <Command> and <Arguments> elements of a scheduled task's XML (Task Scheduler schema).
_TASK_ACTION = re.compile(r"<(Command|Arguments)>([^<]*)</\1>", re.IGNORECASE)


class _Table:
    """Indicators keyed by kind and value, keeping the earliest sighting."""

    def __init__(self):
        self.items: dict[tuple[str, str], Indicator] = {}
        # Findings and alerts name the same process many times, so each text is scanned once.
        self.scanned: dict[str, list[tuple[str, str]]] = {}

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
        order = ["IP address", "URL", "Domain", "SHA1", "SHA256", "File", "Account",
                 "Registry value", "Scheduled task"]
        return sorted(self.items.values(),
                      key=lambda i: (order.index(i.kind) if i.kind in order else 99,
                                     _value_order(i)))


def _value_order(indicator: Indicator) -> tuple:
    # Addresses in numeric order, so 198.51.100.48 comes before 198.51.100.200.
    if indicator.kind == "IP address":
        try:
            address = ipaddress.ip_address(indicator.value)
        except ValueError:
            return (1, 0, indicator.value)
        return (0, address.version, int(address), indicator.value)
    return (1, 0, indicator.value)


def extract_indicators(findings: list[Finding], collection: Collection) -> list[Indicator]:
    """Return the indicators named by the findings and by the alerts' evidence."""
    table = _Table()
    for finding in findings:
        _from_finding(table, finding)
    for row in collection.rows("alert-evidence"):
        _from_alert_row(table, row)
    _date_by_earliest_row(table, collection)
    return table.sorted()


def _date_by_earliest_row(table: _Table, collection: Collection) -> None:
    """Set each indicator's first sighting to the earliest collected row that names it.

    A finding or an alert dates an indicator by the event it is about, which often comes long
    after the file was written or the address first connected.
    """
    for result in collection.results.values():
        columns = [(column, kind) for column, kind in _SIGHTING_COLUMNS.items()
                   if column in result.columns]
        time_column = next((c for c in _SIGHTING_TIMES if c in result.columns), None)
        if not columns or time_column is None:
            continue
        for row in result.rows:
            for column, kind in columns:
                value = row.get(column)
                if not value or len(str(value)) > MAX_URL_CHARS:
                    continue
                item = table.items.get((kind, str(value).strip().lower()))
                when = as_utc(row.get(time_column)) if item else None
                if when and (item.first_seen is None or when < as_utc(item.first_seen)):
                    item.first_seen = when


def _from_finding(table: _Table, finding: Finding) -> None:
    facts = finding.facts
    when = finding.first_seen
    if finding.rule == "logon-after-inbound":
        table.add("IP address", facts["remote_ip"], "logged on after brute force", when,
                  finding.rule)
        table.add("Account", facts["account"], "used by the attacker to log on",
                  facts.get("logon_time") or when, finding.rule)
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
        # The value is a command line Windows runs at each logon, so its arguments can name
        # where a payload comes from.
        data = str(facts.get("value_data") or "")
        context = f"autostart value {facts['value_name']}: {shorten(data, CONTEXT_COMMAND_CHARS)[0]}"
        for kind, value in _scan(table, data):
            table.add(kind, value, context, when, finding.rule)
    elif finding.rule == "scheduled-task-persistence":
        for task in facts.get("tasks", []):
            table.add("Scheduled task", task, "runs from a user-writable folder", when, finding.rule)
        for row in finding.evidence[0].rows:
            action = task_action(str(row.get("Detail") or ""))
            context = f"scheduled task {row.get('Name') or ''} runs: {shorten(action, CONTEXT_COMMAND_CHARS)[0]}"
            for kind, value in _scan(table, action):
                table.add(kind, value, context, row.get("Timestamp") or when, finding.rule)
    elif finding.rule == "dropped-program-calls-out":
        for row in finding.evidence[0].rows:
            table.add("IP address", row.get("RemoteIP"), f"contacted by {facts['program']}",
                      row.get("FirstSeen"), finding.rule)
    elif finding.rule == "new-local-admin":
        for account in finding.accounts:
            table.add("Account", account, "local account created or made administrator", when,
                      finding.rule)
    for evidence in finding.evidence:
        for row in evidence.rows:
            _from_row(table, row, finding)


def task_action(content: str) -> str:
    """Return the command and arguments of a scheduled task's XML, or *content* if it is not XML.

    Only those elements are read because the XML's namespace is itself a URL
    (http://schemas.microsoft.com/windows/2004/02/mit/task), which is no indicator.
    """
    head = content[:MAX_COMMAND_LINE_CHARS]
    if not head.lstrip().startswith("<"):
        return head
    return " ".join(html.unescape(match.group(2)) for match in _TASK_ACTION.finditer(head))


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
    _from_command_line(table, row, when, finding.rule)


def _from_alert_row(table: _Table, row: dict[str, Any]) -> None:
    title = row.get("Title") or "alert evidence"
    when = row.get("AlertTime")
    entity = row.get("EntityType")
    _from_command_line(table, row, when, "alert", title)
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


def _from_command_line(table: _Table, row: dict[str, Any], when, rule: str,
                       alert_title: str = "") -> None:
    """Add the URLs, domains and internet addresses in the command line of the row's process.

    Only processes that a finding or an alert names are read. Every device's own command lines
    also hold update, telemetry and browser addresses, and an IP address here becomes advice to
    block it.
    """
    for column, name_column in (("ProcessCommandLine", "FileName"),
                                ("InitiatingProcessCommandLine", "InitiatingProcessFileName")):
        command = str(row.get(column) or "")
        if command.strip():
            name = str(row.get(name_column) or "a process")
            break
    else:
        return
    source = f"{name} command line ({alert_title})" if alert_title else f"{name} command line"
    context = f"{source}: {shorten(command, CONTEXT_COMMAND_CHARS)[0]}"
    for kind, value in _scan(table, command):
        table.add(kind, value, context, when, rule)
    if name.lower() not in POWERSHELL:
        return
    script = decode_powershell(command)
    if script:
        context = f"{source}, decoded: {shorten(script, CONTEXT_COMMAND_CHARS)[0]}"
        for kind, value in _scan(table, script):
            table.add(kind, value, context, when, rule)


def _scan(table: _Table, text: str) -> list[tuple[str, str]]:
    found = table.scanned.get(text)
    if found is None:
        found = table.scanned[text] = network_indicators(text)
    return found


def network_indicators(text: str) -> list[tuple[str, str]]:
    """Return the (kind, value) of the URLs, their hosts and the IPv4 addresses in *text*.

    Reads the first MAX_COMMAND_LINE_CHARS characters and returns at most
    MAX_INDICATORS_PER_COMMAND_LINE pairs: the URLs, each followed by its host, then the other
    IPv4 addresses. Nothing is fetched or resolved.
    """
    found: list[tuple[str, str]] = []
    for pair in _candidates(text):
        if pair not in found:
            found.append(pair)
            if len(found) == MAX_INDICATORS_PER_COMMAND_LINE:
                break
    return found


def _candidates(text: str):
    scanned = text[:MAX_COMMAND_LINE_CHARS]
    # A match that reaches the end of a cut text may go on past the cut, so it is dropped.
    cut_at = len(scanned) if len(text) > len(scanned) else None
    for match in _URL.finditer(scanned):
        url = _trim_url(match.group())
        host = _host(url)
        if match.end() == cut_at or not host or len(url) > MAX_URL_CHARS:
            continue
        yield "URL", url
        if _is_ip(host):
            if is_internet_address(host):
                yield "IP address", host
        elif _is_domain(host):
            yield "Domain", host
    for match in _IPV4.finditer(scanned):
        address = match.group()
        before = scanned[max(0, match.start() - _VERSION_LOOKBACK_CHARS):match.start()]
        if (match.end() != cut_at and _is_ip(address) and is_internet_address(address)
                and not _VERSION_BEFORE.search(before)):
            yield "IP address", address


def _trim_url(url: str) -> str:
    """Strip the punctuation that ends a sentence or closes a bracket around the URL."""
    # A "]" may close an IPv6 host, so it stays on URLs that contain a "[".
    return url.rstrip(_URL_TRAILING if "[" in url else _URL_TRAILING + "]")


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        # urlsplit raises for an unbalanced "[", which it reads as a broken IPv6 address.
        return ""


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_domain(host: str) -> bool:
    """Tell whether *host* is a dotted DNS name, because single-label names are local."""
    labels = host.rstrip(".").split(".")
    return (len(host) <= 253 and len(labels) > 1
            and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
            and any(character.isalpha() for character in labels[-1]))
