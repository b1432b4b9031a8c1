"""Assembling the template context of the dossier from the collection and the analysis."""

from __future__ import annotations

import base64
import bisect
import tempfile
from collections import Counter
from datetime import timedelta
from itertools import islice
from operator import attrgetter
from pathlib import Path
from typing import Any, Iterator

from irreport import __version__
from irreport.analysis.model import Finding
from irreport.analysis.pipeline import Analysis
from irreport.analysis.response import duration_text
from irreport.analysis.settings import DISRUPTION_ADVICE
from irreport.collect import Collection
from irreport.plural import counted
from irreport.render.views import (
    DISPLAY, TableView, cell, result_view, status_note, table_view,
)
from irreport.sources import EMPTY
from irreport.textsafe import iso_time, list_text, shorten
from irreport.timerange import TimeRange

MAX_FOCUS = 6
FINDING_EVIDENCE_ROWS = 10
STATEMENT_CHARS = 1500
TIMELINE_ROWS = 150
BURST_ROWS = 40


def data_uri(path: Path) -> str:
    kind = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def finding_view(finding: Finding) -> dict[str, Any]:
    evidence = []
    for item in finding.evidence:
        columns, limit = DISPLAY.get(item.query_id, (item.columns[:8], 20))
        view = table_view(item.rows, [c for c in columns if c in item.columns],
                          min(limit, FINDING_EVIDENCE_ROWS), item.query_id)
        evidence.append(view)
    return {
        "rule": finding.rule, "title": finding.title,
        # Statements quote command lines, which the attacker can make megabytes long.
        "statement": shorten(finding.statement, STATEMENT_CHARS)[0],
        "severity": finding.severity, "techniques": finding.techniques,
        "first_seen": iso_time(finding.first_seen) if finding.first_seen else "",
        "last_seen": iso_time(finding.last_seen) if finding.last_seen else "",
        "evidence": evidence,
    }


def focus_nodes(graph) -> list[str]:
    """Pick the processes whose ancestry and descendants the dossier draws.

    Marked siblings are drawn once, under their parent, and a marked process inside another
    focus's descendants is not drawn again.
    """
    marked = [node for node, marked in zip(graph.nodes, graph.nodes.column("marked")) if marked]
    siblings = Counter(p for n in marked for p in graph.predecessors(n))
    candidates = []
    for node in marked:
        parents = list(graph.predecessors(node))
        focus = parents[0] if parents and siblings[parents[0]] >= 2 else node
        if focus not in candidates:
            candidates.append(focus)
    kept = [c for c in candidates
            if not any(c in graph.descendants(other) for other in candidates if other != c)]

    def weight(node: str) -> int:
        return sum(1 for d in graph.descendants(node) | {node} if graph.nodes[d].get("marked"))

    return sorted(kept, key=weight, reverse=True)[:MAX_FOCUS]


def process_focus(graph, images: Path) -> list[dict[str, Any]]:
    from irreport.analysis import process_drawing, process_graph, process_tree

    views = []
    for number, node in enumerate(focus_nodes(graph)):
        subgraph = process_graph.focused_subgraph(graph, node)
        attributes = graph.nodes[node]
        image = images / f"process-tree-{number}.png"
        process_drawing.draw_process_tree(subgraph, image)
        roots = [n for n in subgraph if subgraph.in_degree(n) == 0]
        views.append({
            "title": f"{attributes.get('name')} (pid {attributes.get('pid')}) on "
                     f"{attributes.get('device')}",
            "tree": process_tree.process_tree(subgraph, roots),
            "image": data_uri(image) if image.exists() else None,
        })
    return views


def gap_rows(collection: Collection) -> list[dict[str, str]]:
    gaps = [{"query": f"device {device}", "status": "no data", "message": note}
            for device, note in collection.unseen_devices.items()]
    for result in collection.results.values():
        if result.ok and not result.truncated:
            # A completed query can still have been retried, split or short of a table or
            # column, and the reader should weigh its rows knowing that.
            if result.warnings:
                gaps.append({"query": result.query_id, "status": "completed, see note",
                             "message": " ".join(_sentence(w) for w in result.warnings)})
            continue
        status = "truncated" if result.truncated else result.status
        gaps.append({"query": result.query_id, "status": status, "message": result.message})
    return gaps


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


ROUTINE_CATEGORIES = {"process", "network", "file"}
# The timeline table and the bursts keep what lies this close to a finding or alert.
ANCHOR_WINDOW = timedelta(minutes=10)
_event_time = attrgetter("time")


def _anchors(analysis: Analysis) -> list:
    """Return the times of the findings and alerts that decide what the timeline shows, sorted."""
    return sorted([f.first_seen for f in analysis.findings if f.first_seen and f.rank >= 2]
                  + [a["time"] for a in analysis.alerts if a.get("time")])


def _near(moment, anchors: list, window: timedelta) -> bool:
    """Return whether *moment* is within *window* of one of the sorted *anchors*."""
    # bisect keeps this one comparison per neighbour, where a scan of every anchor per event
    # cost events x anchors at a million events.
    position = bisect.bisect_left(anchors, moment)
    return any(abs(moment - anchors[i]) <= window
               for i in (position - 1, position) if 0 <= i < len(anchors))


def _events_near(events: list, anchors: list, window: timedelta) -> Iterator:
    """Yield the time-sorted *events* within *window* of one of the sorted *anchors*, in order.

    Each span around the anchors is found by bisection, so the events far from every finding
    are never looked at.
    """
    start = 0
    for low, high in _merged_spans(anchors, window):
        first = bisect.bisect_left(events, low, lo=start, key=_event_time)
        start = bisect.bisect_right(events, high, lo=first, key=_event_time)
        yield from events[first:start]


def _merged_spans(anchors: list, window: timedelta) -> list[list]:
    """Return the spans from each sorted anchor minus *window* to it plus *window*, merged."""
    spans: list[list] = []
    for anchor in anchors:
        if spans and anchor - window <= spans[-1][1]:
            spans[-1][1] = anchor + window
        else:
            spans.append([anchor - window, anchor + window])
    return spans


def timeline_view(analysis: Analysis, devices: list[str]) -> tuple[TableView, int]:
    """Show the events near a finding or alert that a reader needs to follow the attack.

    Near means within ten minutes. Routine process, network and file events are kept only
    when an account named by the findings did them, so benign noise around the incident does
    not crowd out the attacker's steps. The Device column is left out when the dossier covers
    one device, which its cover names, so the details get the width.
    """
    events = analysis.timeline
    anchors = _anchors(analysis)
    accounts = {a.lower() for f in analysis.findings for a in f.accounts}

    def is_shown(event) -> bool:
        if event.alert or event.category not in ROUTINE_CATEGORIES:
            return True
        return (event.account or "").split("\\")[-1].lower() in accounts

    if anchors:
        near = _events_near(events, anchors, ANCHOR_WINDOW)
        chosen = list(islice(filter(is_shown, near), TIMELINE_ROWS))
    else:
        chosen = events[:TIMELINE_ROWS]
    columns = ["Time", "Device", "Category", "Action", "Process", "Account", "Target", "Details"]
    rows = [[cell(e.time), cell(e.device), cell(e.category), cell(e.action),
             cell(e.process), cell(e.account), cell(e.target, 200), cell(e.details, 200)]
            for e in chosen]
    if len(devices) == 1:
        columns.pop(1)
        for row in rows:
            row.pop(1)
    view = TableView(columns, rows, len(chosen), "timeline")
    return view, len(events) - len(chosen)


def shown_bursts(analysis: Analysis) -> list:
    """Return the bursts the dossier shows and shades, in time order.

    A busy server has a burst every few seconds, and at a million events the table of all of
    them ran to a thousand PDF pages. So the dossier keeps the bursts within ten minutes of
    a finding or alert (all of them when there is none), at most BURST_ROWS with the most
    events.
    """
    anchors = _anchors(analysis)
    near = [b for b in analysis.bursts
            if not anchors or _near(b.start, anchors, ANCHOR_WINDOW)
            or _near(b.end, anchors, ANCHOR_WINDOW)]
    kept = sorted(near, key=lambda b: -b.count)[:BURST_ROWS]
    return sorted(kept, key=lambda b: (b.start, b.kind, b.device))


# Labels of the burst kinds. A program's burst can lie inside its device's burst.
BURST_KINDS = {"device": "every event of the device", "process": "one program's events"}


def bursts_view(bursts, total: int | None = None) -> TableView:
    """Return the table of *bursts*; *total* is the number of bursts found, when more."""
    rows = [[cell(b.start), cell(b.end), cell(BURST_KINDS.get(b.kind, b.kind)), cell(b.device),
             cell(b.count), cell(f"{b.events_per_second:.1f}"), cell(", ".join(b.processes[:12]))]
            for b in bursts]
    note = ""
    if total is not None and total > len(rows):
        note = (f"{len(rows)} of {counted(total, 'burst')}: those near a finding or alert with "
                "the most events. evidence/timeline.csv lists every event.")
    return TableView(["Start", "End", "Counted", "Device", "Events", "Events per second",
                      "Processes"], rows, len(rows), "timeline", note=note)


def indicators_view(analysis: Analysis) -> TableView:
    rows = [[cell(i.kind), cell(i.value), cell(i.context, 200),
             cell(i.first_seen), cell(", ".join(i.rules))]
            for i in analysis.indicators]
    return TableView(["Kind", "Value", "Context", "First seen", "Found by"], rows, len(rows),
                     "indicators")


def alerts_view(analysis: Analysis, collection: Collection) -> TableView:
    rows = [[cell(a.get("time")), cell(a["title"]), cell(a["severity"]), cell(a["category"]),
             cell(a["source"]), cell(list_text(a["techniques"]))]
            for a in analysis.alerts]
    # Without the note, a query that could not run would read as "no alerts".
    return TableView(["Time", "Title", "Severity", "Category", "Detection source", "Techniques"],
                     rows, len(rows), "alert-evidence",
                     note=status_note(collection.results.get("alert-evidence")))


# The attack chart starts this long before the attacker's first logon and ends this long
# after the last alert, so the first and last marks are not on the frame.
WINDOW_MARGIN = timedelta(minutes=5)


def attack_window(analysis: Analysis) -> TimeRange | None:
    """Return the span from the attacker's first logon to the last alert, with margins.

    The whole range's chart squeezes an attack of an hour into one line when the range covers
    days, so a second chart draws this span. None when there is no logon or alert to bound
    it, or when the span is over a quarter of the timeline, which the first chart shows well.
    """
    alert_times = [a["time"] for a in analysis.alerts if a.get("time")]
    start = analysis.review.intrusion if analysis.review else None
    if not start or not alert_times or not analysis.timeline:
        return None
    end = max(alert_times)
    if end <= start:
        return None
    span = analysis.timeline[-1].time - analysis.timeline[0].time
    if (end - start) * 4 > span:
        return None
    return TimeRange(start - WINDOW_MARGIN, end + WINDOW_MARGIN)


def build_context(collection: Collection, analysis: Analysis, meta: dict[str, Any],
                  images: Path | None = None) -> dict[str, Any]:
    """Return everything the dossier template needs; `meta` contains the cover's facts."""
    from irreport.analysis.timeline_chart import timeline_chart

    images = images or Path(tempfile.mkdtemp(prefix="irreport-images-"))
    images.mkdir(parents=True, exist_ok=True)
    chart = images / "timeline.png"
    bursts = shown_bursts(analysis)
    timeline_chart(analysis.timeline, chart, bursts=bursts)
    window = attack_window(analysis)
    attack_chart = None
    if window:
        attack_chart = images / "timeline-attack.png"
        timeline_chart([e for e in analysis.timeline if window.start <= e.time <= window.end],
                       attack_chart,
                       bursts=[b for b in bursts if window.start <= b.start <= window.end])
    timeline_table, timeline_more = timeline_view(analysis, collection.devices)
    severities = Counter(f.severity for f in analysis.findings)
    malicious = Counter(r.get("Category") for r in collection.rows("malicious-activity"))
    review = analysis.review
    return {
        "meta": {**meta, "version": __version__,
                 "query_count": len(collection.results),
                 "failed_count": sum(1 for r in collection.results.values() if not r.ok)},
        "summary": _summary_view(analysis),
        "review": {"first_malicious": _time(review.first_malicious),
                   "first_alert": _time(review.first_alert),
                   "first_alert_text": _time(review.first_alert) or _no_alert_text(collection),
                   "lessons": review.lessons,
                   "detections": review.detections, "time_to_alert": review.time_to_alert,
                   "intrusion": _time(review.intrusion)},
        "time_to_alert_text": duration_text(review.time_to_alert),
        "intrusion_to_alert_text": duration_text(review.intrusion_to_alert),
        "finding_counts": [(s, severities[s]) for s in ("High", "Medium", "Low") if severities[s]],
        "findings": [finding_view(f) for f in analysis.findings],
        "views": _result_views(collection, analysis),
        "alerts_view": alerts_view(analysis, collection),
        "malicious_counts": sorted(malicious.items(), key=lambda kv: -kv[1]),
        "configuration_gaps": analysis.configuration_gaps,
        "gaps": gap_rows(collection),
        "empty_queries": [r.query_id for r in collection.results.values() if r.status == EMPTY],
        "source_warnings": list(collection.source_provenance.get("warnings", [])),
        "process_focus": process_focus(analysis.graph, images) if analysis.graph is not None else [],
        "timeline_chart": data_uri(chart) if chart.exists() else None,
        "attack_chart": data_uri(attack_chart) if attack_chart else None,
        "attack_window": window.label() if window else "",
        "timeline_view": timeline_table,
        "timeline_total": len(analysis.timeline),
        "timeline_more": timeline_more,
        "bursts": analysis.bursts,
        "bursts_view": bursts_view(bursts, len(analysis.bursts)),
        "indicators_view": indicators_view(analysis),
        "actions": analysis.actions,
        "automation": analysis.automation,
        "disruption_advice": DISRUPTION_ADVICE,
        "appendix": _appendix(collection),
    }


def _result_views(collection: Collection, analysis: Analysis) -> dict[str, TableView]:
    indicators = _indicator_values(analysis)
    return {query_id: result_view(collection.results.get(query_id), query_id, indicators)
            for query_id in DISPLAY}


def _indicator_values(analysis: Analysis) -> frozenset[str]:
    # An account names most of a device's own rows, so matching it would put nearly every
    # row first.
    return frozenset(i.value.lower() for i in analysis.indicators if i.kind != "Account")


def _no_alert_text(collection: Collection) -> str:
    alerts = collection.results.get("alert-evidence")
    if alerts is None or not alerts.ok:
        return "alerts not collected; see What could not be seen"
    return "no alert in range"


def _summary_view(analysis: Analysis) -> dict[str, Any]:
    summary = analysis.summary
    return {"sentences": summary.sentences, "first_malicious": _time(summary.first_malicious),
            "last_malicious": _time(summary.last_malicious), "devices": summary.devices,
            "accounts": summary.accounts}


def _appendix(collection: Collection) -> list[dict[str, Any]]:
    runs = []
    for query_id, result in collection.results.items():
        query = collection.queries.get(query_id)
        seconds = result.duration_seconds
        runs.append({
            "id": query_id, "title": query.title if query else query_id,
            "status": result.status, "rows": len(result.rows),
            "duration": f"{seconds:.2f} s" if seconds is not None else "not run",
            "retries": result.retries, "truncated": result.truncated,
            "message": result.message, "text": result.text or (query.body if query else ""),
        })
    return runs


def _time(value) -> str:
    return iso_time(value) if value else ""
