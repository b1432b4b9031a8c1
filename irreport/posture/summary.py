"""The machine-readable summary each run stores, and the change since the previous run.

The summary lies beside the report as `posture-<week>.summary.json`. The next run reads the
newest summary of an earlier week in the same output folder and shows how every headline figure
moved. It also warns when the method changed (another query pack, source, device group filter
or range length), so that a reader does not take a change of method for a change of the fleet.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irreport.posture.figures import PostureWeek
from irreport.plural import counted
from irreport.posture.weeks import report_folders
from irreport.textsafe import iso_time

log = logging.getLogger(__name__)

SUMMARY_FORMAT = 1
SUMMARY_SUFFIX = ".summary.json"


@dataclass
class Change:
    """The movement of one headline figure between two weeks."""

    key: str
    label: str
    value: int
    previous: int | None
    lower_is_better: bool

    @property
    def delta(self) -> int | None:
        return None if self.previous is None else self.value - self.previous

    @property
    def direction(self) -> str:
        if self.delta is None:
            return "new"
        return "up" if self.delta > 0 else "down" if self.delta < 0 else "unchanged"

    @property
    def verdict(self) -> str:
        """Return better, worse or unchanged from the reader's point of view."""
        if not self.delta:
            return "unchanged" if self.delta == 0 else ""
        improved = (self.delta < 0) == self.lower_is_better
        return "better" if improved else "worse"

    @property
    def text(self) -> str:
        if self.delta is None:
            return "no earlier figure"
        if self.delta == 0:
            return "unchanged"
        arrow = "▲" if self.delta > 0 else "▼"
        return f"{arrow} {self.delta:+d} ({self.verdict})"


def build_summary(week: PostureWeek, meta: dict[str, Any]) -> dict[str, Any]:
    """Return the summary stored beside the report: headline figures and how they were made."""
    return {
        "format": SUMMARY_FORMAT,
        "week": meta["week"],
        "time_range": {"start": iso_time(meta["time_range"].start),
                       "end": iso_time(meta["time_range"].end)},
        "device_groups": meta["device_groups"],
        "source": {"kind": meta["source_kind"], "label": meta["source_label"]},
        "pack_version": meta["pack_version"],
        "generated_at": meta["generated_at"],
        "headline": {f.key: f.value for f in week.headline()},
        "labels": {f.key: f.label for f in week.headline()},
        "alerts_by_severity": dict(week.alerts_by("Severity")),
        "events_by_category": dict(week.events_by_category()),
        "compliance": {c.control: {"assessed": c.assessed, "compliant": c.compliant,
                                   "failing": [f["device"] for f in c.failing]}
                       for c in week.compliance},
        "gaps": week.gaps,
    }


def write_summary(summary: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(summary, indent=1, ensure_ascii=False, default=str),
                    encoding="utf-8")


def find_previous(out_dir: Path, week: str) -> tuple[dict[str, Any] | None, str]:
    """Return the newest readable summary of a week before *week*, and why none was used."""
    for folder in reversed(report_folders(out_dir)):
        label = folder.name.removeprefix("posture-")
        if label >= week:
            continue
        path = folder / f"{folder.name}{SUMMARY_SUFFIX}"
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("cannot read the earlier summary %s: %s", path, exc)
            continue
        if summary.get("format") == SUMMARY_FORMAT:
            return summary, ""
        log.warning("%s has summary format %r; expected %d", path, summary.get("format"),
                    SUMMARY_FORMAT)
    return None, f"no earlier report in {out_dir}"


def compare(week: PostureWeek, previous: dict[str, Any] | None) -> list[Change]:
    """Return the change of every headline figure since *previous*, a stored summary."""
    earlier = (previous or {}).get("headline", {})
    return [Change(f.key, f.label, f.value, earlier.get(f.key), f.lower_is_better)
            for f in week.headline()]


def method_changes(current: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    """Return sentences naming each difference in how the two reports were made."""
    if not previous:
        return []
    notes = []
    if previous.get("pack_version") != current["pack_version"]:
        notes.append(f"The posture queries changed (pack version {previous.get('pack_version')} "
                     f"then, {current['pack_version']} now).")
    before, now = previous.get("source", {}), current["source"]
    if (before.get("kind"), before.get("label")) != (now["kind"], now["label"]):
        notes.append(f"The source changed ({before.get('label') or before.get('kind')} then, "
                     f"{now['label']} now).")
    if sorted(previous.get("device_groups") or []) != sorted(current["device_groups"]):
        shown = ", ".join(previous.get("device_groups") or []) or "all groups"
        notes.append(f"The device groups changed ({shown} then, "
                     f"{', '.join(current['device_groups']) or 'all groups'} now).")
    span = _days(previous.get("time_range"))
    if span is not None and span != _days(current["time_range"]):
        notes.append(f"The range length changed ({counted(span, 'day')} then, "
                     f"{counted(_days(current['time_range']), 'day')} now).")
    return notes


def _days(time_range: dict[str, str] | None) -> float | None:
    from irreport.timerange import parse_instant

    if not time_range:
        return None
    start, end = parse_instant(time_range["start"]), parse_instant(time_range["end"])
    return (end - start).total_seconds() / 86400
