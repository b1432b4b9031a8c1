"""The executive summary: a few sentences generated from the findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from irreport.analysis.model import Finding
from irreport.plural import counted, pluralize
from irreport.textsafe import iso_time

ENTRY_RULES = ("logon-after-inbound", "rdp-brute-force", "lateral-movement")
# The rule that makes one finding per category of Defender detection (antivirus, ASR, ...).
DETECTION_RULE = "defender-detections"


@dataclass
class Summary:
    """The account of the incident in sentences, with the first and last malicious activity."""

    sentences: list[str]
    first_malicious: datetime | None
    last_malicious: datetime | None
    entry_point: str
    accounts: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)


def summarise(findings: list[Finding], devices: list[str],
              unseen: dict[str, str] | None = None) -> Summary:
    """Write the summary. With no findings it states that, rather than inventing a story."""
    malicious = [f for f in findings if f.rank >= 2]
    unseen = unseen or {}
    if unseen and len(unseen) == len(devices) and not malicious:
        return Summary(
            sentences=[f"No query returned any data for {', '.join(devices)} in this range, so "
                       "this dossier cannot say whether "
                       f"{pluralize(len(devices), 'the device was', 'the devices were')} "
                       "attacked. "
                       + " ".join(n[:1].upper() + n[1:] + "." for n in unseen.values())],
            first_malicious=None, last_malicious=None, entry_point="no data", devices=[])
    if not malicious:
        return Summary(
            sentences=[f"The collected data shows no malicious activity on {', '.join(devices)} "
                       "in this range. The gaps listed under Preparation say what could not "
                       "be seen."],
            first_malicious=None, last_malicious=None,
            entry_point="none identified", devices=[])
    ordered = sorted(malicious, key=lambda f: f.first_seen)
    first = ordered[0].first_seen
    last = max(f.last_seen or f.first_seen for f in malicious)
    affected_devices = sorted({d for f in malicious for d in f.devices})
    # Password guessing lists every account name it tried, used or not, so it is left out.
    accounts = sorted({a for f in malicious for a in f.accounts if f.rule != "rdp-brute-force"})
    entry = _entry_point(malicious)
    sentences = [
        f"Between {iso_time(first)} and {iso_time(last)}, {counted(len(malicious), 'finding')} "
        f"of medium or high severity {pluralize(len(malicious), 'concerns', 'concern')} "
        f"{', '.join(affected_devices)}.",
        f"Most likely entry point: {entry}",
    ]
    # A finding that began before the entry point (last week's blocked download in a wide
    # range) did not follow from it, so it is named apart.
    entry_finding = _entry_finding(malicious)
    earlier = [f for f in ordered if entry_finding and f.first_seen < entry_finding.first_seen]
    steps = _steps([f for f in ordered if f not in earlier], entry)
    earlier_steps = _steps(earlier, entry)
    if earlier_steps:
        sentences.append("Before the entry point, from " + iso_time(earlier[0].first_seen)
                         + ": " + _join(earlier_steps) + ".")
    if steps:
        sentences.append("After that came, in order: " + _join(steps) + ".")
    if accounts:
        sentences.append(f"Accounts involved: {', '.join(accounts)}.")
    return Summary(sentences, first, last, entry, accounts, affected_devices)


def _entry_finding(findings: list[Finding]) -> Finding | None:
    """Return the finding that shows how the attacker got in, or None when none does."""
    for rule in ENTRY_RULES[:2]:
        match = next((f for f in findings if f.rule == rule), None)
        if match:
            return match
    return None


def _entry_point(findings: list[Finding]) -> str:
    entry = _entry_finding(findings)
    if entry:
        return entry.statement
    earliest = min(findings, key=lambda f: f.first_seen)
    return f"not established; the earliest finding is: {earliest.statement}"


def _steps(ordered: list[Finding], entry: str) -> list[str]:
    """Name the findings after the entry point once each, in the order of *ordered*.

    Defender's detection findings, one per category, that follow each other are named
    together, such as "Defender detections (AMSI, antivirus)", because a separate "Defender
    detections: ..." step per category repeats the same words up to five times. Detections
    after another step start a new group, so the list stays in time order.
    """
    steps: list[str | list[str]] = []
    for finding in ordered:
        if finding.rule in ENTRY_RULES[:2] or finding.statement in entry:
            continue
        if finding.rule == DETECTION_RULE:
            if not steps or not isinstance(steps[-1], list):
                steps.append([])
            steps[-1].append(_category_name(finding))
        elif _lower_first(finding.title) not in steps:
            steps.append(_lower_first(finding.title))
    return [f"Defender detections ({', '.join(_unique(step))})" if isinstance(step, list) else step
            for step in steps]


def _category_name(finding: Finding) -> str:
    """Return a detection finding's category as written mid-sentence.

    A category with capitals after its first letter is a product name or an acronym
    (SmartScreen, Exploit Guard, AMSI) and keeps them. Any other is lower-cased.
    """
    category = finding.facts.get("category") or finding.title.split(": ", 1)[-1]
    if category[1:] == category[1:].lower():
        return category[:1].lower() + category[1:]
    return category


def _lower_first(title: str) -> str:
    """Lower-case a title's first word for use mid-sentence, unless it is an acronym."""
    first = title.split(" ", 1)[0]
    if first.isupper() and len(first) > 1:
        return title
    return title[:1].lower() + title[1:]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
