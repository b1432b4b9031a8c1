"""The main job: collect the pack for some devices, analyse it and write the dossier folder."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from irreport.analysis.pipeline import Analysis, analyse
from irreport.analysis.timeline import TimelineEvent
from irreport.collect import Collection, Progress, collect, find_unseen_devices
from irreport.errors import ConfigurationError
from irreport.evidence import (AtomicFolder, build_manifest, evidence_hashes, query_records,
                               seal, write_evidence)
from irreport.memory import collector_paused, existing_objects_frozen
from irreport.output import BLOCK_ROWS, write_csv_columns
from irreport.pack import QueryPack
from irreport.sources import Source, utcnow
from irreport.textsafe import iso_time, json_ready

FORMATS = ("html", "pdf")
# The columns of evidence/timeline.csv, each an attribute of TimelineEvent.
TIMELINE_COLUMNS = ["time", "until", "device", "table", "category", "action", "process",
                    "account", "target", "details", "query_id", "alert"]
TLP_LEVELS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")


@dataclass
class BuildRequest:
    """The options of one `irreport build` run."""

    devices: list[str]
    out_dir: Path
    name: str | None = None
    formats: tuple[str, ...] = FORMATS
    force: bool = False
    tlp: str = "AMBER"
    device_groups: dict[str, Any] | None = None
    overrides: dict[str, Any] | None = None
    incident: dict[str, Any] | None = None


@dataclass
class BuildOutcome:
    folder: Path
    manifest: dict[str, Any]
    collection: Collection
    analysis: Analysis
    refused_urls: list[str]

    @property
    def all_ok(self) -> bool:
        return self.collection.all_ok


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigurationError(f"--format {text!r} is not a list of html and pdf; write "
                                 "html,pdf or one of them")
    return formats


def check_tlp(value: str) -> str:
    level = value.strip().upper().removeprefix("TLP:")
    if level not in TLP_LEVELS:
        raise ConfigurationError(f"--tlp {value!r} is not one of {', '.join(TLP_LEVELS)}")
    return level


def folder_name(devices: list[str], end) -> str:
    """Return a file-system-safe folder name from device names, which the user typed.

    The name has no separator, no `..` and no leading dot, which would hide it among the
    work folders of unfinished builds.
    """
    joined = "+".join(devices)[:80] or "dossier"
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", joined)
    safe = re.sub(r"\.{2,}", ".", safe).strip(".") or "dossier"
    return f"{safe}_{end:%Y-%m-%d}"


def check_name(name: str) -> str:
    """Return *name* when it can be a dossier folder inside the output folder, else raise."""
    if (not name or name in (".", "..") or name.startswith(".") or "/" in name
            or "\\" in name or "\0" in name):
        raise ConfigurationError(
            f"--name {name!r} is not a folder name; give a plain name without slashes or a "
            "leading dot, such as case-2026-014")
    return name


def incident_query_ids(pack: QueryPack) -> list[str]:
    """Return the queries the dossier runs: those no other report (such as posture) claims."""
    return [query.id for query in pack if "report" not in query.extra]


def dossier_folder(request: BuildRequest, time_range) -> AtomicFolder:
    """Return the dossier's folder for *request*; raises when it exists and --force is not set.

    The command calls this before collecting, so that a name already taken fails at once.
    """
    name = check_name(request.name) if request.name is not None else None
    target = request.out_dir / (name or folder_name(request.devices, time_range.end))
    atomic = AtomicFolder(target, force=request.force)
    atomic.check_target()
    return atomic


def build_dossier(request: BuildRequest, source: Source, pack: QueryPack, time_range,
                  progress: Progress | None = None) -> BuildOutcome:
    """Collect, analyse and render; the folder appears only once everything is written."""
    from irreport.analysis.process_graph import KEPT_ARRAYS

    atomic = dossier_folder(request, time_range)
    target = atomic.target
    collection = collect(pack, source, request.devices, time_range, request.overrides,
                         only=incident_query_ids(pack), progress=progress, keep_arrays=KEPT_ARRAYS)
    known = source.known_devices() if hasattr(source, "known_devices") else None
    covered = source.data_range() if hasattr(source, "data_range") else None
    find_unseen_devices(collection, known, covered)
    analysis = analyse(collection, request.device_groups)
    generated_at = iso_time(utcnow())
    with atomic as work:
        manifest = _write_evidence(collection, analysis, work, generated_at)
        with existing_objects_frozen():
            refused = _render(collection, analysis, request, manifest, work, generated_at)
        seal(manifest, work)
    return BuildOutcome(target, manifest, collection, analysis, refused)


def _write_evidence(collection: Collection, analysis: Analysis, work: Path,
                    generated_at: str) -> dict[str, Any]:
    from irreport.analysis import process_graph

    evidence = work / "evidence"
    # Writing converts millions of values a block at a time, and each full collection would
    # walk every result row again although nothing here makes a reference cycle.
    with collector_paused():
        files = write_evidence(collection, evidence)
        if analysis.graph is not None:
            process_graph.write_graph(analysis.graph, evidence)
        _write_derived(analysis, evidence)
    hashes = evidence_hashes(work)
    records = query_records(collection, evidence, files, hashes)
    return build_manifest(collection, work, records, generated_at, hashes)


def _write_derived(analysis: Analysis, evidence: Path) -> None:
    """Write the timeline, findings and indicators beside the raw results."""
    with (evidence / "timeline.csv").open("w", encoding="utf-8", newline="") as handle:
        write_csv_columns(TIMELINE_COLUMNS, _timeline_blocks(analysis.timeline), handle)
    findings = [{
        "rule": f.rule, "title": f.title, "statement": f.statement, "severity": f.severity,
        "techniques": f.techniques, "phase": f.phase, "first_seen": f.first_seen,
        "last_seen": f.last_seen, "devices": f.devices, "accounts": f.accounts,
        "evidence": [{"query": e.query_id, "rows": e.rows} for e in f.evidence],
    } for f in analysis.findings]
    (evidence / "findings.json").write_text(
        json.dumps(json_ready(findings), ensure_ascii=False, indent=1), encoding="utf-8")
    indicators = [{"kind": i.kind, "value": i.value, "context": i.context,
                   "first_seen": i.first_seen, "found_by": i.rules} for i in analysis.indicators]
    (evidence / "indicators.json").write_text(
        json.dumps(json_ready(indicators), ensure_ascii=False, indent=1), encoding="utf-8")


def _timeline_blocks(events: list[TimelineEvent]) -> Iterator[list[list[Any]]]:
    """Yield the timeline's events in blocks of `BLOCK_ROWS`, each as one list per column."""
    for start in range(0, len(events), BLOCK_ROWS):
        block = events[start:start + BLOCK_ROWS]
        yield [list(map(attrgetter(name), block)) for name in TIMELINE_COLUMNS]


def _render(collection: Collection, analysis: Analysis, request: BuildRequest,
            manifest: dict[str, Any], work: Path, generated_at: str) -> list[str]:
    from irreport.render.context import build_context
    from irreport.render.html import render_html
    from irreport.render.pdf import render_pdf

    provenance = collection.source_provenance
    meta = {
        "title": f"Incident dossier: {', '.join(collection.devices)}",
        "devices": collection.devices,
        "time_range": collection.time_range.label(),
        "source_label": provenance.get("label") or collection.source_kind,
        "source_kind": collection.source_kind,
        "is_sample": collection.source_kind == "sample",
        "generated_at": generated_at,
        "tlp": request.tlp,
        "manifest_hash": manifest["core_sha256"],
        "pack_version": collection.pack_version,
        "incident": request.incident,
    }
    with tempfile.TemporaryDirectory(prefix="irreport-images-") as images:
        context = build_context(collection, analysis, meta, Path(images))
        html = render_html("dossier.html.j2", context)
    refused: list[str] = []
    if "html" in request.formats:
        (work / "dossier.html").write_text(html, encoding="utf-8")
    if "pdf" in request.formats:
        refused = render_pdf(html, work / "dossier.pdf")
    return refused
