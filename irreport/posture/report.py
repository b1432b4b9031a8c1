"""The posture report job: collect two weeks, compute the figures, write the report folder.

The folder `<out>/posture-<ISO week>/` contains the HTML and PDF report, the summary JSON that the
next run compares with, each query's raw result under `evidence/` and `manifest.json`. It is
built under a temporary name and renamed into place when complete, like a dossier.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irreport.collect import Collection, Progress, collect
from irreport.errors import QueryPackError
from irreport.evidence import (AtomicFolder, build_manifest, core_hash, evidence_hashes,
                               query_records, seal, write_evidence)
from irreport.pack import QueryPack
from irreport.posture.figures import PostureWeek, posture_week
from irreport.posture.summary import (SUMMARY_SUFFIX, Change, build_summary, compare,
                                      find_previous, method_changes, write_summary)
from irreport.posture.weeks import prune, report_name, week_before, week_label
from irreport.sources import Source, utcnow
from irreport.textsafe import iso_time
from irreport.timerange import TimeRange

FORMATS = ("html", "pdf")
WEEK_BEFORE_SUFFIX = ".week-before"


@dataclass
class PostureRequest:
    """The options of one `irreport posture` run."""

    out_dir: Path
    device_groups: list[str] = field(default_factory=list)
    formats: tuple[str, ...] = FORMATS
    force: bool = False
    keep: int | None = None
    tlp: str = "AMBER"
    automation_levels: dict[str, Any] | None = None


@dataclass
class PostureOutcome:
    folder: Path
    week: str
    figures: PostureWeek
    changes: list[Change]
    method_notes: list[str]
    collections: tuple[Collection, Collection]
    pruned: list[Path]
    refused_urls: list[str]

    gaps: list[dict[str, str]] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        return not self.gaps

# The posture command has no --name: a report is named by its ISO week.
OTHER_PLACE = "--out to write the report into another folder"


def posture_query_ids(pack: QueryPack) -> list[str]:
    """Return the pack queries that declare `report: posture`, or raise if there are none."""
    ids = [q.id for q in pack if q.extra.get("report") == "posture"]
    if not ids:
        raise QueryPackError(f"the query pack in {pack.folder} has no query with "
                             "'// report: posture'; use the pack bundled with irreport")
    return ids


def posture_pack_version(pack: QueryPack, ids: list[str]) -> str:
    """Hash only the posture queries, so that editing an incident query changes no trend."""
    digest = hashlib.sha256()
    for query_id in sorted(ids):
        path = pack.get(query_id).path
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def collect_weeks(pack: QueryPack, source: Source, time_range: TimeRange,
                  device_groups: list[str],
                  progress: Progress | None = None) -> tuple[Collection, Collection]:
    """Run the posture queries over the range and over the week before it.

    Every query is fleet-scoped, so each runs once per range whatever the fleet's size.
    """
    ids = posture_query_ids(pack)
    overrides = {"DeviceGroups": list(device_groups)} if device_groups else {}
    current = collect(pack, source, [], time_range, overrides, only=ids, progress=progress)
    before = collect(pack, source, [], week_before(time_range), overrides, only=ids,
                     progress=progress)
    return current, before


def check_report_folder(request: PostureRequest, time_range: TimeRange) -> None:
    """Raise when the week's report folder exists and --force is not set, before collecting."""
    AtomicFolder(request.out_dir / report_name(week_label(time_range)), force=request.force,
                 other_place=OTHER_PLACE).check_target()


def build_posture_report(request: PostureRequest, source: Source, pack: QueryPack,
                         time_range: TimeRange,
                         progress: Progress | None = None) -> PostureOutcome:
    """Collect, compute and render the report of the week that *time_range* covers."""
    check_report_folder(request, time_range)
    current, before = collect_weeks(pack, source, time_range, request.device_groups, progress)
    return write_posture_report(request, pack, current, before)


def write_posture_report(request: PostureRequest, pack: QueryPack, current: Collection,
                         before: Collection) -> PostureOutcome:
    """Compute the figures of two collected weeks and write the report folder."""
    label = week_label(current.time_range)
    atomic = AtomicFolder(request.out_dir / report_name(label), force=request.force,
                          other_place=OTHER_PLACE)
    figures = posture_week(current, "this week", before)
    before_figures = posture_week(before, "week before")
    group_gaps = unmatched_group_gaps(current, request.device_groups, label)
    meta = _meta(request, current, label, posture_pack_version(pack, list(current.results)))
    summary = build_summary(figures, meta)
    earlier, _ = find_previous(request.out_dir, label)
    changes = compare(figures, earlier)
    notes = method_changes(summary, earlier)
    with atomic as work:
        name = report_name(label)
        write_summary(summary, work / f"{name}{SUMMARY_SUFFIX}")
        manifest = _write_evidence(current, before, work, meta)
        meta["manifest_hash"] = manifest["core_sha256"]
        refused = _render(figures, before_figures, changes, notes, earlier, meta, request,
                          current, before, work / name, [g["message"] for g in group_gaps])
        seal(manifest, work)
    pruned = prune(request.out_dir, request.keep) if request.keep else []
    return PostureOutcome(atomic.target, label, figures, changes, notes, (current, before),
                          pruned, refused, figures.gaps + before_figures.gaps + group_gaps)


def unmatched_group_gaps(current: Collection, groups: list[str],
                         label: str) -> list[dict[str, str]]:
    """Return a gap for each requested machine group that no row of the week names.

    A misspelled group matches no device, and its report would read as a quiet week.
    """
    seen = {row.get("MachineGroup") for result in current.results.values() for row in result.rows}
    return [{"query": f"device group {group!r}", "week": label, "status": "no data",
             "message": f"no posture query returned a device of machine group {group!r}; check "
                        "the name as the Defender portal shows it (names are case-sensitive)"}
            for group in groups if group not in seen]


def _meta(request: PostureRequest, current: Collection, label: str,
          pack_version: str) -> dict[str, Any]:
    provenance = current.source_provenance
    return {
        "week": label,
        "time_range": current.time_range,
        "device_groups": list(request.device_groups),
        "source_kind": current.source_kind,
        "source_label": provenance.get("label") or current.source_kind,
        "pack_version": pack_version,
        "generated_at": iso_time(utcnow()),
        "tlp": request.tlp,
    }


def _write_evidence(current: Collection, before: Collection, work: Path,
                    meta: dict[str, Any]) -> dict[str, Any]:
    """Write both weeks' raw results and return the manifest core, which covers both."""
    both = Collection(devices=[], time_range=current.time_range,
                      source_kind=current.source_kind,
                      source_provenance=current.source_provenance,
                      pack_version=meta["pack_version"])
    for collection, suffix in ((current, ""), (before, WEEK_BEFORE_SUFFIX)):
        for query_id, result in collection.results.items():
            both.results[query_id + suffix] = result
            both.queries[query_id + suffix] = collection.queries[query_id]
    evidence = work / "evidence"
    files = write_evidence(both, evidence)
    hashes = evidence_hashes(work)
    manifest = build_manifest(both, work, query_records(both, evidence, files, hashes),
                              meta["generated_at"], hashes)
    manifest["report"] = {
        "kind": "posture", "week": meta["week"], "device_groups": meta["device_groups"],
        "week_before": {"start": iso_time(before.time_range.start),
                        "end": iso_time(before.time_range.end)},
    }
    manifest["core_sha256"] = core_hash(manifest)
    return manifest


def _render(figures: PostureWeek, before_figures: PostureWeek, changes: list[Change],
            notes: list[str], earlier: dict[str, Any] | None, meta: dict[str, Any],
            request: PostureRequest, current: Collection, before: Collection,
            stem: Path, warnings: list[str]) -> list[str]:
    from irreport.render.html import render_html
    from irreport.render.pdf import render_pdf
    from irreport.render.posture_context import build_posture_context

    with tempfile.TemporaryDirectory(prefix="irreport-posture-") as images:
        context = build_posture_context(
            figures, before_figures, changes, notes, earlier, meta,
            request.automation_levels, (current, before), Path(images))
        context["gaps"]["warnings"].extend(warnings)
        html = render_html("posture.html.j2", context)
    refused: list[str] = []
    if "html" in request.formats:
        stem.with_suffix(".html").write_text(html, encoding="utf-8")
    if "pdf" in request.formats:
        refused = render_pdf(html, stem.with_suffix(".pdf"))
    return refused
