"""The executive summary's sentences, from hand-made findings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from irreport.analysis.model import Finding
from irreport.analysis.summary import summarise

T0 = datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc)


def finding(rule: str, title: str, minute: int, **facts) -> Finding:
    return Finding(rule=rule, title=title, statement=f"{title} on testmachine3.",
                   severity="High", techniques=[], phase="detection-analysis",
                   first_seen=T0 + timedelta(minutes=minute), last_seen=None,
                   devices=["testmachine3"], facts=facts)


def detection(category: str, minute: int) -> Finding:
    return finding("defender-detections", f"Defender detections: {category}", minute,
                   category=category)


def entry() -> Finding:
    """Return a password-guessing finding, which the summary names as the entry point."""
    return finding("rdp-brute-force", "Password guessing from the internet", 0)


def steps_sentence(findings: list[Finding]) -> str:
    sentences = summarise([entry(), *findings], ["testmachine3"]).sentences
    return next(s for s in sentences if s.startswith("After that came"))


def test_detections_grouped_while_consecutive():
    findings = [
        finding("encoded-powershell", "Encoded PowerShell command", 10),
        detection("AMSI", 11),
        finding("lsass-dump", "Credential dumping from LSASS", 12),
        detection("Attack surface reduction", 13),
        detection("Antivirus", 14),
        detection("SmartScreen", 15),
        detection("Exploit Guard", 16),
        finding("lateral-movement", "Hop to another device", 20),
    ]

    assert steps_sentence(findings) == (
        "After that came, in order: encoded PowerShell command, Defender detections (AMSI), "
        "credential dumping from LSASS, Defender detections (attack surface reduction, "
        "antivirus, SmartScreen, Exploit Guard) and hop to another device.")


def test_detections_group_keeps_time_order():
    findings = [detection("Antivirus", 5), finding("run-key", "Run key persistence", 3),
                detection("AMSI", 9)]

    assert steps_sentence(findings) == (
        "After that came, in order: run key persistence and Defender detections (antivirus, "
        "AMSI).")


def test_single_detection_category():
    findings = [detection("SmartScreen", 1)]

    assert steps_sentence(findings) == (
        "After that came, in order: Defender detections (SmartScreen).")


def test_count_sentence_singular():
    sentence = summarise([finding("run-key", "Run key persistence", 0)],
                         ["testmachine3"]).sentences[0]

    assert "1 finding of medium or high severity concerns testmachine3." in sentence


def test_count_sentence_plural():
    findings = [finding("run-key", "Run key persistence", 0), detection("AMSI", 1)]
    sentence = summarise(findings, ["testmachine3"]).sentences[0]

    assert "2 findings of medium or high severity concern testmachine3." in sentence


def test_accounts_from_activity_not_from_guessing():
    guessing = entry()
    guessing.accounts = ["admin", "backup", "administrator1"]
    burst = finding("discovery-burst", "Scripted discovery burst", 5)
    burst.accounts = ["administrator1"]
    summary = summarise([guessing, burst], ["testmachine3"])
    assert summary.accounts == ["administrator1"]
    assert "Accounts involved: administrator1." in summary.sentences


def test_finding_before_entry_named_apart():
    sentences = summarise([entry(), detection("SmartScreen", -3 * 24 * 60),
                           finding("run-key", "Run key persistence", 5)],
                          ["testmachine3"]).sentences

    assert "Before the entry point, from 2026-11-29T14:00:00.000Z: Defender detections " \
           "(SmartScreen)." in sentences
    assert "After that came, in order: run key persistence." in sentences
