"""Assembling the template context of the weekly posture report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from irreport import __version__
from irreport.analysis.settings import DISRUPTION_ADVICE, automation_advice
from irreport.collect import Collection
from irreport.posture import charts
from irreport.posture.figures import CATEGORIES, SEVERITIES, PostureWeek
from irreport.posture.summary import Change
from irreport.render.context import data_uri
from irreport.render.views import TableView, cell, table_view
from irreport.textsafe import iso_time

RUN_KEY_ROWS = 40
EXPOSURE_ROWS = 40
SENSOR_ROWS = 60
# Device names shown in one table cell; the rest are counted, and the evidence lists them all.
NAMES_SHOWN = 30
# Facts no posture query can supply, listed under "What could not be seen" every week.
LIMITATIONS = [
    "Alert and incident status (new, in progress, resolved) is not in the Advanced Hunting "
    "tables; read it in the Defender portal's incident queue or from the Microsoft Graph "
    "incidents API.",
    "Incidents are not in the Advanced Hunting tables either; the alert counts above are "
    "counts of alerts, not of incidents.",
    "No Microsoft API reports a device group's automation level; the levels shown come from "
    "[device_groups] in irreport.toml.",
]


def comparison_rows(current: Counter, before: Counter, order: tuple[str, ...] = ()) -> list:
    """Return (name, this week, week before, change) rows, known names first."""
    names = [n for n in order if current[n] or before[n]]
    names += sorted(n for n in set(current) | set(before) if n not in names)
    return [(n, current[n], before[n], _signed(current[n] - before[n])) for n in names]


def _signed(delta: int) -> str:
    return f"{delta:+d}" if delta else "0"


def headline_rows(figures: PostureWeek, before: PostureWeek,
                  changes: list[Change]) -> list[dict[str, Any]]:
    earlier = {f.key: f.value for f in before.headline()}
    rows = []
    for figure, change in zip(figures.headline(), changes):
        rows.append({"label": figure.label, "value": figure.value,
                     "week_before": earlier[figure.key],
                     "week_before_change": _signed(figure.value - earlier[figure.key]),
                     "since_last": change.text, "verdict": change.verdict})
    return rows


def named_devices(names: list[str]) -> str:
    """Join up to NAMES_SHOWN device names and count the rest."""
    shown = ", ".join(names[:NAMES_SHOWN])
    hidden = len(names) - NAMES_SHOWN
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def compliance_rows(figures: PostureWeek) -> list[dict[str, Any]]:
    rows = []
    for control in figures.compliance:
        if control.control == "ASR rules in block mode":
            names = [f"{f['device']} ({f['configurations']})" for f in control.failing]
        else:
            names = [f["device"] for f in control.failing]
        rows.append({"control": control.control, "compliant": control.compliant,
                     "assessed": control.assessed, "percent": control.percent,
                     "failing": named_devices(names) or "none"})
    return rows


def automation_rows(figures: PostureWeek,
                    automation_levels: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{**vars(advice), "devices": named_devices(advice.devices)}
            for advice in automation_advice(figures.devices, automation_levels)]


def exposure_view(figures: PostureWeek) -> TableView:
    rows = [[cell(r["DeviceName"]), cell(r["Service"]), cell(r["LocalPort"]),
             cell(r["RemoteAddresses"]), cell(r["Connections"]),
             cell(iso_time(r["FirstSeen"])), cell(iso_time(r["LastSeen"]))]
            for r in figures.exposure[:EXPOSURE_ROWS]]
    return TableView(["Device", "Service", "Port", "Public addresses", "Connections",
                      "First seen", "Last seen"], rows, len(figures.exposure),
                     "posture-exposure")


def top_devices_view(figures: PostureWeek) -> TableView:
    rows = []
    for item in figures.top_devices():
        shown = ", ".join(f"{c} {item['categories'][c]}" for c in CATEGORIES
                          if item["categories"].get(c))
        rows.append([cell(item["device"]), cell(item["total"]), cell(shown)])
    return TableView(["Device", "Events", "By category"], rows, len(rows),
                     "posture-malicious-activity")


def sensor_view(figures: PostureWeek) -> TableView:
    rows = [[cell(i["device"]), cell(i["group"]), cell(i["issue"]), cell(i["state"]),
             cell(iso_time(i["last_seen"]) if i["last_seen"] else "")]
            for i in figures.sensor_issues[:SENSOR_ROWS]]
    return TableView(["Device", "Device group", "Issue", "Reported state", "Last report"],
                     rows, len(figures.sensor_issues), "posture-sensor-health")


def gap_list(collections: tuple[Collection, Collection],
             weeks: tuple[PostureWeek, PostureWeek]) -> dict[str, Any]:
    failures = [g for week in weeks for g in week.gaps]
    empty = [f"{q} ({label})" for week, label in zip(weeks, ("this week", "week before"))
             for q in week.empty]
    warnings = list(collections[0].source_provenance.get("warnings", []))
    return {"failures": failures, "empty": empty, "warnings": warnings,
            "limitations": LIMITATIONS}


def appendix(collections: tuple[Collection, Collection]) -> list[dict[str, Any]]:
    runs = []
    for collection, label in zip(collections, ("this week", "week before")):
        for query_id, result in collection.results.items():
            seconds = result.duration_seconds
            runs.append({"id": query_id, "week": label, "status": result.status,
                         "rows": len(result.rows),
                         "duration": f"{seconds:.2f} s" if seconds is not None else "not run",
                         "title": collection.queries[query_id].title})
    return runs


def chart_uris(figures: PostureWeek, meta: dict[str, Any], images: Path) -> dict[str, str]:
    drawn = {
        "trend": charts.draw_daily_trend(figures, meta["time_range"], images / "trend.png"),
        "compliance": charts.draw_compliance(figures, images / "compliance.png"),
        "top_devices": charts.draw_top_devices(figures, images / "top-devices.png"),
    }
    return {name: data_uri(path) for name, path in drawn.items()}


def build_posture_context(figures: PostureWeek, before: PostureWeek, changes: list[Change],
                          method_notes: list[str], earlier: dict[str, Any] | None,
                          meta: dict[str, Any], automation_levels: dict[str, Any] | None,
                          collections: tuple[Collection, Collection],
                          images: Path) -> dict[str, Any]:
    """Return everything the posture template needs; `meta` contains the cover's facts."""
    time_range = meta["time_range"]
    return {
        "meta": {**meta, "version": __version__, "time_range": time_range.label(),
                 "week_before_range": collections[1].time_range.label(),
                 "is_sample": meta["source_kind"] == "sample",
                 "title": f"Weekly posture report {meta['week']}",
                 "groups": ", ".join(meta["device_groups"]) or "all device groups"},
        "headline": headline_rows(figures, before, changes),
        "earlier_week": earlier.get("week") if earlier else None,
        "method_notes": method_notes,
        "alerts_severity": comparison_rows(figures.alerts_by("Severity"),
                                           before.alerts_by("Severity"), SEVERITIES),
        "alerts_category": comparison_rows(figures.alerts_by("Category"),
                                           before.alerts_by("Category")),
        "alerts_source": comparison_rows(figures.alerts_by("DetectionSource"),
                                         before.alerts_by("DetectionSource")),
        "malicious_categories": comparison_rows(figures.events_by_category(),
                                                before.events_by_category(), CATEGORIES),
        "top_devices": top_devices_view(figures),
        "charts": chart_uris(figures, meta, images),
        "exposure": exposure_view(figures),
        "run_keys": table_view(figures.run_keys, ["Timestamp", "DeviceName", "ActionType",
                                                  "RegistryValueName", "RegistryValueData",
                                                  "DevicesWithValue",
                                                  "InitiatingProcessFileName"],
                               RUN_KEY_ROWS, "posture-run-keys"),
        "compliance": compliance_rows(figures),
        "sensor": sensor_view(figures),
        "device_count": len(figures.devices),
        "automation": automation_rows(figures, automation_levels),
        "disruption_advice": DISRUPTION_ADVICE,
        "gaps": gap_list(collections, (figures, before)),
        "appendix": appendix(collections),
    }
