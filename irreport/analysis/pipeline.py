"""The analyse step: from a Collection to everything the dossier states."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from irreport.analysis import findings as finding_rules
from irreport.analysis.indicators import extract_indicators
from irreport.analysis.model import Action, Finding, Indicator
from irreport.analysis.response import PostIncident, containment_actions, post_incident
from irreport.analysis.settings import (GroupAdvice, automation_advice, configuration_gaps,
                                        gap_lessons)
from irreport.analysis.summary import Summary, summarise
from irreport.collect import Collection
from irreport.memory import collector_paused


@dataclass
class Analysis:
    """The findings and everything derived from them, plus the graph and the timeline."""

    findings: list[Finding]
    indicators: list[Indicator]
    actions: list[Action]
    summary: Summary
    review: PostIncident
    automation: list[GroupAdvice]
    configuration_gaps: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    graph: Any = None
    timeline: list[Any] = field(default_factory=list)
    bursts: list[Any] = field(default_factory=list)


def alerts_of(collection: Collection) -> list[dict[str, Any]]:
    """Return one entry per alert from the alert-evidence rows, earliest first."""
    alerts: dict[str, dict[str, Any]] = {}
    for row in collection.rows("alert-evidence"):
        alert = alerts.setdefault(row["AlertId"], {
            "id": row["AlertId"], "time": row.get("AlertTime"), "title": row.get("Title"),
            "severity": row.get("Severity"), "category": row.get("Category"),
            "source": row.get("DetectionSource"), "techniques": row.get("AttackTechniques"),
            "entities": 0,
        })
        alert["entities"] += 1
    return sorted(alerts.values(), key=lambda a: (a["time"] is None, a["time"]))


def analyse(collection: Collection, device_groups: dict[str, Any] | None = None) -> Analysis:
    """Run the finding rules and derive indicators, actions, summary, advice, graph and timeline."""
    analysis = analyse_findings(collection, device_groups)
    add_process_graph(analysis, collection)
    add_timeline(analysis, collection)
    return analysis


def analyse_findings(collection: Collection,
                     device_groups: dict[str, Any] | None = None) -> Analysis:
    """Run the finding rules and derive indicators, actions, summary and advice."""
    # The rules index the result rows without making reference cycles, and at 1M events
    # their allocations set off two full collections that walked every row again.
    with collector_paused():
        findings = finding_rules.run_rules(collection)
        indicators = extract_indicators(findings, collection)
    gaps = configuration_gaps(collection.rows("secure-configuration"))
    alerts = alerts_of(collection)
    first_alert = alerts[0]["time"] if alerts else None
    return Analysis(
        findings=findings,
        indicators=indicators,
        actions=containment_actions(findings, indicators, collection.rows("logons")),
        summary=summarise(findings, collection.devices, collection.unseen_devices),
        review=post_incident(findings, first_alert, gap_lessons(gaps)),
        automation=automation_advice(collection.rows("device-info"), device_groups),
        configuration_gaps=gaps,
        alerts=alerts,
    )


def add_process_graph(analysis: Analysis, collection: Collection) -> None:
    """Build the process graph and mark the processes that alerts and findings name."""
    from irreport.analysis import process_graph

    # The builder pauses the collector itself. The marking after it makes no reference cycles
    # either, and at 5M events it set off three full collections that walked every row again.
    with collector_paused():
        graph = process_graph.build_process_graph(collection)
        process_graph.mark_from_alert_evidence(graph, collection.rows("alert-evidence"))
        by_command = process_graph.command_line_index(graph)
        for finding in analysis.findings:
            commands = _command_lines(r for e in finding.evidence for r in e.rows)
            keys = [key for command in commands for key in by_command.get(command, [])]
            if keys:
                process_graph.mark_processes(graph, keys, f"finding: {finding.title}")
    analysis.graph = graph


def add_timeline(analysis: Analysis, collection: Collection) -> None:
    """Merge every mapped query's events into the timeline and find its bursts."""
    from irreport.analysis import timeline

    # Events and bursts make no reference cycles. At 5M events their two million objects set
    # off six full collections, each walking every result row again.
    with collector_paused():
        analysis.timeline = timeline.build_timeline(collection)
        analysis.bursts = timeline.find_bursts(analysis.timeline)


def _command_lines(rows) -> set[str]:
    """Return the command lines of the processes that evidence rows name, lower-cased."""
    found = set()
    for row in rows:
        for column in ("ProcessCommandLine", "InitiatingProcessCommandLine"):
            text = (row.get(column) or "").strip().lower()
            if text:
                found.add(text)
                break
    return found
