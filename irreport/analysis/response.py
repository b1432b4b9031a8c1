"""Containment, eradication and recovery actions, and post-incident items, derived from findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from irreport.analysis.findings import qualified_account
from irreport.analysis.model import Action, Finding, Indicator
from irreport.plural import counted

# Pack queries worth turning into custom detections, by the finding rule that proved them useful.
DETECTION_CANDIDATES = {
    "logon-after-inbound": ("inbound-then-logon",
                            "alert when a logon follows an internet address's connection"),
    "rdp-brute-force": ("failed-logons", "alert on many failed logons from one internet address"),
    "run-key-persistence": ("run-keys", "alert on an autostart value seen on one device only"),
    "credential-hunting": ("process-events",
                           "alert on findstr or Select-String searching for passwords"),
    "discovery-burst": ("process-events", "alert on four discovery tools from one shell in 60 s"),
    "lateral-movement": ("lateral-movement", "alert on RDP from a workstation to a server"),
    "scheduled-task-persistence": ("scheduled-tasks-services",
                                   "alert on tasks that run from user-writable folders"),
}


def containment_actions(findings: list[Finding], indicators: list[Indicator],
                        logons: list[dict[str, Any]] | None = None) -> list[Action]:
    """Return the response steps the findings call for, most urgent first.

    *logons* are the rows of the logons query, whose accounts a credential dump exposes.
    """
    actions: list[Action] = []
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    severe = [f for f in findings if f.severity == "High"]
    devices = sorted({d for f in severe for d in f.devices})
    if devices:
        actions.append(Action(
            "Isolate the affected devices",
            "Use Defender's device isolation (selective isolation keeps Outlook and Teams) "
            "and collect an investigation package from each before any clean-up.",
            devices, sorted({f.rule for f in severe}), priority=1))
    _account_actions(actions, by_rule)
    _exposed_account_actions(actions, by_rule, logons or [])
    _indicator_actions(actions, indicators, _remediated_paths(by_rule))
    _persistence_actions(actions, by_rule)
    if "rdp-brute-force" in by_rule or "logon-after-inbound" in by_rule:
        exposed = sorted({d for r in ("rdp-brute-force", "logon-after-inbound")
                          for f in by_rule.get(r, []) for d in f.devices})
        actions.append(Action(
            "Close RDP to the internet",
            "Remove the port forwarding or firewall rule that exposes TCP 3389; offer remote "
            "access only through a VPN or Remote Desktop Gateway with multifactor "
            "authentication, and set an account lockout threshold.",
            exposed, ["rdp-brute-force", "logon-after-inbound"], priority=1))
    if any(f.rule == "lateral-movement" for f in findings):
        targets = sorted({f.facts["target_device"] for f in by_rule["lateral-movement"]})
        actions.append(Action(
            "Investigate the devices reached from here",
            "Run this dossier for each device the attacker reached; treat it as compromised "
            "until its own timeline says otherwise.",
            targets, ["lateral-movement"], priority=1))
    if devices:
        actions.append(Action(
            "Scan and restore",
            "Run a full antivirus scan after removing persistence, reset the local "
            "administrator password (Windows LAPS), then release the isolation and watch "
            "the devices for a week.", devices, sorted({f.rule for f in severe}), priority=3))
    return sorted(actions, key=lambda a: a.priority)


def _account_actions(actions: list[Action], by_rule: dict[str, list[Finding]]) -> None:
    used = sorted({f.facts["account"] for f in by_rule.get("logon-after-inbound", [])})
    if used:
        actions.append(Action(
            "Disable and reset the accounts the attacker used",
            "Disable the accounts, reset their passwords twice, revoke their sessions, and "
            "check where else they logged on.", used, ["logon-after-inbound"], priority=1))
    created = sorted({a for f in by_rule.get("new-local-admin", []) for a in f.accounts})
    if created:
        actions.append(Action(
            "Delete the accounts the attacker created",
            "Remove them from local groups and delete them (net user NAME /delete) once the "
            "evidence is preserved.", created, ["new-local-admin"], priority=2))


# Logon types taken as leaving reusable credentials in LSASS memory. A network logon caches
# none (the LogonUser documentation says so of its network type). NOTE: the rest of the list is
# an estimate that errs towards resetting an account.
_CACHED_LOGON_TYPES = frozenset({"Interactive", "RemoteInteractive", "CachedInteractive",
                                 "Batch", "Service", "Unlock"})


def _exposed_account_actions(actions: list[Action], by_rule: dict[str, list[Finding]],
                             logons: list[dict[str, Any]]) -> None:
    dumps = by_rule.get("lsass-access", [])
    devices = {d.lower() for f in dumps for d in f.devices}
    if not devices:
        return
    handled = {f.facts["account"].lower() for f in by_rule.get("logon-after-inbound", [])}
    handled |= {a.lower() for f in by_rule.get("new-local-admin", []) for a in f.accounts}
    exposed = sorted({qualified_account(row) for row in logons
                      if str(row.get("DeviceName") or "").lower() in devices
                      and row.get("LogonType") in _CACHED_LOGON_TYPES
                      and str(row.get("AccountName") or "").lower() not in handled
                      and row.get("AccountName")})
    if exposed:
        actions.append(Action(
            "Reset the accounts whose credentials were exposed",
            "A process opened LSASS on these devices, so the credentials of every account "
            "logged on there interactively, as a service or as a batch job may have been "
            "stolen: reset their passwords and rotate service account secrets.",
            exposed, ["lsass-access"], priority=2))


def _remediated_paths(by_rule: dict[str, list[Finding]]) -> set[str]:
    """Return the lower-case paths of files that Defender's antivirus remediated."""
    return {str(row["FolderPath"]).lower() for f in by_rule.get("defender-detections", [])
            for evidence in f.evidence for row in evidence.rows
            if row.get("Outcome") == "Remediated" and row.get("FolderPath")}


def _indicator_actions(actions: list[Action], indicators: list[Indicator],
                       remediated: set[str] = frozenset()) -> None:
    steps = [
        (("IP address",), "Block the attacker's addresses",
         "Add them as Defender IP indicators (Block and remediate) and on the perimeter "
         "firewall."),
        (("URL",), "Block the attacker's web addresses",
         "Add them as Defender URL and domain indicators (Block) and on the web proxy; "
         "outside Edge, Defender enforces them only where network protection is in block "
         "mode."),
        (("SHA1", "SHA256"), "Block the attacker's files",
         "Add the hashes as Defender file indicators (Block and remediate) so any copy "
         "elsewhere is quarantined."),
        (("File",), "Delete the attacker's files",
         "Collect each file for analysis (Defender's Collect file), then delete it or "
         "remove it with the Stop and quarantine file action."),
    ]
    for kinds, title, detail in steps:
        chosen = [i for i in indicators if i.kind in kinds]
        if chosen:
            # A file indicator's value is its name and its context the full path.
            targets = [i.context if i.kind == "File" and i.context else i.value for i in chosen]
            targets = [f"{t} (Defender remediated it; check that it is gone)"
                       if t.lower() in remediated else t for t in targets]
            actions.append(Action(title, detail, targets,
                                  sorted({r for i in chosen for r in i.rules}), priority=2))


def reg_exe_key(key: str) -> str:
    """Return Defender's registry key *key* in the form reg.exe takes.

    Defender writes a user's keys as HKEY_CURRENT_USER\\<SID>\\..., a path that exists only
    under HKEY_USERS, so reg.exe run by an administrator needs HKU\\<SID>\\... there.
    """
    hive, _, rest = key.partition("\\")
    hive = hive.upper()
    if hive == "HKEY_CURRENT_USER" and rest.upper().startswith("S-1"):
        return f"HKU\\{rest}"
    short = {"HKEY_CURRENT_USER": "HKCU", "HKEY_LOCAL_MACHINE": "HKLM", "HKEY_USERS": "HKU",
             "HKEY_CLASSES_ROOT": "HKCR"}.get(hive)
    return f"{short}\\{rest}" if short else key


def _persistence_actions(actions: list[Action], by_rule: dict[str, list[Finding]]) -> None:
    for finding in by_rule.get("run-key-persistence", []):
        facts = finding.facts
        key = reg_exe_key(facts["key"])
        actions.append(Action(
            "Remove the run key value",
            f'Delete the value and the program it starts: reg delete "{key}" /v '
            f'"{facts["value_name"]}" /f, then delete {facts["value_data"]}.',
            finding.devices, [finding.rule], priority=2))
    for finding in by_rule.get("scheduled-task-persistence", []):
        for task in finding.facts.get("tasks", []):
            actions.append(Action(
                "Delete the scheduled task",
                f'schtasks /delete /tn "{task}" /f, after exporting it as evidence.',
                finding.devices, [finding.rule], priority=2))


@dataclass
class PostIncident:
    """Lessons, preparation items and detection candidates for the post-incident review."""

    first_malicious: datetime | None
    first_alert: datetime | None
    intrusion: datetime | None = None
    lessons: list[str] = field(default_factory=list)
    detections: list[tuple[str, str]] = field(default_factory=list)

    @property
    def time_to_alert(self):
        if self.first_malicious and self.first_alert:
            return self.first_alert - self.first_malicious
        return None

    @property
    def intrusion_to_alert(self):
        """Return the time from the attacker's first successful logon to the first alert."""
        if self.intrusion and self.first_alert:
            return self.first_alert - self.intrusion
        return None


def _guessing_lesson(guessing: list[Finding], first_alert: datetime | None) -> str:
    began = min(f.first_seen for f in guessing if f.first_seen)
    attempts = sum(f.facts.get("attempts", 0) for f in guessing)
    text = ("Remote Desktop was reachable from the internet and "
            f"{counted(attempts, 'failed logon')} went on with no lockout threshold to stop them")
    if first_alert and first_alert > began:
        return (text + f"; the first alert came {duration_text(first_alert - began)} after the "
                "guessing began.")
    return text + ", and no alert was raised."


def duration_text(value: timedelta | None) -> str:
    """Return a duration as "54 h 20 min", or "27 min 48 s" under an hour; "" for None."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours} h {rest // 60} min" if hours else f"{sign}{rest // 60} min {rest % 60} s"


def post_incident(findings: list[Finding], first_alert: datetime | None,
                  settings_gaps: list[str]) -> PostIncident:
    """Derive lessons and detection candidates from what the findings showed."""
    starts = [f.first_seen for f in findings if f.first_seen and f.rank >= 2]
    logons = [f.facts["logon_time"] for f in findings if f.rule == "logon-after-inbound"]
    review = PostIncident(first_malicious=min(starts) if starts else None, first_alert=first_alert,
                          intrusion=min(logons) if logons else None)
    rules = {f.rule for f in findings}
    guessing = [f for f in findings if f.rule == "rdp-brute-force"]
    if guessing:
        review.lessons.append(_guessing_lesson(guessing, first_alert))
    if "logon-after-inbound" in rules:
        review.lessons.append(
            "A local administrator account with a guessable password logged on from the "
            "internet; local administrator passwords should be unique and rotated (LAPS).")
    if rules & {"discovery-burst", "credential-hunting"}:
        review.lessons.append(
            "A script ran discovery and credential hunting in seconds; script control (ASR "
            "rules in block mode, WDAC or AppLocker for user folders) would have stopped it.")
    review.lessons.extend(settings_gaps)
    seen = set()
    for rule, (query_id, why) in DETECTION_CANDIDATES.items():
        if rule in rules and (query_id, why) not in seen:
            seen.add((query_id, why))
            review.detections.append((query_id, why))
    return review
